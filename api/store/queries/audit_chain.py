"""The audit log's hash chain as readers ask about it: how long it is (for /metrics), and whether
given events still verify where they stand (for a claim's history)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store import import_digest
from api.store.audit import stored_content
from api.store.import_digest import creating_event, still_matches
from schema.audit import ChainBreak, Neighbours, verify_in_place
from schema.tables import AuditEvent, AuditHead

_LENGTH = sa.select(AuditHead.last_event_id).where(AuditHead.id == 1)
_HEAD = sa.select(AuditHead.last_event_id, AuditHead.last_hash).where(AuditHead.id == 1)


async def audit_chain_length(session: AsyncSession) -> int:
    """The newest audit event's id, read from the single `audit_head` row (no scan of the log).
    Event ids are given in chain order, one per event, so this is the chain's length (on
    PostgreSQL a write rolled back at commit can leave an id unused: never an undercount)."""
    return int(await session.scalar(_LENGTH) or 0)


async def stored_event_hash(session: AsyncSession, event_id: int) -> str | None:
    """The hash the log holds for event `event_id`; None when there is no such event. With a
    published head (a release manifest's), this shows whether history before it was rewritten."""
    return await session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.id == event_id))


async def events_verified(session: AsyncSession, event_ids: Sequence[int]) -> dict[int, ChainBreak | None]:
    """For each event id, None when the event verifies in place (schema.audit.verify_in_place),
    else where and why it does not. An id with no event is missing from the answer. Three
    statements whatever the number of ids (the events, their neighbours' hashes, the head), and
    a fourth when a neighbour seems missing."""
    wanted = set(event_ids)
    if not wanted:
        return {}
    rows = (await session.scalars(sa.select(AuditEvent).where(AuditEvent.id.in_(wanted)))).all()
    return await _check(session, rows)


async def entities_verified(
    session: AsyncSession, entity_type: str, entity_ids: Sequence[int]
) -> dict[int, ChainBreak | None]:
    """For each entity (e.g. "Claim" and claim ids), None when every one of its audit events
    verifies in place, else the first break among them. An entity without events verifies."""
    found: dict[int, ChainBreak | None] = dict.fromkeys(entity_ids)
    if not found:
        return found
    rows = (
        await session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id.in_(set(entity_ids)))
            .order_by(AuditEvent.id)
        )
    ).all()
    breaks = await _check(session, rows)
    for row in rows:
        if found[row.entity_id] is None and breaks[row.id] is not None:
            found[row.entity_id] = breaks[row.id]
    if entity_type == "Claim":
        await _imported_claims(session, rows, found)
    return found


async def _imported_claims(
    session: AsyncSession, rows: Sequence[AuditEvent], found: dict[int, ChainBreak | None]
) -> None:
    """A bulk-imported claim's creation is its chunk's event (filed under another claim's id):
    that event must verify in place, and, while no later event of the claim's own carries its
    content, the claim must still match the digest the event recorded."""
    has_events = {row.entity_id for row in rows if row.action != import_digest.ACTION}
    by_command = {row.entity_id for row in rows if row.action == "claim.create"}
    for claim_id in found.keys() - by_command:  # by createClaim: its own events were checked above
        event_id = await creating_event(session, claim_id)
        if event_id is None:
            continue
        event = await session.get(AuditEvent, event_id)
        assert event is not None
        broken = (await _check(session, [event]))[event_id]
        if (
            broken is None
            and claim_id not in has_events
            and not await still_matches(session, claim_id, event.after or {})
        ):
            broken = ChainBreak(event_id, f"claim {claim_id} no longer matches its import event")
        if found[claim_id] is None:
            found[claim_id] = broken


async def _links(session: AsyncSession, ids: set[int]) -> dict[int, Any]:
    """(id, hash, previous_hash) of the events with these ids, by id."""
    statement = sa.select(AuditEvent.id, AuditEvent.hash, AuditEvent.previous_hash).where(
        AuditEvent.id.in_(ids)
    )
    return {n.id: n for n in (await session.execute(statement)).all()}


async def _check(session: AsyncSession, rows: Sequence[AuditEvent]) -> dict[int, ChainBreak | None]:
    if not rows:
        return {}
    neighbours = await _links(session, {i for row in rows for i in (row.id - 1, row.id + 1)})
    # The head is read after the neighbours. On PostgreSQL each statement sees what committed
    # before it, so an event appended in between is behind the head but was not among the
    # neighbours: ask once more for successors that seem missing (a removed one stays missing).
    head = (await session.execute(_HEAD)).one()
    head_id, head_hash = head.last_event_id or 0, head.last_hash
    if late := {row.id + 1 for row in rows if row.id < head_id and row.id + 1 not in neighbours}:
        neighbours.update(await _links(session, late))
    result: dict[int, ChainBreak | None] = {}
    for row in rows:
        before, after = neighbours.get(row.id - 1), neighbours.get(row.id + 1)
        result[row.id] = verify_in_place(
            stored_content(row),
            row.previous_hash,
            row.hash,
            Neighbours(
                hash_before=before.hash if before else None,
                previous_of_next=after.previous_hash if after else None,
                head_id=head_id,
                head_hash=head_hash,
            ),
        )
    return result
