"""Writers at the same time, on both databases: of two updates at the same version exactly one
wins and the other gets VERSION_CONFLICT (no lost update); many concurrent creates all succeed or
fail cleanly, never with a 500 or "database is locked", and the audit chain stays one line.

Concurrency is real: the requests run as tasks of one event loop, each on its own pooled
connection, so on PostgreSQL they meet at the row lock (SELECT ... FOR UPDATE) and on SQLite at
BEGIN IMMEDIATE (busy_timeout; the mutation runner retries DatabaseBusy).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
import sqlalchemy as sa
from curation_helpers import (
    ADMIN,
    Api,
    World,
    audit_events,
    claim_input,
    counts,
    create_claim,
    int_id,
    last_event_id,
    open_api,
    verify,
)

from api.store.commands import lifecycle
from api.store.db import Database
from api.store.errors import StoreError, UserErrorCode
from schema.enums import ReviewDecision, Role
from schema.tables import Review
from schema.users import Actor

ROUNDS = 20
REVIEW_ROUNDS = 8
WRITERS = 16


async def test_two_updates_at_the_same_version_one_wins(api: Api, db: Database, world: World) -> None:
    claim = await create_claim(api, world, "alice")
    cid, version = claim["id"], 1
    writers = ("alice", "rita")  # the author and a reviewer may both edit a draft
    wins: dict[str, int] = defaultdict(int)
    for round_no in range(ROUNDS):
        statements = {name: f"Round {round_no}: {name}'s wording." for name in writers}
        payloads = await asyncio.gather(
            *(
                api.mutate(
                    "updateClaim",
                    {"id": cid, "expectedVersion": version, "statement": statements[name]},
                    token=world.tokens[name],
                )
                for name in writers
            )
        )
        winners = [name for name, p in zip(writers, payloads, strict=True) if not p["userErrors"]]
        losers = [p for p in payloads if p["userErrors"]]
        assert len(winners) == 1, f"round {round_no}: expected exactly one winner, got {payloads}"
        (loser,) = losers
        assert [(e["code"], e["field"]) for e in loser["userErrors"]] == [
            ("VERSION_CONFLICT", ["input", "expectedVersion"])
        ], f"round {round_no}: the loser should get VERSION_CONFLICT, got {loser}"
        assert loser["claim"] is None
        winner = winners[0]
        wins[winner] += 1
        state = await api.data(
            "query($id: ID!) { node(id: $id) { ... on Claim { statement version } } }",
            {"id": cid},
            token=world.tokens["rita"],
        )
        assert state["node"] == {"statement": statements[winner], "version": version + 1}, (
            f"round {round_no}: the winner's edit should stand at version {version + 1}: {state}"
        )
        version += 1

    history = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Claim { history(first: 100) { nodes { action } } } } }",
        {"id": cid},
        token=world.tokens["rita"],
    )
    actions = [e["action"] for e in history["node"]["history"]["nodes"]]
    assert actions == ["claim.create"] + ["claim.update"] * ROUNDS, "one update event per round, no more"
    result = await verify(db)
    assert result.broken is None, f"the audit chain broke: {result}"


async def test_two_reviews_in_the_store_at_once_one_wins(db: Database, world: World, api: Api) -> None:
    """Two store transactions on separate connections: one reviewer accepts while another rejects."""
    rita = Actor(world.user_ids["rita"], "rita", Role.REVIEWER)
    rex = Actor(world.user_ids["rex"], "rex", Role.REVIEWER)

    async def review(actor: Actor, claim_id: int, decision: ReviewDecision) -> str:
        try:
            async with db.write(actor) as w:
                await lifecycle.review_claim(w, claim_id, 1, decision, "a reason")
        except StoreError as exc:
            return ",".join(e.code for e in exc.errors)
        return "ok"

    for round_no in range(REVIEW_ROUNDS):
        claim = await create_claim(api, world, "alice", submit=True, sampleType=f"sample {round_no}")
        claim_id = int_id(claim["id"])
        outcomes = await asyncio.gather(
            review(rita, claim_id, ReviewDecision.ACCEPT), review(rex, claim_id, ReviewDecision.REJECT)
        )
        assert sorted(outcomes) == sorted(["ok", UserErrorCode.VERSION_CONFLICT.value]), (
            f"round {round_no}: expected one review to win and one VERSION_CONFLICT, got {outcomes}"
        )
        expected = "ACCEPTED" if outcomes[0] == "ok" else "REJECTED"
        assert await api.state(claim["id"], token=world.tokens["rex"]) == (expected, 2), f"round {round_no}"
        async with db.read() as session:
            reviews = await session.scalar(
                sa.select(sa.func.count()).select_from(Review).where(Review.claim_id == claim_id)
            )
        assert reviews == 1, f"round {round_no}: {reviews} reviews stored for one decision"
    assert (await verify(db)).broken is None


async def test_many_concurrent_creates_keep_one_chain(api: Api, db: Database, world: World) -> None:
    alice, bob = world.tokens["alice"], world.tokens["bob"]
    before = await counts(db)
    mark = await last_event_id(db)
    requests = []
    for n in range(WRITERS):
        requests.append(
            api.mutate(
                "createClaim",
                claim_input(world, sampleType=f"sample {n}", cohort={"label": f"cohort {n}", "size": n}),
                token=alice if n % 2 else bob,
                headers={"X-Request-Id": f"claim-{n}"},
            )
        )
        requests.append(
            api.mutate(
                "createSource",
                {"kind": "PREPRINT", "title": f"Preprint {n}", "doi": f"10.5555/concurrent.{n}"},
                token=bob if n % 2 else alice,
                headers={"X-Request-Id": f"source-{n}"},
            )
        )
    payloads = await asyncio.gather(*requests)
    refused = [p["userErrors"] for p in payloads if p["userErrors"]]
    assert refused == [], f"distinct creates should all succeed, got {refused}"

    after = await counts(db)
    assert after["claim"] - before["claim"] == WRITERS and after["source"] - before["source"] == WRITERS
    assert after["cohort"] - before["cohort"] == WRITERS

    result = await verify(db)
    assert result.broken is None, f"the audit chain forked or broke under concurrent writes: {result}"
    events = [e for e in await audit_events(db) if e.id > mark]
    assert [e.id for e in events] == list(range(mark + 1, mark + 1 + 3 * WRITERS)), (
        "event ids must be contiguous"
    )
    by_request: dict[str, list] = defaultdict(list)
    for event in events:
        by_request[event.request_id].append(event)
    assert len(by_request) == 2 * WRITERS, f"expected one group of events per request: {sorted(by_request)}"
    for request_id, group in by_request.items():
        ids = [e.id for e in group]
        assert ids == list(range(ids[0], ids[0] + len(ids))), (
            f"{request_id}'s events {ids} are interleaved with another transaction's"
        )
        expected = ["cohort.create", "claim.create"] if request_id.startswith("claim") else ["source.create"]
        assert [e.action for e in group] == expected, f"{request_id}: {[e.action for e in group]}"
    chain = [(e.previous_hash, e.hash) for e in events]
    assert all(prev == chain[i - 1][1] for i, (prev, _) in enumerate(chain) if i), (
        "each event links to the last"
    )


async def test_concurrent_duplicates_fail_cleanly(api: Api, db: Database, world: World) -> None:
    """The same source, and the same claim, entered N times at once: one of each is stored, the
    others are refused as DUPLICATE (by the check, or by the unique index when they raced it)."""
    before = await counts(db)
    tokens = [world.tokens["alice" if n % 2 else "bob"] for n in range(WRITERS // 2)]
    source = {"kind": "PRIMARY_RESEARCH", "title": "Raced", "doi": "10.5555/raced"}
    claim = claim_input(world, statement="Raced claim.", sampleType="raced")
    payloads = await asyncio.gather(
        *(api.mutate("createSource", source, token=t) for t in tokens),
        *(api.mutate("createClaim", claim, token=t) for t in tokens),
    )
    for kind, group in (("source", payloads[: len(tokens)]), ("claim", payloads[len(tokens) :])):
        stored = [p for p in group if not p["userErrors"]]
        assert len(stored) == 1, f"exactly one {kind} should be stored, got {len(stored)}: {group}"
        codes = {e["code"] for p in group if p["userErrors"] for e in p["userErrors"]}
        assert codes == {"DUPLICATE"}, f"the other {kind} creates should be DUPLICATE, got {codes}"
    after = await counts(db)
    assert (after["source"] - before["source"], after["claim"] - before["claim"]) == (1, 1), after
    assert after["audit_event"] - before["audit_event"] == 2, "only the stored rows may be audited"
    assert (await verify(db)).broken is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL writers wait on row locks
async def test_a_busy_sqlite_database_is_retried_then_reported_cleanly(db: Database, world: World) -> None:
    """Another writer holds SQLite's write lock past busy_timeout: the mutation runner retries
    (DatabaseBusy) and the client sees success; held past every retry, the client gets a clean
    SERVICE_BUSY error. Never "database is locked", never a 500."""
    impatient = Database(db.settings.model_copy(update={"sqlite_busy_timeout_ms": 50}))
    try:
        async with open_api(impatient.settings, impatient) as api:
            for hold_seconds, expect_success in ((0.08, True), (1.0, False)):
                locked = asyncio.Event()

                async def hold_lock(seconds: float = hold_seconds, locked: asyncio.Event = locked) -> None:
                    async with db.write(ADMIN) as w:
                        await w.session.execute(sa.text("SELECT 1"))  # BEGIN IMMEDIATE: the lock is ours
                        locked.set()
                        await asyncio.sleep(seconds)  # bounded: hold the lock past busy_timeout

                holder = asyncio.create_task(hold_lock())
                await locked.wait()
                body = await api.request(  # fails on "locked" anywhere in the response
                    "mutation($i: CreateSourceInput!) { createSource(input: $i) { source { id } "
                    "userErrors { code } } }",
                    {"i": {"kind": "PREPRINT", "title": f"Held {hold_seconds}s"}},
                    token=world.tokens["alice"],
                )
                await holder
                if expect_success:
                    assert not body.get("errors"), f"a short wait should have been retried away: {body}"
                    assert body["data"]["createSource"]["source"] is not None, body
                else:
                    codes = [e["extensions"]["code"] for e in body.get("errors") or []]
                    assert codes == ["SERVICE_BUSY"], f"a long wait should end in SERVICE_BUSY: {body}"
    finally:
        await impatient.dispose()
    assert (await verify(db)).broken is None
