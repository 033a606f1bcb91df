"""A whole query operation, compiled: every root field planned before anything runs.

Planning raises Unsupported at the first field the compiled path does not build, so either every
root field is compiled or the ordinary resolvers answer the whole operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from api.graphql.compiled.claims import plan_claims
from api.graphql.compiled.selection import Selection, Unsupported
from api.graphql.compiled.summary import plan_summary
from api.graphql.context import Context
from api.graphql.internals import strawberry_definition
from api.graphql.types.fields import SOURCE, ClaimListing

RootField = Callable[[Context], Awaitable[Any]]


@dataclass
class OperationPlan:
    fields: list[tuple[str, RootField]]

    async def run(self, context: Context) -> dict[str, Any]:
        # One root field after another: each opens its own read session, as its resolver would.
        return {key: await field(context) for key, field in self.fields}


def plan_operation(selection: Selection, schema: Any) -> OperationPlan:
    """`schema`: the Strawberry schema (its argument conversion is the resolvers')."""
    query_type = selection.schema.query_type
    assert query_type is not None
    fields: list[tuple[str, RootField]] = []
    compiled = False
    for key, details in selection.root_fields().items():
        name = details[0].node.name.value
        if name == "__typename":
            fields.append((key, _constant(query_type.name)))
        elif name in query_type.fields and isinstance(_source(query_type.fields[name]), ClaimListing):
            fields.append((key, plan_claims(selection, schema, query_type.fields[name], details).run))
            compiled = True
        elif name == "evidenceSummary":
            fields.append((key, plan_summary(selection, schema, query_type.fields[name], details).run))
            compiled = True
        else:
            raise Unsupported(f"root field {name}")
    if not compiled:  # `{ __typename }` alone, or every field skipped: nothing worth a plan
        raise Unsupported("nothing to compile")
    return OperationPlan(fields)


def _source(field: Any) -> Any:
    definition = strawberry_definition(field)
    return (definition.metadata or {}).get(SOURCE) if definition is not None else None


def _constant(value: str) -> RootField:
    async def field(_context: Context) -> str:
        return value

    return field
