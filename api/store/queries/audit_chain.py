"""How long the audit log's hash chain is, for monitoring (/metrics)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from schema.tables import AuditEvent, AuditHead

_LENGTH = sa.select(AuditHead.last_event_id).where(AuditHead.id == 1)


async def audit_chain_length(session: AsyncSession) -> int:
    """The newest audit event's id, read from the single `audit_head` row (no scan of the log).
    Event ids are given in chain order, one per event, so this is the chain's length (on
    PostgreSQL a write rolled back at commit can leave an id unused: never an undercount)."""
    return int(await session.scalar(_LENGTH) or 0)


async def stored_event_hash(session: AsyncSession, event_id: int) -> str | None:
    """The hash the log holds for event `event_id`; None when there is no such event. With a
    published head (a release manifest's), this shows whether history before it was rewritten."""
    return await session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.id == event_id))
