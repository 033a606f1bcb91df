"""Claims, their evidence, statistics and reviews; the one resolver every claim list uses."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

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
    RevisionStatus,
    SourceStanding,
    Stance,
    TargetAction,
)
from api.graphql.types.fields import RowObject, column, listed, one_of, related
from api.graphql.types.flags import Flag
from api.graphql.types.sources import Cohort, Source, User
from api.graphql.types.vocabulary import Condition, Intervention, Organism, Outcome, Target
from api.store.queries.audit import AuditFilterSpec
from api.store.queries.claims import ClaimFilterSpec, ClaimScope, claims_page
from api.store.queries.pagination import PageRequest
from api.store.queries.relations import ToMany, relation
from schema import tables as t

if TYPE_CHECKING:
    from api.graphql.types.revisions import Revision

RevisionRef = Annotated["Revision", strawberry.lazy("api.graphql.types.revisions")]

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
class Evidence(RowObject):
    __entity__ = "evidence"
    quote: str = strawberry.field(description="The source's own words.")
    locator: str | None = strawberry.field(description="Where the quote stands (section, paragraph).")
    stance: Stance
    source: Source = related("source")
    _row: strawberry.Private[t.Evidence]


@strawberry.type(
    description=(
        "A target a claim bears on, and the claim's direction at the level of that target: its own "
        "when it is about the target or an intervention that activates it, turned over for an "
        "inhibitor, none (null) for one that only binds or modulates it."
    )
)
class Bearing(RowObject):
    __entity__ = "claim_target"
    target: Target = related("target")
    direction: EffectDirection | None = column(
        "target_direction", description="At target level; null where the intervention binds or modulates."
    )
    via: Intervention | None = related("via", description="The intervention the claim acts through.")
    action: TargetAction | None = strawberry.field(description="How `via` acts on the target.")
    _row: strawberry.Private[t.ClaimTarget]


async def _revisions(
    root: Claim,
    info: GraphQLInfo,
    status: list[RevisionStatus] | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[RevisionRef]:
    from api.graphql.types.revisions import resolve_revisions

    return await resolve_revisions(info, root._row.id, status, first, after)


async def _source_standing(root: Claim, info: GraphQLInfo) -> SourceStanding:
    return await info.context.loaders.source_standing.load(root._row.source_id)


# A claim's flags, oldest first: one batched load answers both Claim.flags and Claim.openFlagCount.
_FLAGS = relation("claim", "flags")
assert isinstance(_FLAGS, ToMany)


async def _flag_rows(root: Claim, info: GraphQLInfo) -> list[t.Flag]:
    return await info.context.loaders.listed(_FLAGS).load(root._row.id)  # type: ignore[arg-type]


async def _flags(
    root: Claim,
    info: GraphQLInfo,
    open: Annotated[
        bool | None,
        strawberry.argument(description="true: open flags only; false: resolved ones only; omitted: all."),
    ] = None,
) -> list[Flag]:
    rows = await _flag_rows(root, info)
    return [Flag.from_row(row) for row in rows if open is None or (row.resolved_at is None) == open]


async def _open_flag_count(root: Claim, info: GraphQLInfo) -> int:
    return sum(1 for row in await _flag_rows(root, info) if row.resolved_at is None)


@strawberry.type(description="A reviewer's decision on a claim.")
class Review(RowObject):
    __entity__ = "review"
    decision: ReviewDecision
    comment: str | None
    at: datetime
    reviewer: User | None = related("reviewer")
    _row: strawberry.Private[t.Review]


def _statistics(root: Claim) -> Statistics | None:
    row = root._row
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


async def _conflicts(
    root: Claim, info: GraphQLInfo, first: int | None = None, after: str | None = None
) -> Connection[ConflictPair]:
    return await resolve_claim_conflicts(info, root._row.id, first, after)


async def _history(
    root: Claim, info: GraphQLInfo, first: int | None = None, after: str | None = None
) -> Connection[AuditEvent]:
    spec = AuditFilterSpec(entity_type="Claim", entity_id=root._row.id)
    return await resolve_audit(info, spec, first, after, newest_first=False)


async def _audit_verified(root: Claim, info: GraphQLInfo) -> bool:
    return await info.context.loaders.claim_audit_break.load(root._row.id) is None


@strawberry.type(description="One finding as a source states it, with its context and evidence.")
class Claim(RowObject, Node):
    __entity__ = "claim"
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
    subject: ClaimSubject = one_of("subject_target", "subject_intervention")
    targets: list[Target] = listed(
        "targets", description="What the claim bears on: its subject, or what its intervention acts on."
    )
    outcome: Outcome = related("outcome")
    organism: Organism = related("organism")
    condition: Condition | None = related("condition")
    cohort: Cohort | None = related("cohort")
    comparator: Cohort | None = related(
        "comparator", description="The population the cohort is compared with (e.g. healthy controls)."
    )
    statistics: Statistics | None = strawberry.field(resolver=_statistics)
    source: Source = related("source", description="The document that states the claim.")
    evidence: list[Evidence] = listed("evidence", description="The quotes backing the claim, in order.")
    reviews: list[Review] = listed("reviews", description="Reviewers' decisions, oldest first.")
    conflicts: Connection[ConflictPair] = strawberry.field(
        resolver=_conflicts,
        description="The visible claims that oppose this one, most similar context first.",
    )
    history: Connection[AuditEvent] = strawberry.field(
        resolver=_history, description="Every recorded change to this claim, oldest first."
    )
    audit_verified: bool = strawberry.field(
        resolver=_audit_verified,
        description=(
            "Whether every event of the claim's history verifies where it stands in the audit "
            "log's hash chain (AuditEvent.verified): none edited, none unlinked from its neighbours."
        ),
    )
    created_by: User | None = related("created_by", description="Who entered the claim.")
    bearings: list[Bearing] = listed(
        "bearings", description="Each target the claim bears on, with its target-level direction."
    )
    revisions: Connection[RevisionRef] = strawberry.field(
        resolver=_revisions,
        description="Proposed changes to this claim (while it is ACCEPTED), oldest first.",
    )
    source_standing: SourceStanding = strawberry.field(
        resolver=_source_standing,
        description=(
            "The worst standing along the source's derivedFrom chain (a post retelling a retracted "
            "paper is RETRACTED too)."
        ),
    )
    flags: list[Flag] = strawberry.field(
        resolver=_flags, description="Requests that a reviewer look at this claim, oldest first."
    )
    open_flag_count: int = strawberry.field(
        resolver=_open_flag_count, description="How many of its flags are still open."
    )
    _row: strawberry.Private[t.Claim]


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
    node: type[Claim] | None = None,
) -> Connection[Claim]:
    """Every claim list (Query.claims, Target.claims, Source.claims, ...) goes through here.
    `node`: the GraphQL type of the list's claims (Claim, or a type extending it)."""
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
    return to_connection(page, (node or Claim).from_row)
