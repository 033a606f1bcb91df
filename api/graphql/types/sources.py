"""Sources (documents), their cohorts, and users."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.types.common import Connection, GraphQLInfo, Node
from api.graphql.types.enums import Role, SourceKind
from api.graphql.types.vocabulary import Condition, Organism
from api.store.ids import to_global_id
from api.store.queries.claims import ClaimScope
from schema import tables as t

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]


@strawberry.type(description="A document claims come from: a paper, review, trial, post, comment...")
class Source(Node):
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
    _row: strawberry.Private[t.Source]

    @classmethod
    def from_row(cls, row: t.Source) -> Source:
        return cls(
            id=to_global_id("Source", row.id),
            kind=row.kind,
            title=row.title,
            authors=list(row.authors or []),
            venue=row.venue,
            year=row.year,
            published=row.published,
            doi=row.doi,
            pmid=row.pmid,
            url=row.url,
            peer_reviewed=row.peer_reviewed,
            ai_generated=row.ai_generated,
            _row=row,
        )

    @strawberry.field(description="The source this one reports on (a blog post → the paper it retells).")
    async def derived_from(self, info: GraphQLInfo) -> Source | None:
        if self._row.derived_from_id is None:
            return None
        return Source.from_row(await info.context.loaders.source.load(self._row.derived_from_id))

    @strawberry.field(description="The claims this source states.")
    async def claims(
        self, info: GraphQLInfo, first: int | None = None, after: str | None = None
    ) -> Connection[ClaimRef]:
        from api.graphql.types.claims import resolve_claims

        return await resolve_claims(
            info, None, None, first, after, None, None, ClaimScope(source_id=self._row.id)
        )

    @strawberry.field(description="The study populations this source describes.")
    async def cohorts(self, info: GraphQLInfo) -> list[Cohort]:
        return [Cohort.from_row(r) for r in await info.context.loaders.cohorts_by_source.load(self._row.id)]


@strawberry.type(description="A study population of a source: e.g. treatment-naive RRMS, n = 22, CSF.")
class Cohort(Node):
    label: str
    size: int | None
    female_count: int | None
    treatment_status: str | None
    sample_type: str | None
    _row: strawberry.Private[t.Cohort]

    @classmethod
    def from_row(cls, row: t.Cohort) -> Cohort:
        return cls(
            id=to_global_id("Cohort", row.id),
            label=row.label,
            size=row.size,
            female_count=row.female_count,
            treatment_status=row.treatment_status,
            sample_type=row.sample_type,
            _row=row,
        )

    @strawberry.field
    async def organism(self, info: GraphQLInfo) -> Organism:
        return Organism.from_row(await info.context.loaders.organism.load(self._row.organism_id))

    @strawberry.field
    async def condition(self, info: GraphQLInfo) -> Condition | None:
        if self._row.condition_id is None:
            return None
        return Condition.from_row(await info.context.loaders.condition.load(self._row.condition_id))

    @strawberry.field
    async def source(self, info: GraphQLInfo) -> Source:
        return Source.from_row(await info.context.loaders.source.load(self._row.source_id))


@strawberry.type(description="A person or service account using claimsdb.")
class User(Node):
    name: str
    role: Role
    orcid: str | None

    @classmethod
    def from_row(cls, row: t.User) -> User:
        return cls(id=to_global_id("User", row.id), name=row.name, role=row.role, orcid=row.orcid)
