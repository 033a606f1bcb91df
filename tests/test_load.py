"""Concurrency and load over HTTP against the real server (issue 7, item 3), on both databases.

The server runs as its own process (uvicorn on a free port) on a migrated and seeded database,
with the write rate limit off. Sixteen writers, each a real user with its own API token (eight
curators, eight reviewers), write at once for a bounded time, while four readers (anonymous, a
reader, a curator, a reviewer) page through `claims` and `conflicts` by cursor:

- curators create private drafts and edit, add quotes to and submit them (only their author
  touches a draft, so each of those writes must succeed: a refusal would be a spurious conflict);
- submitted claims join a shared pool on which the owning curator and every reviewer race: each
  reads the claim's version, then edits, reviews (accept / reject / request changes) or retracts
  it naming that version, so writers meet at the same version all the time;
- three deterministic races start the run: every reviewer and the owner update one claim at the
  same version at once; exactly one may win, the others must get VERSION_CONFLICT.

A second SQLite run gives the server a 20 ms busy timeout while another process takes the write
lock three times for 1.5 s: writers that meet it must get the documented SERVICE_BUSY answer
(and have written nothing), never "database is locked"; retried, they go through.

Afterwards, with the server quiet: the conflicts the API answers (anonymously and to a reviewer,
every question and every pair, by cursor) equal a from-scratch recomputation with the project's
pure rules (schema.bearing, schema.conflicts) over the visible claims; then, with the server
stopped: every acknowledged write is in the database as acknowledged and audited at exactly its
version; refused writes wrote nothing; no version of a claim was acknowledged twice (no lost
update) and every claim's versions are contiguous; every row is whole (quotes, claim_target,
claim_search) and matches the audit log; `claimsdb audit verify` passes. No answer was a 5xx, and
no client ever saw "database is locked" (SQLite's busy answers are the documented SERVICE_BUSY,
which the clients retry).

CI runs the write phase for CLAIMSDB_LOAD_SECONDS (default 10) per database; set it higher (e.g.
300) for the long run. With CLAIMSDB_RELIABILITY_FIGURES=<dir> the figures (requests by kind,
acknowledged writes, conflicts, busy answers, 5xx, latency percentiles, duration) are written there
as JSON (bench/reliability.py turns them into docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conflict_helpers import ModelPair, model_pairs
from reliability_helpers import (
    Ack,
    Client,
    Failed,
    Ledger,
    Refusal,
    RevisionAck,
    ServerProcess,
    Stats,
    TransportFailure,
    audit_events,
    check_consistency,
    check_ledger,
    decode_id,
    env_seconds,
    record_figures,
    run_cli,
    send_mutation,
    verify_audit,
)

from api.settings import Settings
from api.store.commands import sources as source_cmds
from api.store.commands.users import create_user
from api.store.db import Database
from schema.bearing import target_level_direction
from schema.conflicts import opposing_pair_count
from schema.enums import ClaimStatus, EffectDirection, Role, SourceKind, TargetAction
from schema.records import SourceRecord
from schema.tables import LIVE_STATUSES, Claim, InterventionAction, Outcome, Target
from schema.users import ANONYMOUS, Actor
from schema.visibility import claim_visibility

LOAD_SECONDS = env_seconds("CLAIMSDB_LOAD_SECONDS", 10.0)
# The SQLite busy variant runs a shorter load (a quarter of the main one, at least 6 s).
BUSY_LOAD_SECONDS = max(6.0, LOAD_SECONDS / 4)
CURATORS = 8
REVIEWERS = 8
READERS = 4
SOURCES = 8
RACES = 3  # deterministic same-version races before the timed phase
SEED = 7  # the writers' choices (not their timing) are reproducible

ADMIN = Actor(None, "load-test", Role.ADMIN)
PREFIX = "load"
SUBJECTS = [
    ("target", "IL-6R"),
    ("target", "MIF"),
    ("target", "PDE4"),
    ("target", "LIF"),
    ("intervention", "tocilizumab"),
    ("intervention", "ibudilast"),
]
OUTCOMES = ["disease activity", "disease progression", "neuroprotection"]
ORGANISMS = ["human", "mouse"]
CONDITIONS = [
    "relapsing-remitting multiple sclerosis",
    "secondary progressive multiple sclerosis",
    "multiple sclerosis",
    "amyotrophic lateral sclerosis",
]
DIRECTIONS = ["INCREASES", "DECREASES", "NO_EFFECT", "MIXED"]
MODALITIES = ["ASSERTED", "HEDGED", "HYPOTHESIS"]
# What a valid request may still be refused with when others write at the same time: the claim
# moved on (VERSION_CONFLICT; also a revision made against a version the claim has left), a
# reviewer asked to accept wording or a revision they wrote (FORBIDDEN), or an edit of a claim
# retracted meanwhile or a decision on a revision decided meanwhile (INVALID_TRANSITION; NOT_FOUND
# for a curator, to whom a retracted claim is invisible), or a second pending revision of one
# claim by one author (DUPLICATE), see `expected` below. Anything else is a bug.
EXPECTED_REFUSALS = {"VERSION_CONFLICT", "FORBIDDEN", "INVALID_TRANSITION"}


@dataclass
class Users:
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    curators: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)


@dataclass
class Shared:
    """Submitted claims every reviewer and their author act on, and who wrote each."""

    ids: list[str] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    client: Client
    stats: Stats
    ledger: Ledger
    users: Users
    shared: Shared
    deadline: float
    private_requests: set[str] = field(default_factory=set)
    reader_pages: Counter[str] = field(default_factory=Counter)
    reader_passes: Counter[str] = field(default_factory=Counter)
    reader_problems: list[str] = field(default_factory=list)

    def time_left(self) -> bool:
        return time.monotonic() < self.deadline

    async def send(
        self, name: str, input: dict[str, Any], token: str
    ) -> Ack | RevisionAck | Refusal | Failed:
        return await send_mutation(self.client, self.ledger, name, input, token)


async def make_users(db: Database) -> Users:
    """Real users with their own API tokens, and the sources the claims cite (store commands, as
    an admin would; the load itself all goes over HTTP)."""
    users = Users()
    async with db.write(ADMIN) as w:
        for role, names in ((Role.CURATOR, users.curators), (Role.REVIEWER, users.reviewers)):
            count = CURATORS if role is Role.CURATOR else REVIEWERS
            for n in range(count):
                name = f"load-{role.value.lower()}-{n}"
                user, token = await create_user(w, name, role)
                assert user.id is not None
                users.tokens[name], users.ids[name] = token, user.id
                names.append(name)
        user, token = await create_user(w, "load-reader", Role.READER)
        assert user.id is not None
        users.tokens["load-reader"], users.ids["load-reader"] = token, user.id
        for n in range(SOURCES):
            await source_cmds.create_source(
                w,
                SourceRecord(
                    kind=SourceKind.PRIMARY_RESEARCH, title=f"Load study {n}", doi=f"10.5555/load.{n}"
                ),
            )
    return users


def new_claim(rng: random.Random, tag: str, submit: bool) -> dict[str, Any]:
    kind, subject = rng.choice(SUBJECTS)
    direction = rng.choice(DIRECTIONS)
    data: dict[str, Any] = {
        kind: subject,
        "statement": f"[{tag}] {subject} {direction.lower()} (created)",
        "outcome": rng.choice(OUTCOMES),
        "direction": direction,
        "modality": rng.choice(MODALITIES),
        "evidenceType": rng.choice(["OBSERVATIONAL", "CLINICAL_TRIAL", "ANIMAL_MODEL"]),
        "organism": rng.choice(ORGANISMS),
        "source": f"10.5555/load.{rng.randrange(SOURCES)}",
        # Unique per claim, so no two claims share a fingerprint and no create is a DUPLICATE.
        "sampleType": f"sample {tag}",
        "evidence": [{"quote": f"Quote one of {tag}.", "locator": "Results"}],
        "submit": submit,
    }
    condition = rng.choice(CONDITIONS + [None])
    if condition is not None:
        data["condition"] = condition
    if rng.random() < 0.3:
        data["evidence"].append({"quote": f"Quote two of {tag}.", "stance": "DISPUTES"})
    return data


def edit(rng: random.Random, claim_id: str, version: int, tag: str) -> dict[str, Any]:
    """An edit whose statement is unique, so what was acknowledged can be found again."""
    data: dict[str, Any] = {
        "id": claim_id,
        "expectedVersion": version,
        "statement": f"[{tag}] edited",
        "comment": f"load edit {tag}",
    }
    if rng.random() < 0.4:
        data["direction"] = rng.choice(DIRECTIONS)
    if rng.random() < 0.3:
        data["modality"] = rng.choice(MODALITIES)
    return data


async def read_state(run: Run, claim_id: str, token: str) -> tuple[str, int] | None:
    answer = await run.client.post(
        "node",
        "query($id: ID!) { node(id: $id) { ... on Claim { status version } } }",
        {"id": claim_id},
        token,
    )
    if answer.body is None or answer.errors:
        run.stats.problems.append(f"reading {claim_id} failed: {answer.errors or answer.status}")
        return None
    node = answer.data.get("node")
    return (node["status"], node["version"]) if node else None


PENDING_REVISIONS = """
query($id: ID!) {
  node(id: $id) { ... on Claim { revisions(status: [PENDING], first: 5) { nodes { id } } } }
}"""


async def pending_revisions(run: Run, claim_id: str, token: str) -> list[str]:
    answer = await run.client.post("revisions", PENDING_REVISIONS, {"id": claim_id}, token)
    if answer.body is None or answer.errors:
        run.stats.problems.append(f"reading revisions of {claim_id} failed: {answer.errors or answer.status}")
        return []
    node = answer.data.get("node")
    return [r["id"] for r in node["revisions"]["nodes"]] if node else []


# --- writers --------------------------------------------------------------------------------


async def curator(run: Run, name: str, index: int) -> None:
    rng = random.Random(SEED * 1000 + index)
    token = run.users.tokens[name]
    drafts: dict[str, int] = {}  # private drafts: id -> the version this curator last got
    owned: list[str] = []  # claims it submitted (now shared)
    n = 0
    while run.time_left():
        n += 1
        tag = f"{name}.{n}"
        roll = rng.random()
        if roll < 0.2 or (not drafts and roll < 0.7):
            result = await run.send("createClaim", new_claim(rng, tag, False), token)
            run.private_requests.add(result.request_id)
            if isinstance(result, Ack):
                drafts[result.claim_id] = result.version
        elif roll < 0.45:
            claim_id = rng.choice(sorted(drafts))
            result = await run.send("updateClaim", edit(rng, claim_id, drafts[claim_id], tag), token)
            run.private_requests.add(result.request_id)
            if isinstance(result, Ack):
                drafts[claim_id] = result.version
        elif roll < 0.55:
            claim_id = rng.choice(sorted(drafts))
            evidence = {"quote": f"Another quote, {tag}.", "locator": "Discussion"}
            result = await run.send(
                "addEvidence",
                {"claim": claim_id, "expectedVersion": drafts[claim_id], "evidence": evidence},
                token,
            )
            run.private_requests.add(result.request_id)
            if isinstance(result, Ack):
                drafts[claim_id] = result.version
        elif roll < 0.7:
            claim_id = rng.choice(sorted(drafts))
            result = await run.send(
                "submitClaim", {"id": claim_id, "expectedVersion": drafts[claim_id]}, token
            )
            run.private_requests.add(result.request_id)
            if isinstance(result, Ack):
                del drafts[claim_id]
                owned.append(claim_id)
                run.shared.ids.append(claim_id)
                run.shared.owner[claim_id] = name
        elif owned:
            # Its shared claims, raced by the reviewers: read the version, then act on it.
            claim_id = rng.choice(owned)
            state = await read_state(run, claim_id, token)
            if state is None:  # retracted: no longer visible to its curator
                continue
            status, version = state
            if status in ("DRAFT", "REJECTED") and rng.random() < 0.5:
                await run.send("submitClaim", {"id": claim_id, "expectedVersion": version}, token)
            else:
                await run.send("updateClaim", edit(rng, claim_id, version, tag), token)


async def reviewer(run: Run, name: str, index: int) -> None:
    rng = random.Random(SEED * 2000 + index)
    token = run.users.tokens[name]
    n = 0
    while run.time_left():
        n += 1
        tag = f"{name}.{n}"
        claim_id = rng.choice(run.shared.ids)
        state = await read_state(run, claim_id, token)
        if state is None:
            run.reader_problems.append(f"{name} could not see {claim_id}; reviewers see every claim")
            continue
        status, version = state
        if status == "SUBMITTED":
            decision = rng.choices(["ACCEPT", "REJECT", "REQUEST_CHANGES"], [6, 2, 2])[0]
            data: dict[str, Any] = {"id": claim_id, "expectedVersion": version, "decision": decision}
            if decision != "ACCEPT":
                data["comment"] = f"load review {tag}"
            await run.send("reviewClaim", data, token)
        elif status == "ACCEPTED" and (roll := rng.random()) < 0.4:
            # Edits of accepted claims wait as revisions: decide one (perhaps one's own, FORBIDDEN;
            # perhaps made against a version the claim has left, VERSION_CONFLICT).
            for revision_id in (await pending_revisions(run, claim_id, token))[:1]:
                decision = rng.choices(["ACCEPT", "REJECT"], [7, 3])[0]
                data = {"id": revision_id, "decision": decision}
                if decision == "REJECT":
                    data["comment"] = f"load revision review {tag}"
                await run.send("reviewRevision", data, token)
        elif status == "ACCEPTED" and roll < 0.6:
            await run.send(
                "retractClaim",
                {"id": claim_id, "expectedVersion": version, "reason": f"load retraction {tag}"},
                token,
            )
        elif status != "RETRACTED" or rng.random() < 0.2:
            # Also, now and then, an edit of a retracted claim: refused as INVALID_TRANSITION.
            await run.send("updateClaim", edit(rng, claim_id, version, tag), token)


# --- readers --------------------------------------------------------------------------------

CLAIMS_PAGE = """
query($first: Int, $after: String) {
  claims(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id status version statement direction subject { __typename } outcome { name } evidence { quote } }
  }
}"""
CONFLICTS_PAGE = """
query($first: Int, $after: String) {
  conflicts(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id kind target { symbol } outcome { name } directionCounts { direction count }
      pairs(first: 5) { totalCount nodes { kind left { id } right { id } differences { aspect } } }
    }
  }
}"""


async def page_through(
    run: Run, who: str, token: str | None, field_name: str, query: str, first: int
) -> None:
    """One pass by cursor through a list: no errors, no item twice (keyset order is by keys that
    never change, so concurrent writes may add or remove items but never repeat one), and
    readers without a claim of their own see accepted claims only."""
    seen: set[str] = set()
    after = None
    for _ in range(10_000):
        try:
            answer = await run.client.post(field_name, query, {"first": first, "after": after}, token)
        except TransportFailure as exc:
            run.reader_problems.append(f"{who} {field_name}: {exc}")
            return
        if answer.body is None or answer.errors:
            run.reader_problems.append(f"{who} {field_name}: {answer.errors or answer.status}")
            return
        connection = answer.data[field_name]
        run.reader_pages[field_name] += 1
        for node in connection["nodes"]:
            key = node["id"]
            if key in seen:
                run.reader_problems.append(f"{who} {field_name}: {key} came twice in one pass")
            seen.add(key)
            if field_name == "claims" and who in ("anonymous", "reader") and node["status"] != "ACCEPTED":
                run.reader_problems.append(f"{who} saw a {node['status']} claim {key}")
        if not connection["pageInfo"]["hasNextPage"]:
            run.reader_passes[field_name] += 1
            return
        after = connection["pageInfo"]["endCursor"]
    run.reader_problems.append(f"{who} {field_name}: paging did not end")


async def reader(run: Run, who: str, token: str | None) -> None:
    """Whole passes, the first even when the time is up, so every reader pages through both lists
    at least once however slow the machine is."""
    while True:
        await page_through(run, who, token, "claims", CLAIMS_PAGE, 50)
        await page_through(run, who, token, "conflicts", CONFLICTS_PAGE, 5)
        if not run.time_left():
            return


# --- conflicts: the API against a recomputation -----------------------------------------------

ALL_CONFLICTS = """
query($first: Int, $after: String) {
  conflicts(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id kind target { symbol } outcome { name } directionCounts { direction count } }
  }
}"""
ALL_PAIRS = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Conflict {
    pairs(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { kind left { id } right { id } differences { aspect } }
    }
  } }
}"""


async def _all(
    client: Client, token: str | None, query: str, variables: dict[str, Any], path: list[str], first: int
) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    after = None
    total = -1
    for _ in range(100_000):
        answer = await client.post("verify", query, {**variables, "first": first, "after": after}, token)
        assert answer.body is not None and not answer.errors, f"{path}: {answer.errors or answer.status}"
        connection: Any = answer.data
        for key in path:
            connection = connection[key]
        out += connection["nodes"]
        total = connection["totalCount"]
        if not connection["pageInfo"]["hasNextPage"]:
            return out, total
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError(f"{path}: paging did not end")


async def api_conflicts(client: Client, token: str | None) -> dict[tuple[str, str], dict[str, Any]]:
    conflicts, total = await _all(client, token, ALL_CONFLICTS, {}, ["conflicts"], 50)
    assert total == len(conflicts), f"conflicts totalCount {total}, paging gave {len(conflicts)}"
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for conflict in conflicts:
        key = (conflict["target"]["symbol"], conflict["outcome"]["name"])
        assert key not in out, f"question {key} answered twice"
        pairs, pair_total = await _all(
            client, token, ALL_PAIRS, {"id": conflict["id"]}, ["node", "pairs"], 100
        )
        assert pair_total == len(pairs), f"{key}: pairs totalCount {pair_total}, paging gave {len(pairs)}"
        by_ids: dict[tuple[int, int], ModelPair] = {}
        for pair in pairs:
            left, right = decode_id(pair["left"]["id"]), decode_id(pair["right"]["id"])
            ids = (min(left, right), max(left, right))
            assert ids not in by_ids, f"{key}: pair {ids} answered twice"
            by_ids[ids] = ModelPair(pair["kind"], tuple(d["aspect"] for d in pair["differences"]))
        out[key] = {
            "kind": conflict["kind"],
            "counts": {row["direction"]: row["count"] for row in conflict["directionCounts"]},
            "pairs": by_ids,
        }
    return out


async def model_counts(db: Database, actor: Actor) -> dict[tuple[str, str], dict[str, int]]:
    """Claims per target-level direction for each (target, outcome), over the visible live claims,
    computed from the plain tables with schema.bearing (not from claim_target)."""
    visibility = claim_visibility(actor)
    async with db.read() as session:
        claims = list((await session.scalars(sa.select(Claim))).all())
        actions = list((await session.scalars(sa.select(InterventionAction))).all())
        symbols = dict((await session.execute(sa.select(Target.id, Target.symbol))).all())
        outcomes = dict((await session.execute(sa.select(Outcome.id, Outcome.name))).all())
    by_intervention: dict[int, list[InterventionAction]] = {}
    for action in actions:
        by_intervention.setdefault(action.intervention_id, []).append(action)
    out: dict[tuple[str, str], Counter[str]] = {}
    for claim in claims:
        if not visibility.allows(claim.status, claim.created_by_id) or claim.status not in LIVE_STATUSES:
            continue  # rejected and retracted claims take no part in conflicts
        direction = EffectDirection(claim.direction)
        if claim.subject_target_id is not None:
            levels = [(claim.subject_target_id, target_level_direction(direction, None))]
        else:
            levels = [
                (a.target_id, target_level_direction(direction, TargetAction(a.action)))
                for a in by_intervention.get(claim.subject_intervention_id or 0, [])
            ]
        for target_id, level in levels:
            if level is not None:
                out.setdefault((symbols[target_id], outcomes[claim.outcome_id]), Counter())[level.value] += 1
    return {key: dict(counts) for key, counts in out.items()}


async def compare_conflicts(client: Client, db: Database, token: str | None, actor: Actor) -> int:
    """The API's conflicts for this viewer equal the recomputation; returns the pairs compared."""
    answered = await api_conflicts(client, token)
    pairs = await model_pairs(db, actor)
    counts = await model_counts(db, actor)
    assert set(answered) == set(pairs), (
        f"{actor.name}: the API names questions {sorted(set(answered) - set(pairs))} the rules do not, "
        f"and misses {sorted(set(pairs) - set(answered))}"
    )
    for key, conflict in answered.items():
        expected = pairs[key]
        assert conflict["pairs"] == expected, (
            f"{actor.name} {key}: pairs differ; only the API: "
            f"{sorted(set(conflict['pairs']) - set(expected))[:5]}, only the rules: "
            f"{sorted(set(expected) - set(conflict['pairs']))[:5]}, different kind or differences: "
            f"{[k for k in expected if k in conflict['pairs'] and conflict['pairs'][k] != expected[k]][:5]}"
        )
        assert conflict["counts"] == counts[key], f"{actor.name} {key}: {conflict['counts']} != {counts[key]}"
        assert len(expected) == opposing_pair_count({EffectDirection(d): n for d, n in counts[key].items()})
        direct = any(p.kind == "DIRECT" for p in expected.values())
        assert conflict["kind"] == ("DIRECT" if direct else "CONTEXTUAL"), f"{actor.name} {key}: kind"
    return sum(len(c["pairs"]) for c in answered.values())


# --- the test -------------------------------------------------------------------------------


@pytest.fixture
async def server(settings: Settings, seeded_db: Database, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(settings, tmp_path, mode="uvicorn")
    try:
        yield process
    finally:
        await process.stop()


async def same_version_race(run: Run, claim_id: str) -> None:
    """The owner and every reviewer update one claim at the version they all read, at once."""
    owner = run.shared.owner[claim_id]
    state = await read_state(run, claim_id, run.users.tokens[owner])
    assert state is not None
    version = state[1]
    names = [owner, *run.users.reviewers]
    results = await asyncio.gather(
        *(
            run.send(
                "updateClaim",
                edit(random.Random(i), claim_id, version, f"race.{claim_id}.{name}"),
                run.users.tokens[name],
            )
            for i, name in enumerate(names)
        )
    )
    wins = [r for r in results if isinstance(r, Ack)]
    refusals = [r for r in results if isinstance(r, Refusal)]
    assert len(wins) == 1, f"{len(names)} updates at version {version}: {len(wins)} won, expected exactly 1"
    assert wins[0].version == version + 1
    assert len(refusals) == len(names) - 1 and all(r.codes == ("VERSION_CONFLICT",) for r in refusals), (
        f"the losers must get VERSION_CONFLICT: {[r.codes for r in refusals]}"
    )


async def hold_sqlite_lock(path: str, hold: float, times: int, gap: float, stop: asyncio.Event) -> int:
    """Take SQLite's write lock (BEGIN IMMEDIATE) from outside the server `times` times, for
    `hold` seconds each, `gap` seconds apart: the server's writers meet a lock held longer than
    their busy_timeout and its retries, as they would beside another process writing. Returns
    how often the lock was held."""

    def hold_once() -> None:
        connection = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            time.sleep(hold)
            connection.execute("ROLLBACK")
        finally:
            connection.close()

    held = 0
    for _ in range(times):
        try:
            await asyncio.wait_for(stop.wait(), gap)
            return held
        except TimeoutError:
            pass
        await asyncio.to_thread(hold_once)
        held += 1
    return held


async def load_and_verify(
    backend: str,
    settings: Settings,
    db: Database,
    server: ServerProcess,
    seconds: float,
    *,
    hold_lock: bool = False,
) -> dict[str, Any]:
    """Start the server, run the writers and readers for `seconds`, verify everything; the figures."""
    phases: dict[str, float] = {}
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        phases[name] = round(now - clock, 1)
        clock = now

    users = await make_users(db)
    await server.start()
    phase("setup_and_server_start")
    stats, ledger = Stats(), Ledger()
    client = Client(server.base_url, stats, PREFIX)
    run = Run(client, stats, ledger, users, Shared(), deadline=float("inf"))
    lock_holds = 0
    try:
        # The shared pool: two submitted claims per curator, made over HTTP.
        rng = random.Random(SEED)
        pool = [
            (name, new_claim(rng, f"{name}.shared.{k}", True)) for name in users.curators for k in range(2)
        ]
        created = await asyncio.gather(
            *(run.send("createClaim", data, users.tokens[name]) for name, data in pool)
        )
        for (name, _), ack in zip(pool, created, strict=True):
            assert isinstance(ack, Ack), f"creating the shared pool failed: {ack}"
            run.shared.ids.append(ack.claim_id)
            run.shared.owner[ack.claim_id] = name
        for claim_id in run.shared.ids[:RACES]:
            await same_version_race(run, claim_id)
        phase("shared_pool_and_races")

        began = time.monotonic()
        run.deadline = began + seconds
        tasks = [curator(run, name, i) for i, name in enumerate(users.curators)]
        tasks += [reviewer(run, name, i) for i, name in enumerate(users.reviewers)]
        viewers = [
            ("anonymous", None),
            ("reader", users.tokens["load-reader"]),
            ("curator", users.tokens[users.curators[0]]),
            ("reviewer", users.tokens[users.reviewers[0]]),
        ]
        tasks += [reader(run, who, token) for who, token in viewers[:READERS]]
        stop_holding = asyncio.Event()
        holder = None
        if hold_lock:
            assert settings.url.database
            holder = asyncio.create_task(
                hold_sqlite_lock(settings.url.database, 1.5, 3, seconds / 4, stop_holding)
            )
        await asyncio.gather(*tasks)
        if holder is not None:
            stop_holding.set()
            lock_holds = await holder
        duration = time.monotonic() - began
        phase("load")
        load_summary = stats.summary()  # before the verification queries below are counted

        assert stats.problems == [], (
            f"answers no client may get ({len(stats.problems)}): {stats.problems[:10]}"
        )
        assert stats.http_5xx == 0 and stats.transport_errors == 0, stats.summary()
        assert run.reader_problems == [], run.reader_problems[:10]
        async with db.read() as session:
            retracted = set(
                (
                    await session.scalars(sa.select(Claim.id).where(Claim.status == ClaimStatus.RETRACTED))
                ).all()
            )

        def expected(refusal: Refusal) -> bool:
            if set(refusal.codes) <= EXPECTED_REFUSALS:
                return True
            if refusal.codes == ("DUPLICATE",) and refusal.op in ("updateClaim", "addEvidence"):
                return ledger.proposed_before(refusal)
            # A curator's edit of its own claim that a reviewer retracted meanwhile: retracted
            # claims are hidden from curators, so the answer is NOT_FOUND (not a leak of its state).
            return (
                refusal.codes == ("NOT_FOUND",)
                and refusal.claim_id is not None
                and decode_id(refusal.claim_id) in retracted
            )

        unexpected = [r for r in ledger.refusals if not expected(r)]
        assert unexpected == [], f"valid writes refused for no concurrent reason: {unexpected[:10]}"
        spurious = [r for r in ledger.refusals if r.request_id in run.private_requests]
        assert spurious == [], f"a curator's own draft, written by no one else, was refused: {spurious[:10]}"
        assert stats.user_errors["VERSION_CONFLICT"] >= RACES * REVIEWERS, "the races must have conflicted"
        assert run.reader_passes["claims"] >= 1 and run.reader_passes["conflicts"] >= 1, run.reader_passes

        # The server is quiet now: its conflicts against the rules, for two kinds of viewer.
        reviewer_actor = Actor(users.ids[users.reviewers[0]], users.reviewers[0], Role.REVIEWER)
        pairs_anonymous = await compare_conflicts(client, db, None, ANONYMOUS)
        pairs_reviewer = await compare_conflicts(client, db, users.tokens[users.reviewers[0]], reviewer_actor)
        phase("conflicts_compared")
    finally:
        await client.close()
        await server.stop()

    result = await verify_audit(db)
    assert result.broken is None, f"the audit chain broke: {result.broken}"
    cli = await run_cli(settings, "audit", "verify")
    assert cli.returncode == 0 and "audit chain intact" in cli.stdout, cli.stdout + cli.stderr
    phase("audit_verified")
    cli = await run_cli(settings, "db", "check")  # every write kept the maintained aggregates
    assert cli.returncode == 0 and "aggregates agree" in cli.stdout, cli.stdout + cli.stderr
    phase("aggregates_checked")
    problems = check_ledger(ledger, await audit_events(db), PREFIX)
    assert problems == [], f"{len(problems)} problems, e.g. {problems[:10]}"
    problems = await check_consistency(db)
    assert problems == [], f"{len(problems)} problems, e.g. {problems[:10]}"
    phase("database_checked")
    async with db.read() as session:
        claims = int(await session.scalar(sa.select(sa.func.count()).select_from(Claim)) or 0)

    ops = Counter(ack.op for ack in ledger.acks)
    revision_ops = Counter(r.action for r in ledger.revision_acks)
    return {
        "duration_seconds": round(duration, 1),
        "load_seconds_setting": seconds,
        "writers": CURATORS + REVIEWERS,
        "curators": CURATORS,
        "reviewers": REVIEWERS,
        "readers": READERS,
        "acknowledged_writes": len(ledger.acks),
        "acknowledged_by_kind": dict(sorted(ops.items())),
        "revisions_acknowledged": dict(sorted(revision_ops.items())),
        "refused_writes": len(ledger.refusals),
        "version_conflicts": stats.user_errors["VERSION_CONFLICT"],
        "external_lock_holds": lock_holds,
        "reader_pages": dict(run.reader_pages),
        "reader_passes": dict(run.reader_passes),
        "conflict_pairs_compared": {"anonymous": pairs_anonymous, "reviewer": pairs_reviewer},
        "claims_in_database": claims,
        "audit_events_verified": result.events,
        "phase_seconds": phases,
        **load_summary,
    }


async def test_concurrent_writers_and_readers(
    backend: str, settings: Settings, seeded_db: Database, server: ServerProcess
) -> None:
    figures = await load_and_verify(backend, settings, seeded_db, server, LOAD_SECONDS)
    record_figures("load", "concurrent_writers_and_readers", backend, figures)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_busy_is_answered_and_retried_never_locked(
    backend: str, settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    """The same load on SQLite with a short busy_timeout (20 ms) while another process takes the
    write lock three times for 1.5 s: writers that meet the held lock must get the documented
    SERVICE_BUSY answer (and write nothing), never "database is locked"; retried, they succeed."""
    server = ServerProcess(
        settings, tmp_path, mode="uvicorn", extra_env={"CLAIMSDB_SQLITE_BUSY_TIMEOUT_MS": "20"}
    )
    try:
        figures = await load_and_verify(
            backend, settings, seeded_db, server, BUSY_LOAD_SECONDS, hold_lock=True
        )
    finally:
        await server.stop()
    assert figures["external_lock_holds"] >= 1, figures
    assert figures["busy_answers"] >= 1, f"a held lock must have been answered SERVICE_BUSY: {figures}"
    record_figures("load", "sqlite_busy_retried", backend, figures)
