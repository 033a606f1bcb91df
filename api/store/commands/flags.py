"""Flags: anyone signed in asks a reviewer to look at a claim; the flag's author or a reviewer
resolves it, saying how. A flag changes nothing of the claim itself, so it is audited as a Flag
(its `claim`, `comment`, `resolvedBy`, `resolution` read as such in AuditEvent.changes)."""

from __future__ import annotations

import sqlalchemy as sa

from api.store.commands._common import required_label
from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode, invalid
from schema.base import utcnow
from schema.enums import Role
from schema.tables import MAX_STATEMENT, Claim, Flag
from schema.visibility import claim_visibility

# A flag must say what is wrong; "wrong" or "check this" says too little for a reviewer to act on.
MIN_FLAG_COMMENT = 10


async def _visible_claim(w: Writer, claim_id: int) -> bool:
    row = (
        await w.session.execute(sa.select(Claim.status, Claim.created_by_id).where(Claim.id == claim_id))
    ).first()
    return row is not None and claim_visibility(w.actor).allows(row.status, row.created_by_id)


def _comment(text: str | None) -> str:
    comment = required_label(text, MAX_STATEMENT, "comment")
    if len(comment) < MIN_FLAG_COMMENT:
        raise invalid(
            f"say what is wrong in at least {MIN_FLAG_COMMENT} characters (got {len(comment)}), "
            "so a reviewer can act on it",
            "comment",
        )
    return comment


async def flag_claim(w: Writer, claim_id: int, comment: str) -> Flag:
    """Flag a claim the actor may see; a claim they may not see is not found (no leaking drafts)."""
    if not await _visible_claim(w, claim_id):
        raise StoreError.one(UserErrorCode.NOT_FOUND, "no such claim", ("claim",))
    flag = Flag(claim_id=claim_id, comment=_comment(comment), created_by_id=w.actor.user_id)
    w.session.add(flag)
    await w.session.flush()
    assert flag.id is not None
    w.record("flag.create", "Flag", flag.id, after={"claim_id": claim_id, "comment": flag.comment})
    return flag


async def resolve_flag(w: Writer, flag_id: int, comment: str) -> Flag:
    """Resolve an open flag (its author or a reviewer), saying how."""
    flag = (
        await w.session.execute(sa.select(Flag).where(Flag.id == flag_id).with_for_update())
    ).scalar_one_or_none()
    if flag is None or not await _visible_claim(w, flag.claim_id):
        raise StoreError.one(UserErrorCode.NOT_FOUND, "no such flag", ("id",))
    if flag.created_by_id != w.actor.user_id and not w.actor.can(Role.REVIEWER):
        raise StoreError.one(
            UserErrorCode.FORBIDDEN, "only the flag's author or a reviewer may resolve it", ("id",)
        )
    if flag.resolved_at is not None:
        raise StoreError.one(
            UserErrorCode.INVALID_TRANSITION,
            f"this flag was resolved already, on {flag.resolved_at:%Y-%m-%d %H:%M} UTC",
            ("id",),
        )
    flag.resolution = required_label(comment, MAX_STATEMENT, "comment")
    flag.resolved_by_id = w.actor.user_id
    flag.resolved_at = utcnow()
    await w.session.flush()
    w.record(
        "flag.resolve",
        "Flag",
        flag_id,
        before={"resolved_by_id": None, "resolved_at": None, "resolution": None},
        after={
            "resolved_by_id": flag.resolved_by_id,
            "resolved_at": flag.resolved_at,
            "resolution": flag.resolution,
        },
    )
    return flag
