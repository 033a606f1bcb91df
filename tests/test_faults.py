"""Faults (issue 7, item 4a): processes killed with SIGKILL in the middle of writing, then run
again on the same database, on SQLite and PostgreSQL.

- The server (`claimsdb serve`), killed while curators and reviewers stream mutations at it and a
  write transaction is open; restarted on the same database, twice. It must open, the audit chain
  must verify, every acknowledged write must be there as acknowledged, a request that never got
  its answer must have written all of its rows or none, and every row must be whole and match
  the audit log (claims with their quotes, claim_target and claim_search rows, cohorts, reviews;
  no audit event without its row change, no row change without its event). Then it serves writes.
- `claimsdb seed`, killed inside its transaction (early, and later), then run again: the result
  equals an uninterrupted seeding (the seeded test template, loaded by the same code).
- The bulk import (`python -m bench.generate`, which writes through api.store.bulk), killed inside
  its vocabulary transaction and again after some blocks were committed, then run again: it
  resumes and the result equals an uninterrupted run with the same seed.

The kills are timed by watching the database (WriteProbe): a write transaction is open (SQLite's
write lock is held; a PostgreSQL backend has a transaction id) when the signal is sent. What a
test asserts holds wherever the kill lands; the figures record where it did.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import MIGRATED, Databases
from reliability_helpers import (
    Ack,
    Client,
    Ledger,
    ServerProcess,
    Stats,
    TransportFailure,
    WriteProbe,
    audit_events,
    canonical_dump,
    check_consistency,
    check_ledger,
    cli_command,
    decode_id,
    dump_differences,
    kill_mid_write,
    record_figures,
    run_cli,
    send_mutation,
    server_env,
    spawn_logged,
    verify_audit,
)

from api.settings import PROJECT_ROOT, Settings
from api.store.commands import sources as source_cmds
from api.store.commands.users import create_user
from api.store.db import Database
from api.store.queries.aggregates import aggregate_differences
from bench.generate import TARGET_COUNT
from bench.http_load import tail
from schema.enums import Role, SourceKind
from schema.records import SourceRecord
from schema.tables import Claim
from schema.users import Actor

ADMIN = Actor(None, "fault-test", Role.ADMIN)
CURATORS = 4
REVIEWERS = 2
KILLS = 2
# Acknowledged writes each cycle waits for before it looks for an open write transaction to kill.
ACKS_BEFORE_KILL = 12
SUBJECTS = [
    ("target", "IL-6R"),
    ("target", "MIF"),
    ("intervention", "tocilizumab"),
    ("intervention", "ibudilast"),
]
OUTCOMES = ["disease activity", "disease progression"]


@dataclass
class Users:
    tokens: dict[str, str] = field(default_factory=dict)
    curators: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)


async def make_users(db: Database) -> Users:
    users = Users()
    async with db.write(ADMIN) as w:
        for role, count, names in (
            (Role.CURATOR, CURATORS, users.curators),
            (Role.REVIEWER, REVIEWERS, users.reviewers),
        ):
            for n in range(count):
                name = f"fault-{role.value.lower()}-{n}"
                _, token = await create_user(w, name, role)
                users.tokens[name] = token
                names.append(name)
        await source_cmds.create_source(
            w,
            SourceRecord(kind=SourceKind.PRIMARY_RESEARCH, title="Fault study", doi="10.5555/fault"),
        )
    return users


@dataclass
class Stream:
    """Writers streaming mutations at one server until it dies under them."""

    client: Client
    ledger: Ledger
    users: Users
    acks_wanted: int = 0  # the kill waits for this many acknowledged writes (all cycles)
    submitted: list[str] = field(default_factory=list)
    killed: bool = False  # set by the killer: the writers stop
    broken: bool = False  # a writer lost its connection (after the kill, or the server died)

    async def send(self, name: str, input: dict[str, Any], who: str) -> Any:
        return await send_mutation(self.client, self.ledger, name, input, self.users.tokens[who])


def claim_input(rng: random.Random, tag: str) -> dict[str, Any]:
    """A claim with two quotes and a cohort of its own: one request writes a cohort, a claim,
    its evidence, claim_target and claim_search rows and two audit events, all or nothing."""
    kind, subject = rng.choice(SUBJECTS)
    return {
        kind: subject,
        "statement": f"[{tag}] {subject} (created)",
        "outcome": rng.choice(OUTCOMES),
        "direction": rng.choice(["INCREASES", "DECREASES", "NO_EFFECT"]),
        "modality": "ASSERTED",
        "evidenceType": "OBSERVATIONAL",
        "organism": "human",
        "condition": "RRMS",
        "source": "10.5555/fault",
        "cohort": {"label": f"cohort {tag}", "size": 20 + rng.randrange(50), "sampleType": "CSF"},
        "sampleType": f"sample {tag}",
        "evidence": [
            {"quote": f"First quote of {tag}."},
            {"quote": f"Second quote of {tag}.", "locator": "Fig. 2"},
        ],
        "submit": rng.random() < 0.5,
    }


async def curator(stream: Stream, name: str, seed: int) -> None:
    rng = random.Random(seed)
    own: dict[str, tuple[int, str]] = {}  # id -> (version, status) as last acknowledged
    n = 0
    try:
        while not stream.killed:
            n += 1
            tag = f"{name}.{seed}.{n}"
            roll = rng.random()
            if roll < 0.4 or not own:
                result = await stream.send("createClaim", claim_input(rng, tag), name)
            else:
                claim_id = rng.choice(sorted(own))
                version, status = own[claim_id]
                if roll < 0.65:
                    data = {"id": claim_id, "expectedVersion": version, "statement": f"[{tag}] edited"}
                    result = await stream.send("updateClaim", data, name)
                elif roll < 0.85:
                    evidence = {"quote": f"Added quote {tag}.", "locator": "Discussion"}
                    data = {"claim": claim_id, "expectedVersion": version, "evidence": evidence}
                    result = await stream.send("addEvidence", data, name)
                elif status in ("DRAFT", "REJECTED"):
                    result = await stream.send(
                        "submitClaim", {"id": claim_id, "expectedVersion": version}, name
                    )
                else:
                    continue
            if isinstance(result, Ack):
                if result.status == "SUBMITTED":
                    stream.submitted.append(result.claim_id)
                own[result.claim_id] = (result.version, result.status)
                if result.status not in ("DRAFT", "SUBMITTED", "REJECTED"):
                    own.pop(result.claim_id)
    except TransportFailure:
        stream.broken = True


async def reviewer(stream: Stream, name: str, seed: int) -> None:
    rng = random.Random(seed)
    token = stream.users.tokens[name]
    n = 0
    try:
        while not stream.killed:
            n += 1
            if not stream.submitted:
                await asyncio.sleep(0.05)
                continue
            claim_id = rng.choice(stream.submitted)
            answer = await stream.client.post(
                "node",
                "query($id: ID!) { node(id: $id) { ... on Claim { status version } } }",
                {"id": claim_id},
                token,
            )
            node = (answer.body or {}).get("data", {}).get("node")
            if not node:
                continue
            data: dict[str, Any] = {"id": claim_id, "expectedVersion": node["version"]}
            if node["status"] == "SUBMITTED":
                decision = rng.choice(["ACCEPT", "ACCEPT", "REJECT"])
                data |= {"decision": decision, "comment": None if decision == "ACCEPT" else "not convinced"}
                await stream.send("reviewClaim", data, name)
            elif node["status"] == "ACCEPTED":
                await stream.send("retractClaim", data | {"reason": f"withdrawn {name}.{n}"}, name)
            else:
                await asyncio.sleep(0.01)
    except TransportFailure:
        stream.broken = True


async def kill_when_writing(server: ServerProcess, stream: Stream, probe: WriteProbe) -> dict[str, Any]:
    """Once enough writes were acknowledged, SIGKILL the server while a write transaction is open
    and requests are in flight (or, if none is seen in a minute, anyway)."""
    while len(stream.ledger.acks) < stream.acks_wanted:
        if stream.broken:
            raise AssertionError(f"the server died before the kill: {server.log_tail()}")
        await asyncio.sleep(0.02)
    deadline = time.monotonic() + 60
    seen = False
    while time.monotonic() < deadline:
        if stream.client.in_flight >= 2 and await probe():
            seen = True
            break
        await asyncio.sleep(0.005)
    in_flight = stream.client.in_flight
    code = await asyncio.to_thread(server.kill)
    stream.killed = True
    return {"write_transaction_open": seen, "in_flight": in_flight, "exit_status": code}


async def acknowledged_rows_present(db: Database, ledger: Ledger) -> list[str]:
    """Each acknowledged write's claim is in the table at that version or a later one."""
    async with db.read() as session:
        versions = dict((await session.execute(sa.select(Claim.id, Claim.version))).all())
    problems = []
    for ack in ledger.acks:
        have = versions.get(decode_id(ack.claim_id))
        if have is None or have < ack.version:
            problems.append(
                f"{ack.op} {ack.request_id} acknowledged version {ack.version}; the table has {have}"
            )
    return problems


async def test_server_killed_mid_mutations_restarts_whole(
    backend: str, settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    db = seeded_db
    users = await make_users(db)
    server = ServerProcess(settings, tmp_path, mode="serve")
    probe = WriteProbe(settings)
    ledger = Ledger()
    stats = Stats()
    cycles: list[dict[str, Any]] = []
    try:
        await server.start()
        for cycle in range(KILLS):
            prefix = f"fault{cycle}"
            client = Client(server.base_url, stats, prefix)
            stream = Stream(client, ledger, users, acks_wanted=len(ledger.acks) + ACKS_BEFORE_KILL)
            writers = [curator(stream, name, cycle * 100 + i) for i, name in enumerate(users.curators)]
            writers += [
                reviewer(stream, name, cycle * 100 + 50 + i) for i, name in enumerate(users.reviewers)
            ]
            tasks = [asyncio.create_task(w) for w in writers]
            try:
                kill = await kill_when_writing(server, stream, probe)
                await asyncio.wait_for(asyncio.gather(*tasks), 120)
            finally:
                for task in tasks:
                    task.cancel()
                await client.close()
            assert kill["exit_status"] == -9, f"the server should have died of SIGKILL: {kill}"

            began = time.monotonic()
            await server.start()  # `claimsdb serve` on the same database: it must open and answer
            kill["restart_seconds"] = round(time.monotonic() - began, 1)

            result = await verify_audit(db)
            assert result.broken is None, f"cycle {cycle}: the audit chain broke: {result.broken}"
            events = await audit_events(db)
            cycle_unknown = {r for r in ledger.unknown if r.startswith(prefix + "-")}
            problems = check_ledger(ledger, events, prefix + "-")
            assert problems == [], f"cycle {cycle}: {len(problems)} problems, e.g. {problems[:10]}"
            problems = await acknowledged_rows_present(db, ledger)
            assert problems == [], problems[:10]
            problems = await check_consistency(db)
            assert problems == [], f"cycle {cycle}: {len(problems)} problems, e.g. {problems[:10]}"
            written = {e.request_id for e in events}
            kill |= {
                "acknowledged_writes": sum(1 for a in ledger.acks if a.request_id.startswith(prefix + "-")),
                "unanswered_requests": len(cycle_unknown),
                "unanswered_that_committed_whole": len(cycle_unknown & written),
                "unanswered_absent": len(cycle_unknown - written),
                "audit_events_verified": result.events,
            }
            cycles.append(kill)

        # The restarted server takes writes again.
        client = Client(server.base_url, stats, "after")
        try:
            stream = Stream(client, ledger, users)
            name = users.curators[0]
            created = await stream.send("createClaim", claim_input(random.Random(99), "after.1"), name)
            assert isinstance(created, Ack), created
            edit = {"id": created.claim_id, "expectedVersion": created.version, "statement": "after restart"}
            edited = await stream.send("updateClaim", edit, name)
            assert isinstance(edited, Ack) and edited.version == created.version + 1, edited
        finally:
            await client.close()
    finally:
        await probe.close()
        await server.stop()
    assert stats.problems == [], stats.problems[:10]
    assert stats.http_5xx == 0, stats.summary()
    assert (await check_consistency(db)) == []
    cli = await run_cli(settings, "audit", "verify")  # the command an operator runs after a crash
    assert cli.returncode == 0 and "audit chain intact" in cli.stdout, cli.stdout + cli.stderr
    cli = await run_cli(settings, "db", "check")  # and this one: the aggregates survived the kills
    assert cli.returncode == 0 and "aggregates agree" in cli.stdout, cli.stdout + cli.stderr
    record_figures(
        "faults",
        "server_sigkill",
        backend,
        {
            "kills": len(cycles),
            "cycles": cycles,
            "writers": CURATORS + REVIEWERS,
            "requests_total": sum(stats.requests.values()),
            "acknowledged_writes": len(ledger.acks),
            "unanswered_requests": len(ledger.unknown),
            "http_5xx": stats.http_5xx,
            "server_starts": server.starts,
        },
    )


# --- seeds and the bulk import ----------------------------------------------------------------


@asynccontextmanager
async def fresh_database(
    databases: Databases, backend: str, kind: str
) -> AsyncIterator[tuple[Settings, Database]]:
    """Another database for this test, copied from a template (conftest), dropped afterwards."""
    settings, handle = await databases.fresh(backend, kind)
    db = Database(settings)
    try:
        yield settings, db
    finally:
        await db.dispose()
        await databases.discard(backend, handle)


async def timed_run(command: list[str], settings: Settings, log: Path) -> tuple[int, float, str]:
    """Run `command` to its end; its exit status, how long write transactions were seen open (from
    the first time one was seen to the last), and its output's tail."""
    probe = WriteProbe(settings)
    process = spawn_logged(command, settings, log)
    first = last = None
    try:
        while process.poll() is None:
            if await probe():
                last = time.monotonic()
                first = first or last
            await asyncio.sleep(0.01)
    finally:
        await probe.close()
    assert first is not None and last is not None, f"{command} was never seen writing: {tail(log)}"
    return process.returncode, last - first, tail(log)


async def assert_whole_and_audited(db: Database, what: str) -> int:
    result = await verify_audit(db)
    assert result.broken is None, f"{what}: the audit chain broke: {result.broken}"
    problems = await check_consistency(db)
    assert problems == [], f"{what}: {len(problems)} problems, e.g. {problems[:10]}"
    async with db.read() as session:  # what `claimsdb db check` runs
        differences = [d.describe() for d in await aggregate_differences(session)]
    assert differences == [], f"{what}: the maintained aggregates differ from the claims: {differences}"
    return result.events


async def assert_same_content(db: Database, reference: Database, what: str) -> None:
    differences = dump_differences(await canonical_dump(db), await canonical_dump(reference))
    assert differences == [], f"{what} differs from an uninterrupted run:\n" + "\n".join(differences)


async def test_seed_killed_mid_way_then_rerun_equals_uninterrupted(
    backend: str, settings: Settings, db: Database, _databases: Databases, tmp_path: Path
) -> None:
    """`claimsdb seed` loads everything in one transaction: killed, it leaves all of it or none;
    run again, the database equals one seeded without interruption."""
    empty = await canonical_dump(db)
    async with fresh_database(_databases, backend, MIGRATED) as (_, reference):
        code, seconds, output = await timed_run(cli_command("seed"), reference.settings, tmp_path / "ref.log")
        assert code == 0, output
        complete = await canonical_dump(reference)
        # Kill half-way through the transaction as the uninterrupted run took it. Should this run
        # go faster and commit first, kill the next one at its first write instead.
        kills: list[dict[str, Any]] = []
        for delay in (seconds / 2, 0.0):
            kill = await kill_mid_write(
                cli_command("seed"), settings, tmp_path / f"seed-{len(kills)}.log", delay=delay
            )
            assert kill.returncode in (0, -9), kill.output
            left = await canonical_dump(db)
            landed = "inside the transaction" if left == empty else "after the commit"
            kills.append({"delay_seconds": round(delay, 2), "exit_status": kill.returncode, "landed": landed})
            if left not in (empty, complete):
                differences = dump_differences(left, complete)
                raise AssertionError("a killed seed left part of its rows:\n" + "\n".join(differences))
            await assert_whole_and_audited(db, f"after kill {len(kills)}")
            if left == empty:
                break
            await reset(db, settings)  # seeded whole: empty the database for the next kill
        assert kills[-1]["landed"] == "inside the transaction", kills

        rerun = await run_cli(settings, "seed")
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        events = await assert_whole_and_audited(db, "after the rerun")
        await assert_same_content(db, reference, "the seeded database")
    record_figures(
        "faults",
        "seed_sigkill",
        backend,
        {"kills": len(kills), "attempts": kills, "uninterrupted_write_seconds": round(seconds, 2),
         "audit_events_verified": events},
    )  # fmt: skip


async def reset(db: Database, settings: Settings) -> None:
    """Back to an empty migrated database: every table down, and up again."""
    await db.dispose()
    for step in (("db", "downgrade", "base"), ("db", "upgrade")):
        done = await run_cli(settings, *step)
        assert done.returncode == 0, done.stdout + done.stderr


GENERATE_CLAIMS = 1000
GENERATE_BLOCK_SOURCES = 50  # 250 claims per block: four blocks


def generate_command(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "bench.generate", "--claims", str(GENERATE_CLAIMS),
        "--block-sources", str(GENERATE_BLOCK_SOURCES), "--quiet",
        "--database", settings.url.render_as_string(hide_password=False),
    ]  # fmt: skip


async def scalar(db: Database, sql: str) -> int:
    async with db.read() as session:
        return int(await session.scalar(sa.text(sql)) or 0)


async def test_bulk_import_killed_mid_way_then_rerun_equals_uninterrupted(
    backend: str, settings: Settings, db: Database, _databases: Databases, tmp_path: Path
) -> None:
    """The bulk import writes its vocabulary in one transaction and its claims in blocks of one
    transaction each. Killed inside the vocabulary, it leaves none of it; killed after some blocks,
    it leaves whole blocks; run again, it resumes, and the result equals an uninterrupted run."""
    per_block = GENERATE_BLOCK_SOURCES * 5
    async with fresh_database(_databases, backend, MIGRATED) as (reference_settings, reference):
        code, seconds, output = await timed_run(generate_command(reference_settings), reference_settings,
                                                tmp_path / "ref.log")  # fmt: skip
        assert code == 0, output

        async def in_vocabulary() -> bool:
            # The generator's user is committed (its own transaction) and no target is yet.
            users = await scalar(db, "SELECT count(*) FROM app_user WHERE name = 'bench-generator'")
            return users > 0 and await scalar(db, "SELECT count(*) FROM target") == 0

        async def after_a_block() -> bool:
            # One or two blocks committed: the open transaction is a middle block, never the last.
            return (
                per_block <= await scalar(db, "SELECT count(*) FROM claim") <= GENERATE_CLAIMS - 2 * per_block
            )

        attempts = []
        for stage, ready in (("vocabulary", in_vocabulary), ("blocks", after_a_block)):
            kill = await kill_mid_write(
                generate_command(settings), settings, tmp_path / f"{stage}.log", ready=ready
            )
            assert kill.killed and kill.returncode == -9, f"{stage}: {kill}"
            claims = await scalar(db, "SELECT count(*) FROM claim")
            targets = await scalar(db, "SELECT count(*) FROM target")
            attempts.append({"stage": stage, "claims_left": claims, "targets_left": targets})
            if stage == "vocabulary":  # one transaction: all of it or none (none unless it just committed)
                assert claims == 0 and targets in (0, TARGET_COUNT), (
                    f"the vocabulary came in part: {attempts}"
                )
            else:
                assert claims % per_block == 0 and 0 < claims < GENERATE_CLAIMS, (
                    f"the kill must leave whole blocks: {claims} claims in blocks of {per_block}"
                )
            await assert_whole_and_audited(db, f"after the kill in {stage}")

        rerun = await asyncio.to_thread(
            subprocess.run, generate_command(settings), env=server_env(settings), cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert (
            f"resumed: an earlier run had written {attempts[-1]['claims_left']:,} claims" in rerun.stdout
        ), rerun.stdout
        events = await assert_whole_and_audited(db, "after the rerun")
        await assert_same_content(db, reference, "the imported database")
    record_figures(
        "faults",
        "bulk_import_sigkill",
        backend,
        {
            "kills": len(attempts),
            "attempts": attempts,
            "claims": GENERATE_CLAIMS,
            "claims_per_block": per_block,
            "uninterrupted_write_seconds": round(seconds, 2),
            "audit_events_verified": events,
        },
    )
