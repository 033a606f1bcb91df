"""Claim.auditVerified and AuditEvent.verified: a claim's history says whether its events still
verify where they stand in the audit log's hash chain, on SQLite and PostgreSQL. An edit of any
stored field of one of its events, or the removal of an event it is linked to, shows on that
event and on the claim; other claims stay verified; putting the row back mends it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from curation_helpers import Api, World, accepted_claim, create_claim, int_id, last_event_id

from api.store.db import Database
from schema.audit import GENESIS_HASH, EventContent, Neighbours, event_hash, verify_in_place
from schema.tables import AuditEvent

HISTORY = """
query($id: ID!) { node(id: $id) { ... on Claim {
  auditVerified
  history(first: 50) { nodes { id action verified } }
} } }
"""
CLAIM_LIST = """
{ claims(first: 50, filter: {status: [DRAFT, SUBMITTED, ACCEPTED]}) { nodes { id auditVerified } } }
"""


async def _history(api: Api, world: World, claim_id: str) -> dict[str, Any]:
    data = await api.data(HISTORY, {"id": claim_id}, token=world.tokens["rita"])
    return data["node"]


async def _event_ids(db: Database, claim_id: str) -> list[int]:
    async with db.read() as session:
        found = await session.scalars(
            sa.select(AuditEvent.id)
            .where(AuditEvent.entity_type == "Claim", AuditEvent.entity_id == int_id(claim_id))
            .order_by(AuditEvent.id)
        )
        return list(found)


async def _set_comment(db: Database, event_id: int, comment: str | None) -> None:
    async with db.engine.begin() as conn:
        done = await conn.execute(
            sa.update(AuditEvent.__table__).where(AuditEvent.id == event_id).values(comment=comment)
        )
        assert done.rowcount == 1


async def test_a_clean_history_verifies(api: Api, db: Database, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    history = await _history(api, world, claim["id"])
    assert history["auditVerified"] is True
    events = history["history"]["nodes"]
    assert len(events) >= 2 and all(e["verified"] for e in events), events
    listed = (await api.data(CLAIM_LIST, token=world.tokens["rita"]))["claims"]["nodes"]
    assert listed and all(c["auditVerified"] for c in listed), listed


async def test_an_edited_event_shows_on_its_claim_only(api: Api, db: Database, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    other = await create_claim(
        api, world, "alice", statement="Another claim, untouched.", direction="INCREASES"
    )
    first, *_ = await _event_ids(db, claim["id"])
    async with db.read() as session:
        original = await session.scalar(sa.select(AuditEvent.comment).where(AuditEvent.id == first))
    await _set_comment(db, first, (original or "") + " (edited by hand)")

    history = await _history(api, world, claim["id"])
    assert history["auditVerified"] is False
    verified = {e["action"]: e["verified"] for e in history["history"]["nodes"]}
    assert verified["claim.create"] is False, verified
    assert all(ok for action, ok in verified.items() if action != "claim.create"), verified
    assert (await _history(api, world, other["id"]))["auditVerified"] is True

    await _set_comment(db, first, original)
    assert (await _history(api, world, claim["id"]))["auditVerified"] is True


async def test_a_removed_neighbour_shows(api: Api, db: Database, world: World) -> None:
    """Removing the event right after one of the claim's events unlinks it (the chain's walk
    reports the same removal: claimsdb audit verify)."""
    claim = await create_claim(api, world, "alice")
    await create_claim(
        api, world, "alice", statement="Written after it, so its event follows.", direction="INCREASES"
    )
    (event_id,) = await _event_ids(db, claim["id"])
    assert event_id < await last_event_id(db)
    table = AuditEvent.__table__
    async with db.engine.begin() as conn:
        row = (await conn.execute(sa.select(table).where(table.c.id == event_id + 1))).one()
        await conn.execute(sa.delete(table).where(table.c.id == event_id + 1))
    assert (await _history(api, world, claim["id"]))["auditVerified"] is False
    async with db.engine.begin() as conn:
        await conn.execute(sa.insert(table).values(dict(row._mapping)))
    assert (await _history(api, world, claim["id"]))["auditVerified"] is True


async def test_an_event_appended_between_reads_is_no_break(
    api: Api, db: Database, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL each statement sees what committed before it: a successor committed after
    the neighbours were read, but before the head was, must not read as removed."""
    from api.store.queries import audit_chain

    claim = await create_claim(api, world, "alice")
    await create_claim(api, world, "alice", statement="Its event follows.", direction="INCREASES")
    (event_id,) = await _event_ids(db, claim["id"])
    real_links, calls = audit_chain._links, []

    async def late_successor(session: Any, ids: set[int]) -> dict[int, Any]:
        calls.append(set(ids))
        found = await real_links(session, ids)
        if len(calls) == 1:  # the first read misses the successor, as if it committed later
            found.pop(event_id + 1, None)
        return found

    monkeypatch.setattr(audit_chain, "_links", late_successor)
    async with db.read() as session:
        verdict = await audit_chain.events_verified(session, [event_id])
    assert verdict == {event_id: None}, verdict
    assert calls[1] == {event_id + 1}, "the seemingly missing successor is asked for again"


# --- the rule itself (no database) ---------------------------------------------------------------


def _event(event_id: int, previous: str) -> tuple[EventContent, str, str]:
    from datetime import UTC, datetime

    content = EventContent(
        id=event_id, at=datetime(2026, 1, 1, tzinfo=UTC), actor_id=1, action="claim.create",
        entity_type="Claim", entity_id=7, before=None, after={"status": "DRAFT"}, comment=None,
        request_id=None,
    )  # fmt: skip
    return content, previous, event_hash(content, previous)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("clean", None),
        ("first-not-genesis", "before"),
        ("before-missing", "removed"),
        ("next-missing", "removed"),
        ("next-unlinked", "does not chain"),
        ("head-mismatch", "head"),
        ("head-behind", "behind"),
    ],
)
def test_verify_in_place_names_what_broke(case: str, expected: str | None) -> None:
    content, previous, digest = _event(5, "a" * 64)
    around = Neighbours(hash_before="a" * 64, previous_of_next=digest, head_id=9, head_hash="c" * 64)
    if case == "first-not-genesis":
        content, previous, digest = _event(1, "a" * 64)
    elif case == "before-missing":
        around = Neighbours(None, digest, 9, "c" * 64)
    elif case == "next-missing":
        around = Neighbours("a" * 64, None, 9, "c" * 64)
    elif case == "next-unlinked":
        around = Neighbours("a" * 64, "d" * 64, 9, "c" * 64)
    elif case == "head-mismatch":
        around = Neighbours("a" * 64, None, 5, "c" * 64)
    elif case == "head-behind":
        around = Neighbours("a" * 64, None, 4, "c" * 64)
    found = verify_in_place(content, previous, digest, around)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found.reason, found
    genesis_content, genesis_previous, genesis_digest = _event(1, GENESIS_HASH)
    assert (
        verify_in_place(
            genesis_content, genesis_previous, genesis_digest, Neighbours(None, None, 1, genesis_digest)
        )
        is None
    )
