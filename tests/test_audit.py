"""The audit log: every write appends hash-chained events naming who did what, before and after;
reviewers read it (Query.auditLog, Claim.history); `verify_log` detects any edited field and
any removed event, naming the first bad one (domain.md, "Provenance a reviewer can audit").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from curation_helpers import (
    Api,
    World,
    add_user,
    audit_events,
    claim_input,
    create_claim,
    events_after,
    global_id,
    int_id,
    last_event_id,
    open_api,
    verify,
)

from api.settings import Settings
from api.store.db import Database
from schema.enums import Role
from schema.tables import AuditEvent, Claim, User

HISTORY = """
query($id: ID!) { node(id: $id) { ... on Claim {
  history(first: 50) { totalCount nodes { id action entityType entityId actor { name } before after comment
                                           hash previousHash } }
} } }
"""
AUDIT_LOG = """
query($f: AuditFilter, $first: Int) { auditLog(filter: $f, first: $first) {
  totalCount nodes { id at action entityId actor { name } comment }
} }
"""


async def _full_lifecycle(api: Api, world: World) -> dict[str, Any]:
    """One claim through every step, by three people; returns the claim (as a reviewer sees it)."""
    alice, rita, rex = world.tokens["alice"], world.tokens["rita"], world.tokens["rex"]
    claim = await create_claim(api, world, "alice")
    cid = claim["id"]
    await api.ok("submitClaim", {"id": cid, "expectedVersion": 1}, token=alice)
    await api.ok(
        "reviewClaim",
        {"id": cid, "expectedVersion": 2, "decision": "REJECT", "comment": "the quote is a paraphrase"},
        token=rita,
    )
    await api.ok(
        "updateClaim",
        {
            "id": cid,
            "expectedVersion": 3,
            "statement": "Relapses fell on IL-6R blockade.",
            "comment": "quoted",
        },
        token=alice,
    )
    await api.ok("submitClaim", {"id": cid, "expectedVersion": 4}, token=alice)
    await api.ok(
        "reviewClaim",
        {"id": cid, "expectedVersion": 5, "decision": "ACCEPT", "comment": "fine now"},
        token=rex,
    )
    await api.ok("retractClaim", {"id": cid, "expectedVersion": 6, "reason": "paper retracted"}, token=rita)
    return claim


async def test_history_and_audit_log_show_each_step(api: Api, db: Database, world: World) -> None:
    claim = await _full_lifecycle(api, world)
    data = await api.data(HISTORY, {"id": claim["id"]}, token=world.tokens["rex"])
    history = data["node"]["history"]
    steps = [
        (
            e["action"],
            e["actor"]["name"],
            (e["before"] or {}).get("status"),
            e["after"].get("status"),
            e["comment"],
        )
        for e in history["nodes"]
    ]
    assert steps == [
        ("claim.create", "alice", None, "DRAFT", None),
        ("claim.submit", "alice", "DRAFT", "SUBMITTED", None),
        ("claim.review.reject", "rita", "SUBMITTED", "REJECTED", "the quote is a paraphrase"),
        ("claim.update", "alice", "REJECTED", "DRAFT", "quoted"),
        ("claim.submit", "alice", "DRAFT", "SUBMITTED", None),
        ("claim.review.accept", "rex", "SUBMITTED", "ACCEPTED", "fine now"),
        ("claim.retract", "rita", "ACCEPTED", "RETRACTED", "paper retracted"),
    ], "history should list each step, oldest first, with actor, status change and comment"
    assert history["totalCount"] == 7
    assert all(e["entityType"] == "Claim" and e["entityId"] == claim["id"] for e in history["nodes"])
    assert [e["after"]["version"] for e in history["nodes"]] == [1, 2, 3, 4, 5, 6, 7], "each step bumps"

    created, _, _, update = history["nodes"][:4]
    assert created["after"]["statement"] == claim["statement"], "the create event holds the claim as entered"
    assert created["after"]["evidence"][0]["quote"] == "Relapses were fewer.", created["after"]
    assert update["before"]["statement"] == claim["statement"], update["before"]
    assert update["after"]["statement"] == "Relapses fell on IL-6R blockade.", update["after"]
    assert set(update["after"]) == {"statement", "status", "version"}, "an update records only what changed"
    chain = history["nodes"]
    assert all(e["hash"] and len(e["hash"]) == 64 for e in chain), "every event carries its hash"

    # Query.auditLog: everything, newest first, narrowed by entity, actor, action and time.
    rita = world.tokens["rita"]
    other = await create_claim(api, world, "bob", direction="INCREASES", submit=True)
    every = (await api.data(AUDIT_LOG, {"first": 100}, token=rita))["auditLog"]
    stored = await audit_events(db)
    assert every["totalCount"] == len(stored), "auditLog without a filter lists every event"
    ids = [int_id(e["id"]) for e in every["nodes"]]
    assert ids == sorted(ids, reverse=True), "the audit log is newest first"

    async def log(f: dict[str, Any]) -> list[dict[str, Any]]:
        result = (await api.data(AUDIT_LOG, {"f": f, "first": 100}, token=rita))["auditLog"]
        assert result["totalCount"] == len(result["nodes"]), f"totalCount disagrees with the page for {f}"
        return result["nodes"]

    by_entity = await log({"entity": claim["id"]})
    assert len(by_entity) == 7 and {e["entityId"] for e in by_entity} == {claim["id"]}, by_entity
    by_other = await log({"entity": other["id"]})
    assert [e["action"] for e in by_other] == ["claim.create"], by_other

    by_actor = await log({"actor": "rita"})
    assert [e["action"] for e in by_actor] == ["claim.retract", "claim.review.reject"], by_actor
    assert await log({"actor": "nobody"}) == [], "an unknown actor matches nothing"

    by_action = await log({"action": ["claim.review.reject", "claim.review.accept"]})
    assert [(e["action"], e["actor"]["name"], e["comment"]) for e in by_action] == [
        ("claim.review.accept", "rex", "fine now"),
        ("claim.review.reject", "rita", "the quote is a paraphrase"),
    ], by_action
    combined = await log({"entity": claim["id"], "actor": "alice", "action": ["claim.submit"]})
    assert len(combined) == 2 and {e["action"] for e in combined} == {"claim.submit"}, combined

    # A time window: from the fourth stored event's time to the eighth's, both ends included.
    ats = {e["id"]: datetime.fromisoformat(e["at"]) for e in every["nodes"]}
    chronological = sorted(every["nodes"], key=lambda e: int_id(e["id"]))
    start, end = chronological[3]["at"], chronological[7]["at"]
    window = await log({"from": start, "to": end})
    expected = {
        i for i, at in ats.items() if ats[chronological[3]["id"]] <= at <= ats[chronological[7]["id"]]
    }
    assert {e["id"] for e in window} == expected and len(expected) >= 5, (
        f"from/to should select the events in [{start}, {end}]"
    )
    later = datetime.fromisoformat(chronological[-1]["at"]) + timedelta(seconds=1)
    assert await log({"from": later.isoformat()}) == [], "nothing happened after the last event"
    assert await log({"entity": global_id("Claim", 999)}) == [], "an unknown entity matches nothing"


async def test_request_id_is_recorded(api: Api, db: Database, world: World) -> None:
    alice = world.tokens["alice"]
    mark = await last_event_id(db)
    await api.ok(
        "createSource",
        {"kind": "PREPRINT", "title": "Traced"},
        token=alice,
        headers={"X-Request-Id": "curation-req-0001"},
    )
    await api.ok(
        "createClaim", claim_input(world, cohort={"label": "c1"}), token=alice, headers={"X-Request-Id": "r2"}
    )
    await api.ok("createSource", {"kind": "PREPRINT", "title": "Untraced 1"}, token=alice)
    await api.ok("createSource", {"kind": "PREPRINT", "title": "Untraced 2"}, token=alice)
    await api.ok(
        "createSource",
        {"kind": "PREPRINT", "title": "Too long an id"},
        token=alice,
        headers={"X-Request-Id": "x" * 65},
    )
    events = await events_after(db, mark)
    assert [(e.action, e.request_id) for e in events[:3]] == [
        ("source.create", "curation-req-0001"),
        ("cohort.create", "r2"),
        ("claim.create", "r2"),
    ], "the X-Request-Id header should be stored on every event of its request"
    generated = [e.request_id for e in events[3:]]
    assert all(generated) and len(set(generated)) == 3, (
        f"without a header each request gets its own id: {generated}"
    )
    assert "x" * 65 not in generated, "an over-long X-Request-Id must not be stored"


async def test_every_write_appends_its_events(api: Api, db: Database, world: World) -> None:
    """Each mutation appends exactly its events, as the caller, under the request's id."""
    made: dict[str, str] = {}

    def remember(key: str) -> Any:
        return lambda obj: made.__setitem__(key, obj["id"])

    steps: list[tuple[str, str, Any, list[str], Any]] = [
        (
            "alice",
            "createSource",
            lambda: {"kind": "REVIEW", "title": "Audited"},
            ["source.create"],
            remember("s"),
        ),
        (
            "alice",
            "createTarget",
            lambda: {"symbol": "LIF", "name": "leukemia inhibitory factor", "kind": "gene"},
            ["target.create"],
            remember("t"),
        ),
        (
            "alice",
            "createIntervention",
            lambda: {
                "name": "ibudilast",
                "kind": "drug",
                "actions": [{"target": "MIF", "action": "INHIBITS"}],
            },
            ["intervention.create"],
            remember("i"),
        ),
        ("alice", "createCondition", lambda: {"name": "SPMS", "parent": "MS"}, ["condition.create"], None),
        (
            "alice",
            "createOutcome",
            lambda: {"name": "remyelination", "kind": "process"},
            ["outcome.create"],
            None,
        ),
        (
            "bob",
            "addAlias",
            lambda: {"entity": made["t"], "alias": "leukaemia inhibitory factor"},
            ["target.add_alias"],
            None,
        ),
        (
            "bob",
            "addAlias",
            lambda: {"entity": made["i"], "alias": "MN-166"},
            ["intervention.add_alias"],
            None,
        ),
        (
            "alice",
            "createClaim",
            lambda: claim_input(world, target="LIF", source=made["s"], cohort={"label": "EAE mice"}),
            ["cohort.create", "claim.create"],
            remember("c"),
        ),
        (
            "alice",
            "updateClaim",
            lambda: {"id": made["c"], "expectedVersion": 1, "direction": "INCREASES", "comment": "misread"},
            ["claim.update"],
            None,
        ),
        (
            "alice",
            "addEvidence",
            lambda: {"claim": made["c"], "expectedVersion": 2, "evidence": {"quote": "More relapses."}},
            ["claim.add_evidence"],
            None,
        ),
        ("alice", "submitClaim", lambda: {"id": made["c"], "expectedVersion": 3}, ["claim.submit"], None),
        (
            "rita",
            "reviewClaim",
            lambda: {"id": made["c"], "expectedVersion": 4, "decision": "ACCEPT"},
            ["claim.review.accept"],
            None,
        ),
        (
            "rex",
            "retractClaim",
            lambda: {"id": made["c"], "expectedVersion": 5, "reason": "withdrawn"},
            ["claim.retract"],
            None,
        ),
    ]
    for index, (user, mutation, make_input, actions, after) in enumerate(steps):
        mark = await last_event_id(db)
        request_id = f"step-{index}-{mutation}"
        obj = await api.ok(
            mutation, make_input(), token=world.tokens[user], headers={"X-Request-Id": request_id}
        )
        if after:
            after(obj)
        events = await events_after(db, mark)
        assert [e.action for e in events] == actions, f"{mutation} appended {[e.action for e in events]}"
        assert [e.id for e in events] == list(range(mark + 1, mark + 1 + len(actions))), (
            "ids must be contiguous"
        )
        for event in events:
            assert event.actor_id == world.user_ids[user], (
                f"{event.action} names actor {event.actor_id}, not {user}"
            )
            assert event.request_id == request_id, f"{event.action} has request id {event.request_id}"
        assert events[-1].entity_id == int_id(obj["id"]), f"{mutation}'s event names another entity"
    result = await verify(db)
    assert result.broken is None and result.events == await last_event_id(db), result


# --- verify_log: tampering ---------------------------------------------------------------------


async def _edit(db: Database, event_id: int, column: str, value: Any) -> None:
    """An UPDATE by hand, bypassing the store (the column's own type binds the value)."""
    column_type = AuditEvent.__table__.c[column].type
    statement = sa.text(f'UPDATE audit_event SET "{column}" = :value WHERE id = :id').bindparams(
        sa.bindparam("value", type_=column_type)
    )
    async with db.engine.begin() as conn:
        result = await conn.execute(statement, {"value": value, "id": event_id})
        assert result.rowcount == 1, f"no audit event {event_id} to edit"


async def _event(db: Database, event_id: int) -> AuditEvent:
    async with db.read() as session:
        event = await session.get(AuditEvent, event_id)
        assert event is not None
        return event


def _tampered(event: AuditEvent, column: str, other_user: int, other_hash: str) -> Any:
    """A different value for one stored field of an event."""
    if column == "comment":
        return (event.comment or "") + " (edited)"
    if column in ("before", "after"):
        changed = dict(getattr(event, column) or {})
        changed["status"] = "ACCEPTED" if changed.get("status") != "ACCEPTED" else "REJECTED"
        return changed
    if column == "actor_id":
        return other_user
    if column == "at":
        return event.at + timedelta(microseconds=1)
    if column == "action":
        return "claim.review.accept"
    if column == "entity_id":
        return event.entity_id + 1
    if column == "request_id":
        return "forged-request"
    if column in ("hash", "previous_hash"):
        return other_hash
    raise AssertionError(column)


TAMPERED_COLUMNS = [
    "comment",
    "after",
    "before",
    "actor_id",
    "at",
    "action",
    "entity_id",
    "request_id",
    "hash",
    "previous_hash",
]


async def _rejection_event(api: Api, db: Database, world: World) -> tuple[int, int]:
    """After a full lifecycle: the id of its rejection event (in the middle of the chain, with
    before, after and a comment) and the number of events."""
    claim = await _full_lifecycle(api, world)
    clean = await verify(db)
    total = await last_event_id(db)
    assert clean.broken is None and clean.events == total, f"a clean log should verify: {clean}"
    async with db.read() as session:
        target_id = await session.scalar(
            sa.select(AuditEvent.id).where(
                AuditEvent.action == "claim.review.reject", AuditEvent.entity_id == int_id(claim["id"])
            )
        )
    assert target_id is not None and 1 < target_id < total
    return target_id, total


@pytest.mark.parametrize("column", TAMPERED_COLUMNS)
async def test_verify_log_finds_an_edited_field(api: Api, db: Database, world: World, column: str) -> None:
    target_id, _ = await _rejection_event(api, db, world)
    original = await _event(db, target_id)
    value = _tampered(original, column, world.user_ids["bob"], "f" * 64)
    assert value != getattr(original, column), f"the {column} edit must change something"
    await _edit(db, target_id, column, value)
    result = await verify(db)
    assert result.broken is not None, f"verify_log missed an edited {column}"
    assert result.broken.event_id == target_id, (
        f"editing {column} of event {target_id} was reported at event {result.broken.event_id}"
    )
    assert result.events == target_id - 1, f"{result.events} events verified before the break"
    await _edit(db, target_id, column, getattr(original, column))  # put it back
    restored = await verify(db)
    assert restored.broken is None, f"restoring {column} should mend the chain: {restored}"


@pytest.mark.parametrize("position", ["first", "middle", "last"])
async def test_verify_log_finds_a_removed_event(api: Api, db: Database, world: World, position: str) -> None:
    _, total = await _rejection_event(api, db, world)
    event_id = {"first": 1, "middle": total // 2, "last": total}[position]
    columns = [c.name for c in AuditEvent.__table__.columns]
    async with db.engine.begin() as conn:
        row = (await conn.execute(sa.select(AuditEvent.__table__).where(AuditEvent.id == event_id))).one()
        await conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": event_id})
    result = await verify(db)
    assert result.broken is not None, f"verify_log missed the {position} event's removal"
    assert result.broken.event_id == event_id, (
        f"removing the {position} event ({event_id}) was reported at {result.broken.event_id}"
    )
    assert "removed" in result.broken.reason, result.broken.reason
    async with db.engine.begin() as conn:
        await conn.execute(sa.insert(AuditEvent.__table__).values(dict(zip(columns, row, strict=True))))
    assert (await verify(db)).broken is None, f"re-inserting the {position} event should mend the chain"


async def test_seeds_are_entered_by_the_seed_user_and_audited(
    seeded_db: Database, settings: Settings
) -> None:
    async with seeded_db.read() as session:
        seed_id = await session.scalar(sa.select(User.id).where(User.name == "seed"))
        claims = (await session.execute(sa.select(Claim.id, Claim.status, Claim.created_by_id))).all()
        created = (
            await session.execute(
                sa.select(AuditEvent.entity_id, AuditEvent.actor_id).where(
                    AuditEvent.action == "claim.create"
                )
            )
        ).all()
    assert seed_id is not None, "the seeds should be entered by a user called 'seed'"
    assert len(claims) > 0, "the seeded database has no claims"
    assert {status.value for _, status, _ in claims} == {"ACCEPTED"}, "every seed claim should be ACCEPTED"
    assert {by for _, _, by in claims} == {seed_id}, "every seed claim should be created by 'seed'"
    assert sorted(e for e, _ in created) == sorted(c for c, _, _ in claims), (
        "one claim.create event per claim"
    )
    assert {a for _, a in created} == {seed_id}, "the seed claims' events should name 'seed' as the actor"
    result = await verify(seeded_db)
    assert result.broken is None and result.events > len(claims), result

    _, reviewer = await add_user(seeded_db, "auditor", Role.REVIEWER)
    async with open_api(settings, seeded_db) as api:
        log = await api.data(
            AUDIT_LOG, {"f": {"actor": "seed", "action": ["claim.create"]}, "first": 1}, token=reviewer
        )
        assert log["auditLog"]["totalCount"] == len(claims), "auditLog should find the seeds by actor 'seed'"
        shown = await api.data("{ claims(first: 1) { totalCount nodes { createdBy { name } } } }")
        assert shown["claims"]["totalCount"] == len(claims), "anonymous readers see every seed claim"
        assert shown["claims"]["nodes"][0]["createdBy"] == {"name": "seed"}
