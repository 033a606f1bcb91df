"""Search across the vocabulary, sources and claims (Query.search): typeahead for clients."""

from __future__ import annotations

import strawberry

from api.graphql.errors import ClientError
from api.graphql.types.common import GraphQLInfo, Node
from api.graphql.types.enums import SearchKind
from api.graphql.types.fields import RowObject
from api.graphql.types.nodes import BY_NAME
from api.store.queries.claims import visible
from api.store.queries.relations import entity
from api.store.search import search
from schema.search import MAX_SEARCH_TEXT

MAX_HITS = 50


@strawberry.type(description="A search hit: the node, its display label, the name or alias that matched.")
class SearchHit:
    kind: SearchKind
    node: Node
    label: str = strawberry.field(description="How the node is usually named (a symbol, a title...).")
    matched: str = strawberry.field(description="The name, alias, CURIE or text that matched.")
    score: float = strawberry.field(
        description="1 for an exact name, less for a prefix, a substring, a close name, then text."
    )


async def resolve_search(
    info: GraphQLInfo, text: str, kinds: list[SearchKind] | None, first: int | None
) -> list[SearchHit]:
    if len(text) > MAX_SEARCH_TEXT:
        raise ClientError(f"text is {len(text)} characters; at most {MAX_SEARCH_TEXT} are allowed")
    limit = 10 if first is None else first
    if not 0 <= limit <= MAX_HITS:
        raise ClientError(f"first must be between 0 and {MAX_HITS}; got {limit}")
    if not text.strip() or limit == 0:
        return []
    ctx = info.context
    async with ctx.db.read() as session:
        hits = await search(session, text, kinds, visible(ctx.visibility), limit)
    out: list[SearchHit] = []
    for hit in hits:
        node_type = BY_NAME[hit.kind.value.title()]  # TARGET → Target, ...
        assert issubclass(node_type, RowObject)
        label = entity(node_type.__entity__).label
        assert label is not None
        row = await ctx.loaders.rows(node_type.__entity__).load(hit.entity_id)
        if row is None:  # gone since the search (a concurrent change): not shown
            continue
        out.append(
            SearchHit(
                kind=hit.kind,
                node=node_type.from_row(row),
                label=getattr(row, label),
                matched=hit.matched,
                score=round(hit.score, 4),
            )
        )
    return out
