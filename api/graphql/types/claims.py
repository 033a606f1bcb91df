"""Claims, their evidence, statistics and reviews; the one resolver every claim list uses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.graphql.inputs import ClaimFilter, ClaimOrder
from api.graphql.types.audit import AuditEvent, resolve_audit
from api.graphql.types.common import Connection, GraphQLInfo, Node, page_request, paged, to_connection
from api.graphql.types.conflicts import ConflictPair, resolve_claim_conflicts
from api.graphql.types.enums import (
    ClaimOrderField,
    ClaimStatus,
    EffectDirection,
    EvidenceType,
    Modality,
    OrderDirection,
    ReviewDecision,
    Stance,
)
from api.graphql.types.sources import Cohort, Source, User
from api.graphql.types.vocabulary import Condition, Intervention, Organism, Outcome, Target
from api.store.ids import to_global_id
from api.store.queries.audit import AuditFilterSpec
from api.store.queries.claims import ClaimFilterSpec, ClaimScope, claims_page
from api.store.queries.pagination import PageRequest
from schema import tables as t

ClaimSubject = Annotated[
    Target | Intervention,
    strawberry.union("ClaimSubject", description="What a claim is about: a target or an intervention."),
]


@strawberry.type(description="Optional statistics as the source reports them.")
class Statistics:
    effect_size: float | None
    effect_measure: str | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None


@strawberry.type(description="A verbatim quote from a source that backs (or disputes) a claim.")
class Evidence:
    quote: str = strawberry.field(description="The source's own words.")
    locator: str | None = strawberry.field(description="Where the quote stands (section, paragraph).")
    stance: Stance
    _row: strawberry.Private[t.Evidence]

    @strawberry.field
    async def source(self, info: GraphQLInfo) -> Source:
        return Source.from_row(await info.context.loaders.source.load(self._row.source_id))


@strawberry.type(description="A reviewer's decision on a claim.")
class Review:
    decision: ReviewDecision
    comment: str | None
    at: datetime
    _row: strawberry.Private[t.Review]

    @strawberry.field
    async def reviewer(self, info: GraphQLInfo) -> User | None:
        if self._row.reviewer_id is None:
            return None
        return User.from_row(await info.context.loaders.user.load(self._row.reviewer_id))


@strawberry.type(description="One finding as a source states it, with its context and evidence.")
class Claim(Node):
    statement: str = strawberry.field(description="The curator's paraphrase of the finding.")
    direction: EffectDirection = strawberry.field(description="As the source states it, for the subject.")
    modality: Modality
    evidence_type: EvidenceType
    sample_type: str | None
    status: ClaimStatus
    version: int = strawberry.field(
        description="Bumped by every change; updates name the version they expect."
    )
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[t.Claim]

    @classmethod
    def from_row(cls, row: t.Claim) -> Claim:
        return cls(
            id=to_global_id("Claim", row.id),
            statement=row.statement,
            direction=EffectDirection(row.direction),
            modality=row.modality,
            evidence_type=row.evidence_type,
            sample_type=row.sample_type,
            status=row.status,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            _row=row,
        )

    @strawberry.field
    async def subject(self, info: GraphQLInfo) -> ClaimSubject:
        loaders = info.context.loaders
        if self._row.subject_target_id is not None:
            return Target.from_row(await loaders.target.load(self._row.subject_target_id))
        return Intervention.from_row(await loaders.intervention.load(self._row.subject_intervention_id))

    @strawberry.field(description="What the claim bears on: its subject, or what its intervention acts on.")
    async def targets(self, info: GraphQLInfo) -> list[Target]:
        loaders = info.context.loaders
        links = await loaders.targets_by_claim.load(self._row.id)
        rows = await loaders.target.load_many([link.target_id for link in links])
        return [Target.from_row(r) for r in rows]

    @strawberry.field
    async def outcome(self, info: GraphQLInfo) -> Outcome:
        return Outcome.from_row(await info.context.loaders.outcome.load(self._row.outcome_id))

    @strawberry.field
    async def organism(self, info: GraphQLInfo) -> Organism:
        return Organism.from_row(await info.context.loaders.organism.load(self._row.organism_id))

    @strawberry.field
    async def condition(self, info: GraphQLInfo) -> Condition | None:
        if self._row.condition_id is None:
            return None
        return Condition.from_row(await info.context.loaders.condition.load(self._row.condition_id))

    @strawberry.field
    async def cohort(self, info: GraphQLInfo) -> Cohort | None:
        if self._row.cohort_id is None:
            return None
        return Cohort.from_row(await info.context.loaders.cohort.load(self._row.cohort_id))

    @strawberry.field(description="The population the cohort is compared with (e.g. healthy controls).")
    async def comparator(self, info: GraphQLInfo) -> Cohort | None:
        if self._row.comparator_id is None:
            return None
        return Cohort.from_row(await info.context.loaders.cohort.load(self._row.comparator_id))

    @strawberry.field
    def statistics(self) -> Statistics | None:
        row = self._row
        values = (row.effect_size, row.effect_measure, row.p_value, row.ci_low, row.ci_high)
        if all(v is None for v in values):
            return None
        return Statistics(
            effect_size=row.effect_size,
            effect_measure=row.effect_measure,
            p_value=row.p_value,
            ci_low=row.ci_low,
            ci_high=row.ci_high,
        )

    @strawberry.field(description="The document that states the claim.")
    async def source(self, info: GraphQLInfo) -> Source:
        return Source.from_row(await info.context.loaders.source.load(self._row.source_id))

    @strawberry.field(description="The quotes backing the claim, in order.")
    async def evidence(self, info: GraphQLInfo) -> list[Evidence]:
        rows = await info.context.loaders.evidence_by_claim.load(self._row.id)
        return [Evidence(quote=r.quote, locator=r.locator, stance=r.stance, _row=r) for r in rows]

    @strawberry.field(description="Reviewers' decisions, oldest first.")
    async def reviews(self, info: GraphQLInfo) -> list[Review]:
        rows = await info.context.loaders.reviews_by_claim.load(self._row.id)
        return [Review(decision=r.decision, comment=r.comment, at=r.at, _row=r) for r in rows]

    @strawberry.field(description="The visible claims that oppose this one, most similar context first.")
    async def conflicts(
        self, info: GraphQLInfo, first: int | None = None, after: str | None = None
    ) -> Connection[ConflictPair]:
        return await resolve_claim_conflicts(info, self._row.id, first, after)

    @strawberry.field(description="Every recorded change to this claim, oldest first.")
    async def history(
        self, info: GraphQLInfo, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEvent]:
        spec = AuditFilterSpec(entity_type="Claim", entity_id=self._row.id)
        return await resolve_audit(info, spec, first, after, newest_first=False)

    @strawberry.field(description="Who entered the claim.")
    async def created_by(self, info: GraphQLInfo) -> User | None:
        if self._row.created_by_id is None:
            return None
        return User.from_row(await info.context.loaders.user.load(self._row.created_by_id))


def claim_list_arguments(
    filter: ClaimFilter | None,
    order_by: ClaimOrder | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> tuple[ClaimFilterSpec, PageRequest, ClaimOrderField, bool]:
    """A claim list's arguments as the store takes them (the compiled read path, which builds the
    same lists as JSON in the database, uses this too). Bad paging arguments are a ClientError."""
    request = page_request(first, after, last, before)
    field = ClaimOrderField(order_by.field.value) if order_by else ClaimOrderField.CREATED_AT
    descending = order_by.direction is OrderDirection.DESC if order_by else True
    spec = filter.to_spec() if filter else ClaimFilterSpec()
    return spec, request, field, descending


async def resolve_claims(
    info: GraphQLInfo,
    filter: ClaimFilter | None,
    order_by: ClaimOrder | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    scope: ClaimScope | None = None,
) -> Connection[Claim]:
    """Every claim list (Query.claims, Target.claims, Source.claims, ...) goes through here."""
    ctx = info.context
    spec, request, field, descending = claim_list_arguments(filter, order_by, first, after, last, before)
    async with ctx.db.read() as session:
        page = await paged(
            claims_page(
                session,
                spec,
                ctx.visibility,
                request,
                field,
                descending,
                scope=scope,
                count_session_factory=ctx.db.read,
            )
        )
    for row in page.rows:  # later lookups by id (node, nested) reuse these rows
        ctx.loaders.claim.prime(row.id, row)
    return to_connection(page, Claim.from_row)
