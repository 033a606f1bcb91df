"""Appending to and verifying the audit log's hash chain (rules in schema.audit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:  # db.py appends through this module at commit
    from api.store.db import Writer
from schema.audit import GENESIS_HASH, ChainBreak, EventContent, event_hash, verify_chain
from schema.base import utcnow
from schema.tables import AuditEvent, AuditHead

# Every write transaction runs these three, so they are Core statements on the tables, built
# once: no ORM loading or bulk-persistence machinery, and no statement rebuilt per call. The
# head is read as columns, not as an ORM object, so a head row the session may hold (a bulk
# import moves it mid-transaction) can never stand in for the row in the database.
_HEAD = AuditHead.__table__
_READ_HEAD = sa.select(_HEAD.c.last_event_id, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENTS = sa.insert(AuditEvent.__table__)
_MOVE_HEAD = sa.update(_HEAD).where(_HEAD.c.id == 1)  # SET takes the keys of the parameters


async def append_events(session: AsyncSession, writer: Writer) -> None:
    """Chain the writer's pending events after the current head. Called last in the transaction,
    so the head lock (FOR UPDATE on PostgreSQL) is held only for the final statements."""
    if not writer.pending:
        return
    head = (await session.execute(_READ_HEAD)).one()
    previous_hash, next_id = head.last_hash, (head.last_event_id or 0) + 1
    rows = []
    for pending in writer.pending:
        content = EventContent(
            id=next_id,
            at=utcnow(),
            actor_id=writer.actor.user_id,
            action=pending.action,
            entity_type=pending.entity_type,
            entity_id=pending.entity_id,
            before=pending.before,
            after=pending.after,
            comment=pending.comment,
            request_id=writer.request_id,
        )
        digest = event_hash(content, previous_hash)
        rows.append({**content.__dict__, "previous_hash": previous_hash, "hash": digest})
        previous_hash, next_id = digest, next_id + 1
    await session.execute(_INSERT_EVENTS, rows)
    await session.execute(_MOVE_HEAD, {"last_event_id": next_id - 1, "last_hash": previous_hash})
    writer.pending.clear()


@dataclass(frozen=True)
class VerifyResult:
    events: int
    broken: ChainBreak | None


async def verify_log(session: AsyncSession, batch: int = 5000) -> VerifyResult:
    """Walk the whole chain in id order, in batches (bounded memory), then check the head."""
    count, last_id, anchor = 0, 0, GENESIS_HASH
    while True:
        result = await session.execute(
            sa.select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        )
        events = result.scalars().all()
        if not events:
            break
        chunk = []
        for ev in events:
            if ev.id != last_id + 1:
                return VerifyResult(count, ChainBreak(last_id + 1, "this event was removed"))
            chunk.append((_content(ev), ev.previous_hash, ev.hash))
            last_id = ev.id
        broken = verify_chain(chunk, anchor)
        if broken:
            return VerifyResult(broken.event_id - 1, broken)
        anchor = chunk[-1][2]
        count += len(chunk)
        session.expunge_all()
    head = (await session.execute(sa.select(AuditHead).where(AuditHead.id == 1))).scalar_one()
    if (head.last_event_id or 0) != last_id:
        return VerifyResult(count, ChainBreak(last_id + 1, "this event and any after it were removed"))
    if head.last_hash != anchor:
        return VerifyResult(count, ChainBreak(last_id, "the chain head does not match this event"))
    return VerifyResult(count, None)


def _content(ev: AuditEvent) -> EventContent:
    return EventContent(
        id=ev.id,
        at=ev.at,
        actor_id=ev.actor_id,
        action=ev.action,
        entity_type=ev.entity_type,
        entity_id=ev.entity_id,
        before=ev.before,
        after=ev.after,
        comment=ev.comment,
        request_id=ev.request_id,
    )
