"""Appending to and verifying the audit log's hash chain (rules in schema.audit).

AuditChain is the one appender: it locks the chain's head, numbers and hashes each event after
it, and moves the head. Every write transaction appends its pending events through it at commit
(append_events, run by Database.write); the bulk import appends its events through it chunk by
chunk, writing each chunk's rows its own fast way (COPY on PostgreSQL), so memory stays bounded.
This module imports nothing of api.store.db, which imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store import import_digest
from api.store.import_digest import changed_claims
from schema.audit import GENESIS_HASH, ChainBreak, EventContent, event_hash, verify_chain
from schema.base import utcnow
from schema.tables import AuditEvent, AuditHead

# Every write transaction runs these three, so they are Core statements on the tables, built
# once: no ORM loading or bulk-persistence machinery, and no statement rebuilt per call. The
# head is read as columns, not as an ORM object, so a head row the session may hold can never
# stand in for the row in the database.
_HEAD = AuditHead.__table__
_READ_HEAD = sa.select(_HEAD.c.last_event_id, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENTS = sa.insert(AuditEvent.__table__)
_MOVE_HEAD = sa.update(_HEAD).where(_HEAD.c.id == 1)  # SET takes the keys of the parameters


@dataclass
class PendingEvent:
    """An event a command recorded (api.store.db.Writer.record), chained at commit."""

    action: str
    entity_type: str
    entity_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    """An event with its place in the chain: what the audit_event row stores."""

    content: EventContent
    previous_hash: str
    hash: str

    def row(self) -> dict[str, Any]:
        return {**self.content.__dict__, "previous_hash": self.previous_hash, "hash": self.hash}


class AuditChain:
    """The end of the hash chain, held by one transaction: open() locks the head row (FOR
    UPDATE on PostgreSQL; SQLite's write lock does the same), so concurrent writers queue and
    the chain cannot fork; append() numbers and hashes events after it; close() moves the head
    to the last one. The caller writes the events' rows before it commits."""

    def __init__(self, session: AsyncSession, actor_id: int | None, request_id: str | None) -> None:
        self.session = session
        self.actor_id = actor_id
        self.request_id = request_id
        self.next_id = 0
        self.previous = GENESIS_HASH
        self.appended = 0

    async def open(self) -> None:
        head = (await self.session.execute(_READ_HEAD)).one()
        self.next_id, self.previous = (head.last_event_id or 0) + 1, head.last_hash

    def append(
        self,
        at: datetime,
        action: str,
        entity_type: str,
        entity_id: int,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> ChainedEvent:
        """Chain one event (`before` and `after` hold JSON values only, as Writer.record's
        json_safe makes them)."""
        content = EventContent(
            id=self.next_id, at=at, actor_id=self.actor_id, action=action, entity_type=entity_type,
            entity_id=entity_id, before=before, after=after, comment=comment, request_id=self.request_id,
        )  # fmt: skip
        digest = event_hash(content, self.previous)
        event = ChainedEvent(content, self.previous, digest)
        self.previous, self.next_id = digest, self.next_id + 1
        self.appended += 1
        return event

    async def close(self) -> None:
        """Move the head to the last event appended (if any)."""
        if self.appended:
            await self.session.execute(
                _MOVE_HEAD, {"last_event_id": self.next_id - 1, "last_hash": self.previous}
            )


async def append_events(
    session: AsyncSession, actor_id: int | None, request_id: str | None, pending: list[PendingEvent]
) -> None:
    """Chain a transaction's pending events after the current head, write them and empty
    `pending`. Called last in the transaction, so the head lock is held only for the final
    statements."""
    if not pending:
        return
    chain = AuditChain(session, actor_id, request_id)
    await chain.open()
    rows = [
        chain.append(
            utcnow(), p.action, p.entity_type, p.entity_id, before=p.before, after=p.after, comment=p.comment
        ).row()
        for p in pending
    ]
    await session.execute(_INSERT_EVENTS, rows)
    await chain.close()
    pending.clear()


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
            chunk.append((stored_content(ev), ev.previous_hash, ev.hash))
            last_id = ev.id
        broken = verify_chain(chunk, anchor)
        if broken:
            return VerifyResult(broken.event_id - 1, broken)
        for ev in events:
            # A chunk event holds digests, not content: the claims themselves are checked.
            if ev.action != import_digest.ACTION:
                continue
            if changed := await changed_claims(session, ev.id, ev.after):
                claim_id, why = changed[0]
                more = f"; {len(changed) - 1} more of its claims too" if len(changed) > 1 else ""
                reason = f"claim {claim_id}, created by this import event, no longer matches it: {why}{more}"
                return VerifyResult(count + ev.id - chunk[0][0].id, ChainBreak(ev.id, reason))
        anchor = chunk[-1][2]
        count += len(chunk)
        session.expunge_all()
    head = (await session.execute(sa.select(AuditHead).where(AuditHead.id == 1))).scalar_one()
    if (head.last_event_id or 0) != last_id:
        return VerifyResult(count, ChainBreak(last_id + 1, "this event and any after it were removed"))
    if head.last_hash != anchor:
        return VerifyResult(count, ChainBreak(last_id, "the chain head does not match this event"))
    return VerifyResult(count, None)


def stored_content(ev: AuditEvent) -> EventContent:
    """What an event row holds that its hash covers."""
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
