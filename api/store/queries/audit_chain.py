"""How long the audit log's hash chain is, for monitoring (/metrics)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from schema.tables import AuditHead

_LENGTH = sa.select(AuditHead.last_event_id).where(AuditHead.id == 1)


async def audit_chain_length(session: AsyncSession) -> int:
    """The newest audit event's id, read from the single `audit_head` row (no scan of the log).
    Event ids are given in chain order, one per event, so this is the chain's length (on
    PostgreSQL a write rolled back at commit can leave an id unused: never an undercount)."""
    return int(await session.scalar(_LENGTH) or 0)
