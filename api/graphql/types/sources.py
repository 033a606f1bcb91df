"""Sources (documents), their cohorts, and users."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.types.common import Connection, GraphQLInfo, Node
from api.graphql.types.enums import Role, SourceKind, SourceStanding
from api.graphql.types.fields import RowObject, listed, related
from api.graphql.types.vocabulary import Condition, Organism
from api.store.queries.claims import ClaimScope
from schema import tables as t

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]


async def _source_claims(
    root: Source, info: GraphQLInfo, first: int | None = None, after: str | None = None
) -> Connection[ClaimRef]:
    from api.graphql.types.claims import resolve_claims

    return await resolve_claims(
        info, None, None, first, after, None, None, ClaimScope(source_id=root._row.id)
    )


@strawberry.type(description="A document claims come from: a paper, review, trial, post, comment...")
class Source(RowObject, Node):
    __entity__ = "source"
    kind: SourceKind
    title: str
    authors: list[str]
    venue: str | None
    year: int | None
    published: date | None
    doi: str | None = strawberry.field(description="Lower case, without https://doi.org/.")
    pmid: str | None
    url: str | None
    peer_reviewed: bool = strawberry.field(description="False means not known to be peer reviewed.")
    ai_generated: bool
    derived_from: Source | None = related(
        "derived_from", description="The source this one reports on (a blog post → the paper it retells)."
    )
    claims: Connection[ClaimRef] = strawberry.field(
        resolver=_source_claims, description="The claims this source states."
    )
    cohorts: list[Cohort] = listed("cohorts", description="The study populations this source describes.")
    standing: SourceStanding = strawberry.field(
        description="What became of it since (its own; claims inherit the worst along the chain)."
    )
    standing_note: str | None = strawberry.field(
        description="What the correction, concern or retraction says."
    )
    standing_since: date | None = strawberry.field(description="When its standing last changed.")
    _row: strawberry.Private[t.Source]


@strawberry.type(description="A study population of a source: e.g. treatment-naive RRMS, n = 22, CSF.")
class Cohort(RowObject, Node):
    __entity__ = "cohort"
    label: str
    size: int | None
    female_count: int | None
    treatment_status: str | None
    sample_type: str | None
    organism: Organism = related("organism")
    condition: Condition | None = related("condition")
    source: Source = related("source")
    _row: strawberry.Private[t.Cohort]


@strawberry.type(description="A person or service account using claimsdb.")
class User(RowObject, Node):
    __entity__ = "user"
    name: str
    role: Role
    orcid: str | None
    _row: strawberry.Private[t.User]
