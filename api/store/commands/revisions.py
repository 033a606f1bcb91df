"""Revisions: how an ACCEPTED claim is corrected while it stays the public record.

An accepted claim is what readers rely on, so an edit of one does not change it: it is stored as a
*revision* (the changed fields in the store's terms, the values they had, a comment, the version
it was made against), PENDING until a reviewer other than its author decides it. Accepted, every
change applies at once as the claim's next version, in one audit event; the claim stays ACCEPTED.
A revision made against a version the claim has since left cannot be accepted (VERSION_CONFLICT):
its author withdraws it and proposes again. Each author has at most one pending revision of a
claim. The claim row, then the revision row, are locked before either is changed, so of two
reviewers deciding at once exactly one applies.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.store.commands._common import optional_label, require_role
from api.store.commands.claims import claim_snapshot, describe_claim, fingerprint_of, write_claim_targets
from api.store.db import Writer
from api.store.errors import Ref, StoreError, UserErrorCode, invalid
from api.store.search import refresh_claim_search
from schema.audit import json_safe
from schema.base import utcnow
from schema.enums import ClaimStatus, EvidenceType, Modality, RevisionDecision, RevisionStatus, Role
from schema.tables import MAX_STATEMENT, Claim, Evidence, Revision, claim_is_live

# Stored column values that read back as enum members on the ORM object.
_ENUM_COLUMNS = {"modality": Modality, "evidence_type": EvidenceType, "status": ClaimStatus}
# A revision's key for quotes it adds (each a row of `evidence` without claim and position).
EVIDENCE = "evidence"


async def propose(
    w: Writer, claim: Claim, before: dict[str, Any], changes: dict[str, Any], comment: str | None
) -> Revision:
    """Store a pending revision of an accepted claim (locked by the caller)."""
    pending = await w.session.scalar(
        sa.select(Revision.id).where(
            Revision.claim_id == claim.id,
            Revision.created_by_id == w.actor.user_id,
            Revision.status == RevisionStatus.PENDING,
        )
    )
    if pending is not None:
        raise StoreError.naming(
            UserErrorCode.DUPLICATE,
            ("id",),
            "you have a pending revision of this claim already (",
            Ref("Revision", pending),
            "); withdraw it, or wait for a reviewer to decide it",
        )
    revision = Revision(
        claim_id=claim.id,
        status=RevisionStatus.PENDING,
        base_version=claim.version,
        changes=json_safe(changes),
        before=json_safe(before),
        comment=optional_label(comment, MAX_STATEMENT, "comment"),
        created_by_id=w.actor.user_id,
    )
    w.session.add(revision)
    await w.session.flush()
    assert revision.id is not None
    w.record(
        "claim.revision.propose",
        "Claim",
        claim.id,
        before=before,
        after={**changes, "revision_id": revision.id, "base_version": claim.version},
        comment=revision.comment,
    )
    return revision


async def _locked(w: Writer, revision_id: int) -> tuple[Revision, Claim]:
    revision = await w.session.scalar(sa.select(Revision).where(Revision.id == revision_id))
    if revision is None:
        raise StoreError.one(UserErrorCode.NOT_FOUND, "no such revision", ("id",))
    # The claim first, then the revision: every writer of either takes them in this order.
    claim = (
        await w.session.execute(sa.select(Claim).where(Claim.id == revision.claim_id).with_for_update())
    ).scalar_one()
    await w.session.refresh(revision, with_for_update=True)
    return revision, claim


def _decided(w: Writer, revision: Revision, status: RevisionStatus, comment: str | None) -> None:
    revision.status = status
    revision.decided_by_id = w.actor.user_id
    revision.decided_at = utcnow()
    revision.decision_comment = comment


async def review_revision(
    w: Writer, revision_id: int, decision: RevisionDecision, comment: str | None
) -> tuple[Revision, Claim]:
    require_role(w.actor, Role.REVIEWER, "deciding a revision")
    revision, claim = await _locked(w, revision_id)
    if revision.created_by_id is not None and revision.created_by_id == w.actor.user_id:
        raise StoreError.one(
            UserErrorCode.FORBIDDEN, "you proposed this revision: another reviewer must decide it", ("id",)
        )
    if revision.status is not RevisionStatus.PENDING:
        raise StoreError.one(
            UserErrorCode.INVALID_TRANSITION,
            f"the revision is {revision.status.value} already; only a PENDING one can be decided",
            ("id",),
        )
    comment = optional_label(comment, MAX_STATEMENT, "comment")
    if decision is RevisionDecision.REJECT:
        if not comment:
            raise invalid("say why in a comment when rejecting a revision", "comment")
        _decided(w, revision, RevisionStatus.REJECTED, comment)
        await w.session.flush()
        w.record(
            "claim.revision.reject", "Claim", claim.id, after={"revision_id": revision.id}, comment=comment
        )
        return revision, claim
    if claim.status is not ClaimStatus.ACCEPTED:
        raise StoreError.one(
            UserErrorCode.INVALID_TRANSITION,
            f"the claim is {claim.status.value} now; a revision applies to an ACCEPTED claim only",
            ("id",),
        )
    if claim.version != revision.base_version:
        raise StoreError.one(
            UserErrorCode.VERSION_CONFLICT,
            f"the claim is at version {claim.version}, but this revision was made against version "
            f"{revision.base_version}: its author should withdraw it and propose the change again",
            ("id",),
        )
    before = claim_snapshot(claim)
    quotes = await _apply(w, claim, revision.changes)
    claim.fingerprint = fingerprint_of(claim)
    duplicate = await w.session.scalar(
        sa.select(Claim.id).where(
            Claim.fingerprint == claim.fingerprint, claim_is_live(), Claim.id != claim.id
        )
    )
    if duplicate is not None:
        raise StoreError.naming(
            UserErrorCode.DUPLICATE,
            ("id",),
            "accepted, the revision would make the claim repeat ",
            await describe_claim(w, duplicate),
            " (same source, subject, outcome, direction and context)",
        )
    claim.last_edited_by_id = revision.created_by_id
    claim.version += 1
    claim.updated_at = utcnow()
    _decided(w, revision, RevisionStatus.ACCEPTED, comment)
    await w.session.flush()
    await write_claim_targets(w, claim)
    await refresh_claim_search(w.session, [claim.id])
    after = claim_snapshot(claim)
    changed = [k for k in after if before.get(k) != after.get(k)]
    w.record(
        "claim.revision.accept",
        "Claim",
        claim.id,
        before={k: before[k] for k in changed},
        after={
            **{k: after[k] for k in changed},
            **({EVIDENCE: quotes} if quotes else {}),
            "revision_id": revision.id,
        },
        comment=comment or revision.comment,
    )
    return revision, claim


async def _apply(w: Writer, claim: Claim, changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Set the revision's changes on the claim; add its quotes after the claim's last. Returns the
    quotes added, as audit events record them."""
    added: list[dict[str, Any]] = []
    for key, value in changes.items():
        if key == EVIDENCE:
            position = (
                await w.session.scalar(
                    sa.select(sa.func.max(Evidence.position)).where(Evidence.claim_id == claim.id)
                )
            ) or 0
            for quote in value:
                position += 1
                row = {**quote, "position": position}
                await w.session.execute(sa.insert(Evidence).values(claim_id=claim.id, **row))
                added.append(row)
            continue
        enum = _ENUM_COLUMNS.get(key)
        setattr(claim, key, enum(value) if enum is not None and value is not None else value)
    return added


async def withdraw_revision(w: Writer, revision_id: int) -> tuple[Revision, Claim]:
    require_role(w.actor, Role.CURATOR, "withdrawing a revision")
    revision, claim = await _locked(w, revision_id)
    if revision.created_by_id != w.actor.user_id:
        raise StoreError.one(UserErrorCode.FORBIDDEN, "only its author may withdraw a revision", ("id",))
    if revision.status is not RevisionStatus.PENDING:
        raise StoreError.one(
            UserErrorCode.INVALID_TRANSITION,
            f"the revision is {revision.status.value} already; only a PENDING one can be withdrawn",
            ("id",),
        )
    _decided(w, revision, RevisionStatus.WITHDRAWN, None)
    await w.session.flush()
    w.record("claim.revision.withdraw", "Claim", claim.id, after={"revision_id": revision.id})
    return revision, claim
