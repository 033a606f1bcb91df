"""The benchmark on small data, so it never rots: every scenario runs (in-process and over HTTP),
each check passes, claimsdb equals the hand-written baseline, and the report has its documented
keys; the checks themselves catch a wrong answer. And the bulk import it rests on: validated like
the commands (errors name the record and the field), audited (the chain verifies), idempotent,
and writing the same rows as create_claim."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from api.settings import PROJECT_ROOT, Settings
from api.store.audit import verify_log
from api.store.bulk import bulk_import_claims, import_claims, import_sources
from api.store.commands.claims import create_claim
from api.store.commands.users import system_user
from api.store.commands.vocabulary import (
    ActionInput,
    ConditionInput,
    InterventionInput,
    OrganismInput,
    OutcomeInput,
    TargetInput,
    create_condition,
    create_intervention,
    create_organism,
    create_outcome,
    create_target,
)
from api.store.db import Database
from api.store.errors import StoreError, UserErrorCode
from schema.enums import EffectDirection, EvidenceType, Modality, Role, SourceKind, TargetAction
from schema.records import ClaimRecord, EvidenceRecord, SourceRecord
from schema.tables import AuditEvent, Claim, ClaimSearch, ClaimTarget, Evidence
from schema.users import Actor

if str(PROJECT_ROOT) not in sys.path:  # bench/ lives in the checkout, not in the installed package
    sys.path.insert(0, str(PROJECT_ROOT))

from bench import harness  # noqa: E402
from bench.baseline import BASELINES  # noqa: E402
from bench.generate import generate  # noqa: E402
from bench.scenarios import SCENARIOS, BenchParams, CheckFailed, as_json, execute, prepare  # noqa: E402

SMOKE_CLAIMS = 300
SMALL = BenchParams(page_size=10, deep_page=3, conflicts=3, pairs=3)


def small_options(tmp_path: Path, **overrides: Any) -> harness.Options:
    values: dict[str, Any] = dict(
        claims=SMOKE_CLAIMS, scenarios=list(SCENARIOS.values()), repetitions=2, seconds=1.0, warmup=0,
        http_requests=4, http_seconds=10.0, query_concurrency=(1, 2), curator_concurrency=(1, 2),
        peer=False, params=SMALL, log_dir=tmp_path,
    )  # fmt: skip
    values.update(overrides)
    return harness.Options(**values)


# --- the benchmark --------------------------------------------------------------------------


async def test_every_scenario_runs_checks_and_reports(
    db: Database, settings: Settings, backend: str, tmp_path: Path
) -> None:
    report = await generate(db, SMOKE_CLAIMS)
    assert (report.claims, report.reused) == (SMOKE_CLAIMS, False)
    again = await generate(db, SMOKE_CLAIMS)
    assert again.reused, "a database holding enough generated claims is reused, not filled twice"

    spec = harness.DatabaseSpec(backend, settings, generation=report.as_dict())
    document = await harness.run([spec], small_options(tmp_path))

    for key in ("machine", "versions", "claims", "params", "databases", "results", "command", "seconds"):
        assert key in document, f"the report lacks '{key}'"
    assert document["machine"]["nproc"] and document["versions"]["sqlalchemy"]
    info = document["databases"][backend]
    assert info["generation"]["claims"] == SMOKE_CLAIMS and info["deep_page"] == SMALL.deep_page
    results = {row["scenario"]: row for row in document["results"]}
    assert set(results) == set(SCENARIOS)
    for name, row in results.items():
        missing = set(harness.RESULT_KEYS) - set(row)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert row["database"] == backend and row["runs"] >= 2 and row["median_ms"] > 0
        assert row["sql_statements"] > 0 and row["peak_memory_kib"] > 0
        assert row["ratio_to_peer"] is None and row["requests_per_s_vs_peer"] is None, "no peer was asked for"
        levels = [h["concurrency"] for h in row["http"]]
        assert levels == [1, 2], f"{name} over HTTP ran at {levels}"
        for level in row["http"]:
            assert level["requests"] > 0 and level["requests_per_s"], f"{name}: {level}"
            assert (level["errors"], level["wrong_answers"]) == (0, 0), f"{name}: {level['first_error']}"
            # None only when /proc is missing; 0 is possible: the clock ticks in 10 ms steps.
            assert level["server_cpu_ms_per_request"] is not None, f"{name}: the server CPU was not measured"
        assert set(row["requests_per_s"]) == {"1", "2"}
        if name in BASELINES:
            assert row["check"] == "passed; equal to the baseline"
            assert row["baseline"]["median_ms"] > 0 and row["ratio_to_baseline"] > 0
        else:
            assert row["baseline"] is None and row["ratio_to_baseline"] is None
    assert set(results["Q1"]["baseline"]["plans"]) == {"join", "scan"}

    # bench/RESULTS.md is written from these tables: a row per scenario; with a peer, its
    # requests/s side by side per concurrency level.
    table = harness.markdown(document).splitlines()
    assert [line.split(" | ")[1] for line in table[2:]] == [row["scenario"] for row in document["results"]]
    q1 = results["Q1"]
    q1["peer"] = {"http": [{**h, "requests_per_s": h["requests_per_s"] * 2} for h in q1["http"]]}
    q1["requests_per_s_vs_peer"] = {"1": 0.5, "2": 0.5}
    peer_rows = [line for line in harness.markdown(document).splitlines() if "**0.50**" in line]
    assert len(peer_rows) == 2 and all(f"| {backend} | Q1 |" in line for line in peer_rows)


async def test_the_checks_catch_wrong_answers(db: Database, settings: Settings, tmp_path: Path) -> None:
    """A benchmark whose checks cannot fail would time wrong answers happily."""
    await generate(db, SMOKE_CLAIMS)
    schema = harness.build_schema(settings)
    prepared = await prepare(schema, db, settings, SMALL)
    q1 = SCENARIOS["Q1"]
    variables = q1.variables(prepared, 0)
    data = await execute(schema, db, settings, q1.document, variables)
    await q1.check(db, data, prepared, variables)

    shuffled = as_json(data)
    shuffled["claims"]["nodes"].reverse()
    with pytest.raises(CheckFailed, match="newest first"):
        await q1.check(db, shuffled, prepared, variables)
    options = small_options(tmp_path)
    with pytest.raises(CheckFailed, match="disagree at data.claims.nodes"):
        await harness.measure_baseline(options, db, q1, prepared, variables, shuffled)
    short = as_json(data)
    short["claims"]["nodes"].pop()
    with pytest.raises(CheckFailed, match="full page"):
        await q1.check(db, short, prepared, variables)

    q2 = SCENARIOS["Q2"]
    conflicts = as_json(await execute(schema, db, settings, q2.document, q2.variables(prepared, 0)))
    conflicts["conflicts"]["nodes"][0]["directionCounts"][0]["count"] += 1
    with pytest.raises(CheckFailed, match="direction counts"):
        await q2.check(db, conflicts, prepared, {})


# --- the bulk import ------------------------------------------------------------------------


async def _world(db: Database) -> tuple[Actor, dict[str, int]]:
    """A small vocabulary (through the commands) and two sources (through the bulk import)."""
    async with db.write(Actor(None, "test", Role.ADMIN)) as w:
        user = await system_user(w, "bulk-test")
        await create_organism(w, OrganismInput(9606, "Homo sapiens", "human"))
        await create_condition(w, ConditionInput("multiple sclerosis", None, ["MS"]))
        await create_target(w, TargetInput("IL-6R", "interleukin 6 receptor", "gene product", ["IL6R"]))
        await create_target(w, TargetInput("MIF", "macrophage migration inhibitory factor", "gene product"))
        await create_intervention(
            w,
            InterventionInput(
                "tocilizumab", "biologic", actions=[ActionInput("IL-6R", TargetAction.INHIBITS)]
            ),
        )
        await create_outcome(w, OutcomeInput("disease activity", "clinical course"))
    actor = Actor(user.id, user.name, Role.ADMIN)
    async with db.write(actor) as w:
        sources = await import_sources(
            w,
            [
                SourceRecord(
                    kind=SourceKind.PRIMARY_RESEARCH, title="Paper one", doi="https://doi.org/10.5555/Bulk.1"
                ),
                SourceRecord(kind=SourceKind.PRIMARY_RESEARCH, title="Paper two", doi="10.5555/bulk.2"),
            ],
        )
    async with db.read() as session:

        async def one(sql: str) -> int:
            return int((await session.execute(sa.text(sql))).scalar_one())

        ids = {
            "human": await one("SELECT id FROM organism"),
            "ms": await one("SELECT id FROM condition"),
            "il6r": await one("SELECT id FROM target WHERE symbol = 'IL-6R'"),
            "mif": await one("SELECT id FROM target WHERE symbol = 'MIF'"),
            "tocilizumab": await one("SELECT id FROM intervention"),
            "activity": await one("SELECT id FROM outcome"),
        }
    assert sources.inserted == 2 and all(sources.ids)
    ids["paper1"], ids["paper2"] = sources.ids  # type: ignore[assignment]
    return actor, ids


def _record(ids: dict[str, int], n: int, **changes: Any) -> dict[str, Any]:
    """A claim record as data (the import reads it as a ClaimRecord), so a bad value in it
    reaches the import's checks."""
    values: dict[str, Any] = dict(
        statement=f"Finding {n}: IL-6R signalling increases disease activity.",
        outcome=ids["activity"], direction=EffectDirection.INCREASES, modality=Modality.ASSERTED,
        evidence_type=EvidenceType.OBSERVATIONAL, organism=ids["human"], source=ids["paper1"],
        evidence=[EvidenceRecord(quote=f"Quote {n}: activity rose.", locator="Results")], target=ids["il6r"],
        condition=ids["ms"], sample_type=f"sample {n}",
    )  # fmt: skip
    values.update(changes)
    return values


async def _count(db: Database, table: Any) -> int:
    async with db.read() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_bulk_import_refuses_bad_records_naming_record_and_field(db: Database) -> None:
    actor, ids = await _world(db)
    records = [
        _record(ids, 0),
        _record(ids, 1, statement="   "),
        _record(ids, 2, intervention=ids["tocilizumab"]),
        _record(ids, 3, statistics={"p_value": 1.5}),
        _record(ids, 4, evidence=[EvidenceRecord(quote="")]),
        _record(ids, 5, evidence=[EvidenceRecord(quote="x" * 2001)]),
        _record(ids, 6, outcome=999_999),
        _record(ids, 7, statement="y" * 2001),
        _record(ids, 8, direction="SIDEWAYS"),
    ]
    with pytest.raises(StoreError) as caught:
        async with db.write(actor) as w:
            await import_claims(w, records, start=100)
    errors = {(e.field, e.code): e.message for e in caught.value.errors}
    expected = {
        ("records", "101", "statement"): "claim 101: statement must not be empty",
        ("records", "102", "target"): "claim 102: give exactly one of target and intervention",
        ("records", "103", "statistics", "pValue"): "claim 103: pValue must be between 0 and 1",
        ("records", "104", "evidence", "0", "quote"): "claim 104: quote must not be empty",
        ("records", "105", "evidence", "0", "quote"): "claim 105: quote is 2001 characters; at most 2000",
        ("records", "106", "outcome"): "claim 106: no outcome has id 999999",
        ("records", "107", "statement"): "claim 107: statement is 2001 characters; at most 2000",
        ("records", "108", "direction"): "claim 108: direction 'SIDEWAYS' is not one of INCREASES",
    }
    for (field, _code), message in errors.items():
        assert field in expected, f"unexpected error on {field}: {message}"
    for field, start in expected.items():
        found = [m for (f, _c), m in errors.items() if f == field]
        assert found and found[0].startswith(start), f"{field}: expected '{start}...', got {found}"
    assert any(code is UserErrorCode.NOT_FOUND for (_f, code) in errors)
    assert await _count(db, Claim) == 0, "a refused batch leaves nothing behind (the good record neither)"
    assert await _count(db, Evidence) == 0


async def test_bulk_import_is_audited_idempotent_and_writes_what_create_claim_writes(db: Database) -> None:
    actor, ids = await _world(db)
    records = [_record(ids, n) for n in range(7)] + [
        _record(ids, 7, target=None, intervention=ids["tocilizumab"],
                direction=EffectDirection.DECREASES, source=ids["paper2"], sample_type=None,
                evidence=[EvidenceRecord(quote="Tocilizumab lowered relapses."),
                          EvidenceRecord(quote="A second quote.")]),
        _record(ids, 0),  # repeats the first: skipped
    ]  # fmt: skip
    report = await bulk_import_claims(db, actor, iter(records), batch_size=4)
    assert (report.records, report.inserted, report.duplicates, report.batches) == (9, 8, 1, 3)

    async with db.read() as session:
        verified = await verify_log(session)
        events = (
            await session.execute(
                sa.select(AuditEvent.entity_id, AuditEvent.after["statement"].as_string()).where(
                    AuditEvent.action == "claim.create"
                )
            )
        ).all()
        claims = (await session.execute(sa.select(Claim.id, Claim.statement).order_by(Claim.id))).all()
    assert verified.broken is None, f"the audit chain is broken: {verified.broken}"
    assert sorted(events) == [tuple(c) for c in claims], "one claim.create event per claim, naming it"

    again = await bulk_import_claims(db, actor, records, batch_size=5)
    assert (again.inserted, again.duplicates) == (0, 9), "a repeated import adds nothing"
    assert await _count(db, Claim) == 8

    # audit="batch": one event per chunk that added claims, naming their ids.
    more = [_record(ids, n) for n in range(10, 15)]
    await bulk_import_claims(db, actor, more, batch_size=3, audit="batch")
    async with db.read() as session:
        assert (await verify_log(session)).broken is None
        batches = (
            await session.scalars(
                sa.select(AuditEvent.after)
                .where(AuditEvent.action == "claim.bulk_import")
                .order_by(AuditEvent.id)
            )
        ).all()
        new_ids = (
            await session.scalars(sa.select(Claim.id).where(Claim.id.not_in([c.id for c in claims])))
        ).all()
    assert [b["claims"] for b in batches] == [3, 2]
    named = [i for b in batches for first, last in b["ids"] for i in range(first, last + 1)]
    assert sorted(named) == sorted(new_ids) and len(new_ids) == 5
    with pytest.raises(StoreError) as caught:
        async with db.write(actor) as w:
            await import_claims(w, records[:1], on_duplicate="error")
    assert caught.value.errors[0].code is UserErrorCode.DUPLICATE
    assert caught.value.errors[0].field == ("records", "0", "statement")

    # The same claim through create_claim, from the other source: the same derived rows.
    async with db.write(actor) as w:
        made = await create_claim(
            w,
            ClaimRecord(
                statement="Tocilizumab decreases disease activity.", outcome="disease activity",
                direction=EffectDirection.DECREASES, modality=Modality.ASSERTED,
                evidence_type=EvidenceType.OBSERVATIONAL, organism="human", source="10.5555/bulk.1",
                evidence=[EvidenceRecord(quote="Tocilizumab lowered relapses."),
                          EvidenceRecord(quote="A second quote.")],
                intervention="tocilizumab", condition="MS",
            ),
        )  # fmt: skip
    async with db.read() as session:
        bulk_id = await session.scalar(sa.select(Claim.id).where(Claim.source_id == ids["paper2"]))
        rows = {}
        for claim_id in (bulk_id, made.id):
            target = (
                await session.execute(
                    sa.select(
                        ClaimTarget.target_id, ClaimTarget.via_intervention_id, ClaimTarget.target_direction
                    ).where(ClaimTarget.claim_id == claim_id)
                )
            ).all()
            document = await session.scalar(
                sa.select(ClaimSearch.document).where(ClaimSearch.claim_id == claim_id)
            )
            claim = await session.get(Claim, claim_id)
            assert claim is not None
            rows[claim_id] = (
                target,
                document.split("\n")[1:],
                claim.fingerprint == _fingerprint_of(claim),
                # Its creator last edited it (when the model records a last editor).
                getattr(claim, "last_edited_by_id", claim.created_by_id) == claim.created_by_id,
            )
    assert rows[bulk_id] == rows[made.id], "bulk rows differ from what create_claim writes"
    assert rows[bulk_id][0] == [(ids["il6r"], ids["tocilizumab"], "INCREASES")], (
        "an inhibitor's effect turns over"
    )


def _fingerprint_of(claim: Claim) -> str:
    from api.store.commands.claims import fingerprint_of

    return fingerprint_of(claim)
