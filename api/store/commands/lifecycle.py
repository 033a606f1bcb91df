"""Changing claims after they are made: edits, more evidence, submission, review, retraction.

Every command names the version it expects. The claim row is locked first (SELECT ... FOR UPDATE
on PostgreSQL; SQLite writers are already serialised by BEGIN IMMEDIATE), so of two writers at
the same version exactly one succeeds and the other gets VERSION_CONFLICT: no lost update.
Each change bumps the version and records before/after of what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from api.store.commands import revisions
from api.store.commands._common import collect, optional_label, refuse, require_role, required_label
from api.store.commands.claims import claim_snapshot, describe_claim, fingerprint_of, write_claim_targets
from api.store.commands.sources import given_source
from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode, invalid
from api.store.resolve import Reference, resolve_id, resolve_source_id
from api.store.search import refresh_claim_search
from schema.base import utcnow
from schema.claims import RETRACT, REVIEW_TRANSITIONS, SUBMIT, Transition, can_transition
from schema.enums import (
    ClaimStatus,
    EffectDirection,
    EvidenceType,
    Modality,
    ReviewDecision,
    Role,
    VocabularyKind,
)
from schema.records import EvidenceRecord, SourceRecord, StatisticsRecord
from schema.tables import MAX_STATEMENT, Claim, Evidence, Review, Revision, claim_is_live
from schema.users import Actor
from schema.validation import MAX_SHORT_LABEL, check_evidence, check_source, check_statistics, given

UNSET: Any = object()  # "not given", as distinct from an explicit null


@dataclass
class ClaimChanges:
    """Fields to change; UNSET leaves a field as it is, None clears an optional one. Names are
    references (schema.records): text or an id; statistics a StatisticsRecord."""

    statement: Any = UNSET
    outcome: Any = UNSET
    direction: Any = UNSET
    modality: Any = UNSET
    evidence_type: Any = UNSET
    organism: Any = UNSET
    condition: Any = UNSET
    sample_type: Any = UNSET
    statistics: Any = UNSET
    comment: str | None = None
    given: list[str] = field(default_factory=list)


async def _locked_claim(w: Writer, claim_id: int, expected_version: int) -> Claim:
    claim = (
        await w.session.execute(sa.select(Claim).where(Claim.id == claim_id).with_for_update())
    ).scalar_one_or_none()
    if claim is None or not _may_see(w.actor, claim):
        raise StoreError.one(UserErrorCode.NOT_FOUND, "no such claim", ("id",))
    if claim.version != expected_version:
        raise StoreError.one(
            UserErrorCode.VERSION_CONFLICT,
            f"the claim is at version {claim.version}, not {expected_version}: someone changed it "
            "since you read it; reload it and apply your change again",
            ("expectedVersion",),
        )
    return claim


def _may_see(actor: Actor, claim: Claim) -> bool:
    from schema.visibility import claim_visibility

    return claim_visibility(actor).allows(claim.status, claim.created_by_id)


def _require_owner_or_reviewer(actor: Actor, claim: Claim, what: str) -> None:
    if claim.created_by_id != actor.user_id and not actor.can(Role.REVIEWER):
        raise StoreError.one(
            UserErrorCode.FORBIDDEN,
            f"only the curator who entered this claim, or a reviewer, may {what} it",
            ("id",),
        )


def _transition_error(claim: Claim, transition: Transition, verb: str) -> StoreError:
    allowed = " or ".join(sorted(s.value for s in transition.allowed_from))
    return StoreError.one(
        UserErrorCode.INVALID_TRANSITION,
        f"a {claim.status.value} claim cannot be {verb}; only a {allowed} claim can",
        ("id",),
    )


def _back_to_review(claim: Claim) -> None:
    """A rejected claim whose content changes is being revised: it becomes a DRAFT again. (An
    accepted claim's content never changes by an edit: the edit is a revision.)"""
    if claim.status is ClaimStatus.REJECTED:
        claim.status = ClaimStatus.DRAFT


def _bump(claim: Claim) -> None:
    claim.version += 1
    claim.updated_at = utcnow()


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


@dataclass
class Edited:
    """What an edit did: the claim (changed, unless it is ACCEPTED) and, for an ACCEPTED claim,
    the revision that proposes the change instead."""

    claim: Claim
    revision: Revision | None = None


def _proposal(claim: Claim) -> Claim:
    """A copy of an ACCEPTED claim, outside the session, for an edit to be worked out on without
    touching what readers see."""
    return Claim(**{column.key: getattr(claim, column.key) for column in Claim.__table__.c})


async def update_claim(w: Writer, claim_id: int, expected_version: int, changes: ClaimChanges) -> Edited:
    """Edit a DRAFT, SUBMITTED or REJECTED claim (its author or a reviewer); on an ACCEPTED claim,
    propose the edit as a revision (any curator) that a second person decides."""
    require_role(w.actor, Role.CURATOR, "editing a claim")
    claim = await _locked_claim(w, claim_id, expected_version)
    if claim.status is not ClaimStatus.ACCEPTED:
        _require_owner_or_reviewer(w.actor, claim, "edit")
    if claim.status is ClaimStatus.RETRACTED:
        raise StoreError.one(
            UserErrorCode.INVALID_TRANSITION,
            "a RETRACTED claim cannot be edited; enter a corrected claim instead",
            ("id",),
        )
    before = claim_snapshot(claim)
    proposing = claim.status is ClaimStatus.ACCEPTED
    accepted, claim = claim, _proposal(claim) if proposing else claim
    errors: list[StoreError] = []
    s = w.session

    async def resolve(kind: VocabularyKind, value: Reference, name: str) -> int | None:
        try:
            return await resolve_id(s, kind, value, (name,))
        except StoreError as exc:
            errors.append(exc)
            return None

    if changes.statement is not UNSET:
        try:
            claim.statement = required_label(changes.statement, MAX_STATEMENT, "statement")
        except StoreError as exc:
            errors.append(exc)
    if changes.outcome is not UNSET:
        if changes.outcome is None:
            errors.append(invalid("outcome cannot be cleared", "outcome"))
        else:
            claim.outcome_id = (
                await resolve(VocabularyKind.OUTCOME, changes.outcome, "outcome") or claim.outcome_id
            )
    if changes.organism is not UNSET:
        if changes.organism is None:
            errors.append(invalid("organism cannot be cleared", "organism"))
        else:
            claim.organism_id = (
                await resolve(VocabularyKind.ORGANISM, changes.organism, "organism") or claim.organism_id
            )
    if changes.condition is not UNSET:
        claim.condition_id = (
            None
            if changes.condition is None
            else await resolve(VocabularyKind.CONDITION, changes.condition, "condition")
        )
    for name, enum in (
        ("direction", EffectDirection),
        ("modality", Modality),
        ("evidence_type", EvidenceType),
    ):
        value = getattr(changes, name)
        if value is UNSET:
            continue
        if value is None:
            errors.append(invalid(f"{name} cannot be cleared", name))
            continue
        setattr(claim, name, enum(value).value if name == "direction" else enum(value))
    if changes.sample_type is not UNSET:
        try:
            claim.sample_type = optional_label(changes.sample_type, MAX_SHORT_LABEL, "sampleType")
        except StoreError as exc:
            errors.append(exc)
    if changes.statistics is not UNSET:
        stats, problems = check_statistics(changes.statistics or StatisticsRecord())
        if problems:
            errors.append(StoreError(problems))
        for key, value in stats.items():
            setattr(claim, key, value)
    collect(errors)

    after = claim_snapshot(claim)
    changed_before, changed_after = _diff(before, after)
    if not changed_after:
        raise invalid("nothing to change: every given field already has that value", "id")
    claim.fingerprint = fingerprint_of(claim)
    await _refuse_duplicate(w, claim)
    if proposing:
        return Edited(
            accepted, await revisions.propose(w, accepted, changed_before, changed_after, changes.comment)
        )
    _back_to_review(claim)
    claim.last_edited_by_id = w.actor.user_id
    _bump(claim)
    await s.flush()
    await write_claim_targets(w, claim)
    await refresh_claim_search(s, [claim.id])
    final_before, final_after = _diff(before, claim_snapshot(claim))
    w.record(
        "claim.update", "Claim", claim.id, before=final_before, after=final_after, comment=changes.comment
    )
    return Edited(claim)


async def _refuse_duplicate(w: Writer, claim: Claim) -> None:
    duplicate = await w.session.scalar(
        sa.select(Claim.id).where(
            Claim.fingerprint == claim.fingerprint,
            claim_is_live(),
            Claim.id != claim.id,
        )
    )
    if duplicate is not None:
        raise StoreError.naming(
            UserErrorCode.DUPLICATE,
            ("id",),
            "the claim would repeat ",
            await describe_claim(w, duplicate),
            " (same source, subject, outcome, direction and context)",
        )


async def add_evidence(
    w: Writer, claim_id: int, expected_version: int, evidence: EvidenceRecord, comment: str | None = None
) -> Edited:
    """Add a quote to a claim; to an ACCEPTED claim, propose it as a revision."""
    require_role(w.actor, Role.CURATOR, "adding evidence")
    claim = await _locked_claim(w, claim_id, expected_version)
    if claim.status is not ClaimStatus.ACCEPTED:
        _require_owner_or_reviewer(w.actor, claim, "add evidence to")
    if claim.status is ClaimStatus.RETRACTED:
        raise StoreError.one(
            UserErrorCode.INVALID_TRANSITION, "a RETRACTED claim takes no more evidence", ("id",)
        )
    checked, problems = check_evidence(evidence, "evidence")
    refuse(problems)
    source_id = claim.source_id
    if type(evidence.source) is SourceRecord:  # given in full: only from Python, never the API
        found, problems = check_source(evidence.source)
        refuse([problem.within("evidence", "source") for problem in problems])
        assert found is not None
        source_id = await given_source(w, found, ("evidence", "source"))
    elif given(evidence.source):
        source_id = await resolve_source_id(w.session, evidence.source, ("evidence", "source"))  # type: ignore[arg-type]
    if claim.status is ClaimStatus.ACCEPTED:
        quote = {
            "source_id": source_id,
            "quote": checked.quote,
            "locator": checked.locator,
            "stance": checked.stance,
        }
        proposal = await revisions.propose(w, claim, {}, {revisions.EVIDENCE: [quote]}, comment)
        return Edited(claim, proposal)
    position = (
        await w.session.scalar(sa.select(sa.func.max(Evidence.position)).where(Evidence.claim_id == claim.id))
    ) or 0
    row = {
        "claim_id": claim.id,
        "position": position + 1,
        "source_id": source_id,
        "quote": checked.quote,
        "locator": checked.locator,
        "stance": checked.stance,
    }
    await w.session.execute(sa.insert(Evidence).values(**row))
    before = {"status": claim.status.value, "version": claim.version}
    _back_to_review(claim)  # a new quote is new content: it is reviewed like any other change
    claim.last_edited_by_id = w.actor.user_id
    _bump(claim)
    await w.session.flush()
    await refresh_claim_search(w.session, [claim.id])
    w.record(
        "claim.add_evidence",
        "Claim",
        claim.id,
        before=before,
        after={
            "status": claim.status.value,
            "version": claim.version,
            "evidence": {k: v for k, v in row.items() if k != "claim_id"},
        },
    )
    return Edited(claim)


async def _transition(
    w: Writer,
    claim: Claim,
    transition: Transition,
    action: str,
    verb: str,
    comment: str | None = None,
) -> Claim:
    if not can_transition(claim.status, transition):
        raise _transition_error(claim, transition, verb)
    before = {"status": claim.status.value, "version": claim.version}
    claim.status = transition.target
    _bump(claim)
    await w.session.flush()
    w.record(
        action,
        "Claim",
        claim.id,
        before=before,
        after={"status": claim.status.value, "version": claim.version},
        comment=comment,
    )
    return claim


async def submit_claim(w: Writer, claim_id: int, expected_version: int) -> Claim:
    require_role(w.actor, SUBMIT.minimum_role, "submitting a claim")
    claim = await _locked_claim(w, claim_id, expected_version)
    _require_owner_or_reviewer(w.actor, claim, "submit")
    if claim.status is ClaimStatus.REJECTED:
        await _refuse_duplicate(w, claim)  # it becomes live again: it may not repeat a live claim
    return await _transition(w, claim, SUBMIT, "claim.submit", "submitted")


async def review_claim(
    w: Writer, claim_id: int, expected_version: int, decision: ReviewDecision, comment: str | None
) -> Claim:
    transition = REVIEW_TRANSITIONS[decision]
    require_role(w.actor, transition.minimum_role, "reviewing a claim")
    claim = await _locked_claim(w, claim_id, expected_version)
    if claim.created_by_id is not None and claim.created_by_id == w.actor.user_id:
        raise StoreError.one(
            UserErrorCode.FORBIDDEN, "reviewers cannot review their own claims; ask another reviewer", ("id",)
        )
    if decision is ReviewDecision.ACCEPT and claim.last_edited_by_id == w.actor.user_id:
        raise StoreError.one(
            UserErrorCode.FORBIDDEN,
            "you last edited this claim's content, so another reviewer must accept it",
            ("id",),
        )
    comment = optional_label(comment, MAX_STATEMENT, "comment")
    if decision is not ReviewDecision.ACCEPT and not comment:
        raise invalid("say why in a comment when rejecting or requesting changes", "comment")
    verb = {"ACCEPT": "accepted", "REJECT": "rejected", "REQUEST_CHANGES": "sent back for changes"}[
        decision.value
    ]
    version = claim.version
    await _transition(w, claim, transition, f"claim.review.{decision.value.lower()}", verb, comment)
    review = Review(
        claim_id=claim.id,
        reviewer_id=w.actor.user_id,
        decision=decision,
        comment=comment,
        claim_version=version,
    )
    w.session.add(review)
    await w.session.flush()
    return claim


async def retract_claim(w: Writer, claim_id: int, expected_version: int, reason: str) -> Claim:
    require_role(w.actor, RETRACT.minimum_role, "retracting a claim")
    reason_text = required_label(reason, MAX_STATEMENT, "reason")
    claim = await _locked_claim(w, claim_id, expected_version)
    return await _transition(w, claim, RETRACT, "claim.retract", "retracted", reason_text)
