"""The compiled read path: a query operation answered by SQL that builds its JSON document.

The ordinary path runs every field through graphql-core and a resolver, nested objects through
DataLoaders (a page of 100 claims with its context is ~800 field resolutions and ~10 statements).
For the operations it supports, this path plans the whole operation from the validated document
(selection.py: fragments, aliases, variables, @skip/@include as graphql-core collects them),
builds each claim's document in one SQL statement (api/store/queries/documents.py, from the same
filter, visibility, ordering and keyset pagination as the resolvers use), and assembles the
response in Python (claims.py, objects.py, values.py). It is all or nothing per operation: one
unsupported field, argument or type, and the ordinary resolvers answer the whole of it, so a
response is never a mix of the two. Errors are the ordinary path's too: anything that raises
while planning or running (a bad cursor, bad paging arguments, an invalid token) sends the
operation to the ordinary path, which raises it again and reports it the usual way.

extension.py hooks it into Strawberry (CompiledQueries, added by build_schema when
`settings.compiled_queries`); report.py tells listeners (the tests) what happened.
"""

from api.graphql.compiled.extension import CompiledQueries
from api.graphql.compiled.report import Outcome, outcomes

__all__ = ["CompiledQueries", "Outcome", "outcomes"]
