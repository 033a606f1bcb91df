"""The contract's mutations: one `input`, a payload with the changed object and `userErrors`.

Each mutation checks the caller's role (top-level UNAUTHENTICATED / FORBIDDEN), then runs one
store command in one write transaction. Business-rule failures come back as userErrors with the
input path; nothing is stored then. A write that meets a busy SQLite database is retried a few
times before the client is told to retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import strawberry
from sqlalchemy.exc import IntegrityError

from api.graphql.auth import require_role
from api.graphql.errors import ClientError
from api.graphql.ids import GivenIds, from_global_id, int_id_of, int_key, name_or_id
from api.graphql.queries import load_node
from api.graphql.records import to_record
from api.graphql.types.claims import Claim
from api.graphql.types.common import GraphQLInfo, Node
from api.graphql.types.enums import (
    EffectDirection,
    EvidenceType,
    Modality,
    ReviewDecision,
    RevisionDecision,
    SourceKind,
    SourceStanding,
    Stance,
    TargetAction,
    UserErrorCode,
)
from api.graphql.types.flags import Flag
from api.graphql.types.revisions import Revision
from api.graphql.types.sources import Source
from api.graphql.types.vocabulary import Condition, Intervention, Outcome, Target
from api.store.commands import claims as claim_cmds
from api.store.commands import flags as flag_cmds
from api.store.commands import lifecycle, revisions
from api.store.commands import sources as source_cmds
from api.store.commands import standing as standing_cmds
from api.store.commands import vocabulary as vocab_cmds
from api.store.commands.flags import MIN_FLAG_COMMENT
from api.store.db import Writer
from api.store.errors import DatabaseBusy, StoreError
from api.store.errors import UserErrorCode as StoreCode
from schema.enums import Role, VocabularyKind
from schema.enums import SourceStanding as SchemaStanding
from schema.records import ClaimRecord, EvidenceRecord, SourceRecord, StatisticsRecord, refers_to

T = TypeVar("T")
BUSY_RETRIES = 3


@strawberry.type(description="Why a mutation refused its input; `field` is the input path.")
class UserError:
    field: list[str] | None
    message: str
    code: UserErrorCode


def _camel(segment: str) -> str:
    head, *rest = segment.split("_")
    return head + "".join(part.title() for part in rest)


def _user_errors(exc: StoreError, ids: GivenIds) -> list[UserError]:
    """The store's errors as the contract has them: the path under `input`, in camelCase, and
    any object a message names by its global ID (as the client gave it, if it did)."""
    return [
        UserError(field=["input", *[_camel(f) for f in e.field]], message=e.render(ids.render), code=e.code)
        for e in exc.errors
    ]


async def run(
    info: GraphQLInfo,
    role: Role,
    what: str,
    command: Callable[[Writer], Awaitable[T]],
    ids: GivenIds | None = None,
) -> tuple[T | None, list[UserError]]:
    """Run a store command in one write transaction. `ids`: the global IDs the input gave, so
    messages quote them as given."""
    ctx = info.context
    actor = require_role(info, role, what)
    for attempt in range(BUSY_RETRIES):
        try:
            async with ctx.db.write(actor, ctx.request_id) as writer:
                result = await command(writer)
            return result, []
        except StoreError as exc:
            return None, _user_errors(exc, ids or GivenIds())
        except IntegrityError:
            # A concurrent writer made the same row between our check and our insert.
            return None, [
                UserError(
                    field=["input"],
                    message="a concurrent change created the same record; reload and try again",
                    code=StoreCode.DUPLICATE,
                )
            ]
        except DatabaseBusy:
            if attempt == BUSY_RETRIES - 1:
                raise ClientError(
                    "the database is busy with other writes; retry shortly", "SERVICE_BUSY"
                ) from None
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _claim_id(global_id: str) -> int:
    found = int_id_of(global_id, "Claim")
    if found is None:
        raise StoreError.one(StoreCode.NOT_FOUND, f"'{global_id}' is not a claim ID", ("id",))
    return found


def _claim_payload(info: GraphQLInfo, row: Any, errors: list[UserError]) -> ClaimPayload:
    """The payload of a claim command: a claim, or what an edit did (lifecycle.Edited: the claim,
    and the revision proposed when it is ACCEPTED)."""
    if row is None:
        return ClaimPayload(claim=None, user_errors=errors)
    revision = None
    if isinstance(row, lifecycle.Edited):
        row, revision = row.claim, row.revision
    info.context.loaders.claim.prime(row.id, row, force=True)  # replace any stale cached row
    return ClaimPayload(
        claim=Claim.from_row(row),
        user_errors=errors,
        revision=Revision.from_row(revision) if revision is not None else None,
    )


# --- inputs ---------------------------------------------------------------------------------


@strawberry.input
class CreateSourceInput:
    kind: SourceKind
    title: str
    authors: list[str] | None = None
    venue: str | None = None
    year: int | None = None
    published: date | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    peer_reviewed: bool | None = None
    ai_generated: bool | None = None
    derived_from: str | None = strawberry.field(default=None, description="DOI, PMID, URL or source ID.")


@strawberry.input
class CreateTargetInput:
    symbol: str
    name: str
    kind: str
    aliases: list[str] | None = None
    xrefs: list[str] | None = None


@strawberry.input
class ActionInput:
    target: str
    action: TargetAction


@strawberry.input
class CreateInterventionInput:
    name: str
    kind: str
    aliases: list[str] | None = None
    xrefs: list[str] | None = None
    actions: list[ActionInput] | None = None


@strawberry.input(description="Record that an existing intervention acts on a target.")
class AddInterventionActionInput:
    intervention: str = strawberry.field(description="Name, alias, CURIE or ID of the intervention.")
    target: str
    action: TargetAction


@strawberry.input
class CreateConditionInput:
    name: str
    parent: str | None = None
    aliases: list[str] | None = None
    xrefs: list[str] | None = None


@strawberry.input
class CreateOutcomeInput:
    name: str
    kind: str
    aliases: list[str] | None = None


@strawberry.input
class AddAliasInput:
    entity: strawberry.ID
    alias: str


@strawberry.input(description="A study population; reused when the source already has one with this label.")
class CohortInput:
    label: str
    size: int | None = None
    female_count: int | None = None
    condition: str | None = None
    treatment_status: str | None = None
    sample_type: str | None = None


@strawberry.input
class EvidenceInput:
    quote: str
    locator: str | None = None
    stance: Stance | None = None
    source: str | None = strawberry.field(default=None, description="Defaults to the claim's source.")


@strawberry.input
class StatisticsInput:
    effect_size: float | None = None
    effect_measure: str | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@strawberry.input
class CreateClaimInput:
    statement: str
    outcome: str
    direction: EffectDirection
    modality: Modality
    evidence_type: EvidenceType
    organism: str
    source: str = strawberry.field(description="DOI, PMID, URL or source global ID.")
    evidence: list[EvidenceInput]
    target: str | None = strawberry.field(default=None, description="Exactly one of target / intervention.")
    intervention: str | None = None
    condition: str | None = None
    cohort: CohortInput | None = None
    comparator: CohortInput | None = None
    sample_type: str | None = None
    statistics: StatisticsInput | None = None
    submit: bool | None = strawberry.field(default=None, description="Create straight into SUBMITTED.")


@strawberry.input(description="Fields left out stay as they are; `condition: null` clears the condition.")
class UpdateClaimInput:
    id: strawberry.ID
    expected_version: int
    statement: str | None = strawberry.UNSET
    outcome: str | None = strawberry.UNSET
    direction: EffectDirection | None = strawberry.UNSET
    modality: Modality | None = strawberry.UNSET
    evidence_type: EvidenceType | None = strawberry.UNSET
    organism: str | None = strawberry.UNSET
    condition: str | None = strawberry.UNSET
    sample_type: str | None = strawberry.UNSET
    statistics: StatisticsInput | None = strawberry.UNSET
    comment: str | None = strawberry.field(default=None, description="Why; kept in the audit log.")


@strawberry.input
class AddEvidenceInput:
    claim: strawberry.ID
    expected_version: int
    evidence: EvidenceInput
    comment: str | None = strawberry.field(
        default=None, description="Why; kept with the revision when the claim is ACCEPTED."
    )


@strawberry.input
class ClaimTransitionInput:
    id: strawberry.ID
    expected_version: int


@strawberry.input
class ReviewClaimInput:
    id: strawberry.ID
    expected_version: int
    decision: ReviewDecision
    comment: str | None = strawberry.field(default=None, description="Required to reject or request changes.")


@strawberry.input
class RetractClaimInput:
    id: strawberry.ID
    expected_version: int
    reason: str


# --- payloads -------------------------------------------------------------------------------


@strawberry.type
class SourcePayload:
    source: Source | None
    user_errors: list[UserError]


@strawberry.type
class TargetPayload:
    target: Target | None
    user_errors: list[UserError]


@strawberry.type
class InterventionPayload:
    intervention: Intervention | None
    user_errors: list[UserError]


@strawberry.type
class ConditionPayload:
    condition: Condition | None
    user_errors: list[UserError]


@strawberry.type
class OutcomePayload:
    outcome: Outcome | None
    user_errors: list[UserError]


@strawberry.type
class AliasPayload:
    node: Node | None
    user_errors: list[UserError]


@strawberry.type
class ClaimPayload:
    claim: Claim | None
    user_errors: list[UserError]
    revision: Revision | None = strawberry.field(
        default=None,
        description=(
            "The revision an edit of an ACCEPTED claim proposed (the claim itself is unchanged "
            "until a reviewer accepts it); null otherwise."
        ),
    )


@strawberry.type(description="What deciding or withdrawing a revision did.")
class RevisionPayload:
    revision: Revision | None
    claim: Claim | None
    user_errors: list[UserError]


@strawberry.input(
    description="Accept or reject a pending revision (not your own); rejecting needs a comment."
)
class ReviewRevisionInput:
    id: strawberry.ID
    decision: RevisionDecision
    comment: str | None = None


@strawberry.input
class WithdrawRevisionInput:
    id: strawberry.ID


_ALIAS_KINDS = {
    "Target": VocabularyKind.TARGET,
    "Intervention": VocabularyKind.INTERVENTION,
    "Condition": VocabularyKind.CONDITION,
    "Organism": VocabularyKind.ORGANISM,
    "Outcome": VocabularyKind.OUTCOME,
}

_UPDATABLE = (
    "statement",
    "outcome",
    "direction",
    "modality",
    "evidence_type",
    "organism",
    "condition",
    "sample_type",
)


def _changes(data: UpdateClaimInput, ids: GivenIds) -> lifecycle.ClaimChanges:
    changes = lifecycle.ClaimChanges(comment=data.comment)
    for name in _UPDATABLE:
        value = getattr(data, name)
        if value is strawberry.UNSET:
            continue
        reference = refers_to(ClaimRecord.model_fields[name])
        if reference is not None and isinstance(value, str):
            value = ids.name_or_id(value, reference)
        setattr(changes, name, value)
    if data.statistics is not strawberry.UNSET:
        changes.statistics = to_record(data.statistics, StatisticsRecord, ids) if data.statistics else None
    return changes


# --- flags and source standing (curation depth): inputs and payloads ---------------------------


@strawberry.input(description="Ask a reviewer to look at a claim.")
class FlagClaimInput:
    claim: strawberry.ID
    comment: str = strawberry.field(description=f"What is wrong, in at least {MIN_FLAG_COMMENT} characters.")


@strawberry.input(description="Close an open flag, saying how (its author or a reviewer).")
class ResolveFlagInput:
    id: strawberry.ID
    comment: str


@strawberry.type
class FlagPayload:
    flag: Flag | None
    user_errors: list[UserError]


@strawberry.input(description="What became of a source: corrected, an expression of concern, retracted.")
class SetSourceStandingInput:
    source: str = strawberry.field(description="DOI, PMID, URL or source global ID.")
    standing: SourceStanding
    note: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "What the notice says. Left out: kept while the standing stays, cleared when it changes; "
            "null clears it."
        ),
    )
    since: date | None = strawberry.field(
        default=None, description="When; left out: kept while the standing stays, else today."
    )


def _flag_id(global_id: str) -> int:
    found = int_id_of(global_id, "Flag")
    if found is None:
        raise StoreError.one(StoreCode.NOT_FOUND, f"'{global_id}' is not a flag ID", ("id",))
    return found


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add a document. DOI and PMID are unique in any spelling.")
    async def create_source(self, info: GraphQLInfo, input: CreateSourceInput) -> SourcePayload:
        ids = GivenIds()
        data = to_record(input, SourceRecord, ids)
        row, errors = await run(
            info, Role.CURATOR, "creating a source", lambda w: source_cmds.create_source(w, data), ids
        )
        return SourcePayload(source=Source.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation
    async def create_target(self, info: GraphQLInfo, input: CreateTargetInput) -> TargetPayload:
        data = vocab_cmds.TargetInput(
            input.symbol, input.name, input.kind, input.aliases or [], input.xrefs or []
        )
        row, errors = await run(
            info, Role.CURATOR, "creating a target", lambda w: vocab_cmds.create_target(w, data)
        )
        return TargetPayload(target=Target.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation
    async def create_intervention(
        self, info: GraphQLInfo, input: CreateInterventionInput
    ) -> InterventionPayload:
        actions = [
            vocab_cmds.ActionInput(name_or_id(a.target, "Target"), a.action) for a in input.actions or []
        ]
        data = vocab_cmds.InterventionInput(
            input.name, input.kind, input.aliases or [], input.xrefs or [], actions
        )
        row, errors = await run(
            info, Role.CURATOR, "creating an intervention", lambda w: vocab_cmds.create_intervention(w, data)
        )
        return InterventionPayload(
            intervention=Intervention.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description=(
            "Record how an existing intervention acts on a target. Its claims bear on that target "
            "from now on (and take part in the target's conflicts unless it only binds or modulates)."
        )
    )
    async def add_intervention_action(
        self, info: GraphQLInfo, input: AddInterventionActionInput
    ) -> InterventionPayload:
        async def command(w: Writer) -> Any:
            action = vocab_cmds.ActionInput(name_or_id(input.target, "Target"), input.action)
            return await vocab_cmds.add_action(w, name_or_id(input.intervention, "Intervention"), action)

        row, errors = await run(info, Role.CURATOR, "adding an intervention action", command)
        return InterventionPayload(
            intervention=Intervention.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation
    async def create_condition(self, info: GraphQLInfo, input: CreateConditionInput) -> ConditionPayload:
        parent = name_or_id(input.parent, "Condition") if input.parent is not None else None
        data = vocab_cmds.ConditionInput(input.name, parent, input.aliases or [], input.xrefs or [])
        row, errors = await run(
            info, Role.CURATOR, "creating a condition", lambda w: vocab_cmds.create_condition(w, data)
        )
        return ConditionPayload(condition=Condition.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation
    async def create_outcome(self, info: GraphQLInfo, input: CreateOutcomeInput) -> OutcomePayload:
        data = vocab_cmds.OutcomeInput(input.name, input.kind, input.aliases or [])
        row, errors = await run(
            info, Role.CURATOR, "creating an outcome", lambda w: vocab_cmds.create_outcome(w, data)
        )
        return OutcomePayload(outcome=Outcome.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(
        description="Give a target, intervention, condition, organism or outcome another name."
    )
    async def add_alias(self, info: GraphQLInfo, input: AddAliasInput) -> AliasPayload:
        parsed = from_global_id(input.entity)

        async def command(w: Writer) -> int:
            if parsed is None or parsed[0] not in _ALIAS_KINDS or int_key(parsed[1]) is None:
                raise StoreError.one(
                    StoreCode.NOT_FOUND,
                    "entity must be the ID of a target, intervention, condition, organism or outcome",
                    ("entity",),
                )
            await vocab_cmds.add_alias(w, _ALIAS_KINDS[parsed[0]], int(parsed[1]), input.alias)
            return int(parsed[1])

        done, errors = await run(info, Role.CURATOR, "adding an alias", command)
        node = await load_node(info, input.entity) if done is not None else None
        return AliasPayload(node=node, user_errors=errors)

    @strawberry.mutation(description="Enter a claim as DRAFT (or SUBMITTED with `submit: true`).")
    async def create_claim(self, info: GraphQLInfo, input: CreateClaimInput) -> ClaimPayload:
        ids = GivenIds()
        data = to_record(input, ClaimRecord, ids)
        row, errors = await run(
            info, Role.CURATOR, "creating a claim", lambda w: claim_cmds.create_claim(w, data), ids
        )
        return _claim_payload(info, row, errors)

    @strawberry.mutation(description="Correct a claim; name the version you read (expectedVersion).")
    async def update_claim(self, info: GraphQLInfo, input: UpdateClaimInput) -> ClaimPayload:
        ids = GivenIds()
        changes = _changes(input, ids)

        async def command(w: Writer) -> Any:
            return await lifecycle.update_claim(w, _claim_id(input.id), input.expected_version, changes)

        row, errors = await run(info, Role.CURATOR, "editing a claim", command, ids)
        return _claim_payload(info, row, errors)

    @strawberry.mutation(description="Add a quote to a claim.")
    async def add_evidence(self, info: GraphQLInfo, input: AddEvidenceInput) -> ClaimPayload:
        ids = GivenIds()
        evidence = to_record(input.evidence, EvidenceRecord, ids)

        async def command(w: Writer) -> Any:
            return await lifecycle.add_evidence(
                w, _claim_id(input.claim), input.expected_version, evidence, input.comment
            )

        row, errors = await run(info, Role.CURATOR, "adding evidence", command, ids)
        return _claim_payload(info, row, errors)

    @strawberry.mutation(description="Send a draft (or a revised rejected claim) to the reviewers.")
    async def submit_claim(self, info: GraphQLInfo, input: ClaimTransitionInput) -> ClaimPayload:
        async def command(w: Writer) -> Any:
            return await lifecycle.submit_claim(w, _claim_id(input.id), input.expected_version)

        row, errors = await run(info, Role.CURATOR, "submitting a claim", command)
        return _claim_payload(info, row, errors)

    @strawberry.mutation(description="Accept, reject or send back a submitted claim (not your own).")
    async def review_claim(self, info: GraphQLInfo, input: ReviewClaimInput) -> ClaimPayload:
        async def command(w: Writer) -> Any:
            claim_id = _claim_id(input.id)
            return await lifecycle.review_claim(
                w, claim_id, input.expected_version, input.decision, input.comment
            )

        row, errors = await run(info, Role.REVIEWER, "reviewing a claim", command)
        return _claim_payload(info, row, errors)

    @strawberry.mutation(description="Withdraw an accepted claim, with a reason. Claims are never deleted.")
    async def retract_claim(self, info: GraphQLInfo, input: RetractClaimInput) -> ClaimPayload:
        async def command(w: Writer) -> Any:
            return await lifecycle.retract_claim(w, _claim_id(input.id), input.expected_version, input.reason)

        row, errors = await run(info, Role.REVIEWER, "retracting a claim", command)
        return _claim_payload(info, row, errors)

    # --- revisions ----------------------------------------------------------------------------

    @strawberry.mutation(
        description=(
            "Decide a pending revision of an accepted claim (not your own): ACCEPT applies every "
            "change as the claim's next version; REJECT needs a comment."
        )
    )
    async def review_revision(self, info: GraphQLInfo, input: ReviewRevisionInput) -> RevisionPayload:
        async def command(w: Writer) -> Any:
            return await revisions.review_revision(w, _revision_id(input.id), input.decision, input.comment)

        done, errors = await run(info, Role.REVIEWER, "deciding a revision", command)
        return _revision_payload(info, done, errors)

    @strawberry.mutation(description="Withdraw your own pending revision.")
    async def withdraw_revision(self, info: GraphQLInfo, input: WithdrawRevisionInput) -> RevisionPayload:
        async def command(w: Writer) -> Any:
            return await revisions.withdraw_revision(w, _revision_id(input.id))

        done, errors = await run(info, Role.CURATOR, "withdrawing a revision", command)
        return _revision_payload(info, done, errors)

    # --- flags and source standing (curation depth) ---------------------------------------------

    @strawberry.mutation(description="Flag a claim for a reviewer's look (any signed-in user).")
    async def flag_claim(self, info: GraphQLInfo, input: FlagClaimInput) -> FlagPayload:
        async def command(w: Writer) -> Any:
            claim_id = int_id_of(input.claim, "Claim")
            if claim_id is None:
                raise StoreError.one(StoreCode.NOT_FOUND, f"'{input.claim}' is not a claim ID", ("claim",))
            return await flag_cmds.flag_claim(w, claim_id, input.comment)

        row, errors = await run(info, Role.READER, "flagging a claim", command)
        return FlagPayload(flag=Flag.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Resolve an open flag, saying how (the flag's author or a reviewer).")
    async def resolve_flag(self, info: GraphQLInfo, input: ResolveFlagInput) -> FlagPayload:
        async def command(w: Writer) -> Any:
            return await flag_cmds.resolve_flag(w, _flag_id(input.id), input.comment)

        row, errors = await run(info, Role.READER, "resolving a flag", command)
        return FlagPayload(flag=Flag.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(
        description=(
            "Record what became of a source (reviewers). Its claims, and those of every source "
            "retelling it, inherit the worst standing along the chain; claims of RETRACTED sources "
            "leave conflicts and evidence summaries unless includeRetracted. Each affected claim "
            "gets an audit event; a change that changes nothing stores nothing."
        )
    )
    async def set_source_standing(self, info: GraphQLInfo, input: SetSourceStandingInput) -> SourcePayload:
        ids = GivenIds()
        reference = ids.name_or_id(input.source, "Source")
        note = standing_cmds.UNSET if input.note is strawberry.UNSET else input.note
        standing = SchemaStanding(input.standing.value)

        async def command(w: Writer) -> Any:
            change = await standing_cmds.set_source_standing(
                w, reference, standing, note=note, since=input.since
            )
            return change.source

        row, errors = await run(info, Role.REVIEWER, "setting a source's standing", command, ids)
        if row is not None:
            info.context.loaders.rows("source").prime(row.id, row, force=True)
        return SourcePayload(source=Source.from_row(row) if row else None, user_errors=errors)


def _revision_id(global_id: str) -> int:
    found = int_id_of(global_id, "Revision")
    if found is None:
        raise StoreError.one(StoreCode.NOT_FOUND, f"'{global_id}' is not a revision ID", ("id",))
    return found


def _revision_payload(info: GraphQLInfo, done: Any, errors: list[UserError]) -> RevisionPayload:
    if done is None:
        return RevisionPayload(revision=None, claim=None, user_errors=errors)
    revision, claim = done
    info.context.loaders.claim.prime(claim.id, claim, force=True)
    return RevisionPayload(
        revision=Revision.from_row(revision), claim=Claim.from_row(claim), user_errors=errors
    )
