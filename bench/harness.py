"""Runs the scenarios and reports ratios taken in one run (engineering.md, "Performance stance").

Per database (SQLite, PostgreSQL) and scenario:
- check first (bench.scenarios; for Q1, Q3, Q4, Q5 also equality with the baseline's JSON);
- in-process: `schema.execute` with a fresh context per call (as the endpoint builds it), many
  repetitions within a time budget: median and p99 in ms; SQL statements per request (a
  before_cursor_execute listener); peak Python memory of one request (tracemalloc);
- the baseline (bench.baseline) timed the same way; `ratio_to_baseline` = claimsdb's median ÷
  the baseline's (its faster plan);
- over HTTP (bench.http_load): uvicorn with create_app, httpx at concurrency 1, 8 and 32 (M1: 1
  and 8 curators, with the write rate limit off), p50 / p99 / requests per second, every
  response checked; failed requests (errors, timeouts) are reported, wrong answers fail the run;
- PostGraphile (bench.peer) on PostgreSQL when node and npm are there: `ratio_to_peer` =
  claimsdb's HTTP p50 ÷ PostGraphile's HTTP p50, both at concurrency 1.

The machine is shared and noisy: compare ratios within one run, never absolute times across runs.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
import strawberry
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from api.graphql.schema import build_schema
from api.settings import Settings
from api.store import migrations
from api.store.db import Database
from bench import baseline as base
from bench.generate import DEFAULT_SEED, GenerateError, GenerationReport, generate
from bench.http_load import LoadResult, Server, load, percentile, serve
from bench.scenarios import (
    BenchParams,
    CheckFailed,
    Prepared,
    Scenario,
    as_json,
    create_claim_variables,
    curator_actors,
    execute,
    first_difference,
    prepare,
    prepare_rare,
)
from schema.tables import Claim

RESULT_KEYS = (
    "scenario", "database", "title", "median_ms", "p99_ms", "runs", "sql_statements", "sql_transactions",
    "peak_memory_kib",
    "baseline", "http", "requests_per_s", "peer", "ratio_to_baseline", "ratio_to_peer",
    "requests_per_s_vs_peer", "check", "rare", "ratio_to_q1", "hot_to_rare",
)  # fmt: skip
QUERY_CONCURRENCY = (1, 8, 32)
# The benchmark's server: the per-token write rate limit off (M1 measures the write path, not the
# limiter, which would hold each curator to 2 writes a second).
SERVER_ENV = {"CLAIMSDB_WRITE_RATE_PER_MINUTE": "0"}
CURATOR_CONCURRENCY = (1, 8)


@dataclass
class DatabaseSpec:
    name: str  # "sqlite" | "postgresql"
    settings: Settings
    generation: dict[str, Any] | None = None  # the data's report, once made or found


@dataclass
class Options:
    claims: int = 1_000_000
    seed: int = DEFAULT_SEED
    scenarios: list[Scenario] = field(default_factory=list)
    repetitions: int = 30
    seconds: float = 20.0  # in-process time budget per measurement
    warmup: int = 2
    http: bool = True
    http_requests: int = 300
    http_seconds: float = 15.0
    query_concurrency: tuple[int, ...] = QUERY_CONCURRENCY
    curator_concurrency: tuple[int, ...] = CURATOR_CONCURRENCY
    peer: bool = True
    # Q1 over HTTP with 1 and `workers` uvicorn workers at concurrency 8, and PostGraphile
    # (bench.workers), on PostgreSQL; 0 leaves it out.
    workers: int = 0
    workers_rounds: int = 2
    params: BenchParams = field(default_factory=BenchParams)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    command: str = ""
    log: Callable[[str], None] = lambda _message: None
    progress: Callable[[int, int], None] | None = None
    data_paths: list[str] = field(default_factory=list)  # I1, E1 (bench/data_paths.py)


# --- measuring ------------------------------------------------------------------------------


# Transaction control and SQLite housekeeping: SQLite sends BEGIN through the cursor (PostgreSQL's
# driver does not), so transactions are counted apart (engine "begin" events, on both).
_HOUSEKEEPING = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b", re.IGNORECASE)


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def counting_statements(db: Database) -> Iterator[StatementLog]:
    """Every SQL statement the engine sends while the block runs, and the transactions begun (each
    session a request opens: the page's, each DataLoader batch's)."""
    log = StatementLog()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not _HOUSEKEEPING.match(statement):
            log.statements.append(statement)

    def begin(_conn: Any) -> None:
        log.transactions += 1

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "begin", begin)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "begin", begin)


async def timed(
    call: Callable[[int], Awaitable[Any]], repetitions: int, seconds: float, warmup: int
) -> list[float]:
    """Milliseconds per call: `warmup` untimed calls, then up to `repetitions` within `seconds`
    (at least three)."""
    for n in range(warmup):
        await call(-1 - n)
    times: list[float] = []
    began = time.perf_counter()
    for n in range(repetitions):
        start = time.perf_counter()
        await call(n)
        times.append((time.perf_counter() - start) * 1000)
        if len(times) >= 3 and time.perf_counter() - began > seconds:
            break
    return times


def summary(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "runs": len(ordered),
    }


async def peak_memory_kib(call: Callable[[], Awaitable[Any]]) -> int:
    """Peak Python memory allocated while one call runs (tracemalloc), in KiB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak // 1024


# --- one database ---------------------------------------------------------------------------


async def ensure_data(spec: DatabaseSpec, options: Options) -> dict[str, Any]:
    """Migrate, then generate the data (or reuse it when the database holds enough)."""
    await asyncio.to_thread(migrations.upgrade, spec.settings)
    db = Database(spec.settings)
    try:
        # (generate vacuums and analyses what it made on PostgreSQL.)
        report: GenerationReport = await generate(
            db, options.claims, seed=options.seed, progress=options.progress
        )
    finally:
        await db.dispose()
    return report.as_dict()


async def run_database(spec: DatabaseSpec, options: Options) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Generate or reuse the data, then measure every chosen scenario on this database."""
    log = options.log
    log(
        f"[{spec.name}] preparing {options.claims:,} claims on "
        f"{spec.settings.url.render_as_string(hide_password=True)}"
    )
    if spec.generation is None:
        spec.generation = await ensure_data(spec, options)
    generation = spec.generation
    log(f"[{spec.name}] data: {generation}")
    info: dict[str, Any] = {
        "url": spec.settings.url.render_as_string(hide_password=True),
        "generation": generation,
        "server_version": await server_version(spec.settings),
    }
    db = Database(spec.settings)
    schema = build_schema(spec.settings)
    results: list[dict[str, Any]] = []
    try:
        prepared = await prepare(schema, db, spec.settings, options.params)
        info["hot_target_claims"] = prepared.target_claims
        info["deep_page"] = prepared.deep_page
        curators = await curator_actors(db, max(options.curator_concurrency, default=1))
        counter = iter(range(1, 10**9))
        created = 0
        for scenario in options.scenarios:
            log(f"[{spec.name}] {scenario.name}: {scenario.title}")
            row, made = await measure_in_process(
                spec, options, schema, db, scenario, prepared, curators, counter
            )
            created += made
            results.append(row)
        # The same reads on a rare target (~100 claims): hot ÷ rare says whether cost follows the
        # page (about 1) or the target's size.
        rare_for = [s for s in options.scenarios if s.name in RARE_SCENARIOS]
        if rare_for:
            rare = await prepare_rare(db, prepared)
            info["rare_target"] = {"symbol": rare.params.target, "claims": rare.target_claims}
            for scenario, row in zip(options.scenarios, results, strict=True):
                if scenario in rare_for:
                    log(f"[{spec.name}] {scenario.name} on the rare target {rare.params.target}")
                    rare_row, _ = await measure_in_process(
                        spec, options, schema, db, scenario, rare, curators, counter
                    )
                    row["rare"] = {k: rare_row[k] for k in ("median_ms", "p99_ms", "runs", "sql_statements")}
        if options.data_paths:
            from bench.data_paths import measure_data_paths

            info["data_paths"] = await measure_data_paths(
                db, options.data_paths, options.claims, options.log_dir / f"data-paths-{spec.name}", log
            )
        if options.http:
            async with serve(spec.settings, options.log_dir, SERVER_ENV) as server:
                for row, scenario in zip(results, options.scenarios, strict=True):
                    log(f"[{spec.name}] {scenario.name} over HTTP")
                    row["http"], made = await measure_http(
                        server, options, scenario, prepared, curators, counter, schema, db, spec.settings
                    )
                    created += made
                    row["requests_per_s"] = {str(h["concurrency"]): h["requests_per_s"] for h in row["http"]}
                info["server_peak_rss_kib"] = server.peak_rss_kib()
        if options.workers > 1 and spec.name == "postgresql":
            from bench import workers

            info["workers"] = await workers.compare(spec.settings, options, prepared, schema, db, SERVER_ENV)
        if any(s.mutation for s in options.scenarios):
            await check_created(db, prepared, created)
        if options.peer and spec.name == "postgresql":
            from bench import peer

            info["peer"] = await peer.compare(spec.settings, options, prepared, results)
    finally:
        await base.close(db)
        await db.dispose()
    q1 = next((row["median_ms"] for row in results if row["scenario"] == "Q1"), None)
    for row in results:
        row.pop("_data", None)
        row["ratio_to_baseline"] = _ratio(row["median_ms"], (row["baseline"] or {}).get("median_ms"))
        # The goals, as ratios within this run: Q2 <= 10, Q3 <= 5 (ratio_to_q1); the hot
        # target within 2x of a rare one (hot_to_rare).
        row["ratio_to_q1"] = _ratio(row["median_ms"], q1)
        row["hot_to_rare"] = _ratio(row["median_ms"], (row.get("rare") or {}).get("median_ms"))
        ours = next((h["p50_ms"] for h in row["http"] if h["concurrency"] == 1), None)
        row["ratio_to_peer"] = _ratio(ours, (row["peer"] or {}).get("p50_ms"))
        # The HTTP goal: claimsdb's requests/s ÷ PostGraphile's, per concurrency (≥ 1 meets it).
        theirs_rps = (row["peer"] or {}).get("requests_per_s") or {}
        row["requests_per_s_vs_peer"] = (
            {level: _ratio(rps, theirs_rps.get(level)) for level, rps in row["requests_per_s"].items()}
            if theirs_rps
            else None
        )
    return info, results


# The scenarios also measured on a rare target (Q1 is there as their yardstick).
RARE_SCENARIOS = ("Q1", "Q2", "Q3")


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


async def measure_in_process(
    spec: DatabaseSpec,
    options: Options,
    schema: strawberry.Schema,
    db: Database,
    scenario: Scenario,
    prepared: Prepared,
    curators: list[Any],
    counter: Iterator[int],
) -> tuple[dict[str, Any], int]:
    actor = curators[0][0] if scenario.mutation else None
    made = 0

    async def run(n: int) -> dict[str, Any]:
        nonlocal made
        number = next(counter) if scenario.mutation else n
        variables = scenario.variables(prepared, number)
        data = await execute(schema, db, spec.settings, scenario.document, variables, actor)
        made += 1 if scenario.mutation else 0
        return data

    # Check before timing: claimsdb's answer, then the baseline's equality with it.
    variables = scenario.variables(prepared, next(counter) if scenario.mutation else 0)
    data = await execute(schema, db, spec.settings, scenario.document, variables, actor)
    made += 1 if scenario.mutation else 0
    await scenario.check(db, data, prepared, variables)
    check = "passed"
    baseline = None
    if scenario.has_baseline:
        baseline = await measure_baseline(options, db, scenario, prepared, variables, data)
        check = "passed; equal to the baseline"

    times = await timed(run, options.repetitions, options.seconds, options.warmup)
    with counting_statements(db) as statements:
        await run(-100)
    peak = await peak_memory_kib(lambda: run(-101))
    row: dict[str, Any] = {
        "scenario": scenario.name,
        "database": spec.name,
        "title": scenario.title,
        **summary(times),
        "sql_statements": len(statements.statements),
        "sql_transactions": statements.transactions,
        "peak_memory_kib": peak,
        "baseline": baseline,
        "http": [],
        "requests_per_s": {},
        "peer": None,
        "ratio_to_baseline": None,
        "ratio_to_peer": None,
        "requests_per_s_vs_peer": None,
        "check": check,
        "rare": None,  # the same on a rare target (RARE_SCENARIOS)
    }
    if scenario.name in ("Q1", "Q5"):
        row["_data"] = as_json(data)  # for the peer's comparison; removed before the report
    return row, made


async def measure_baseline(
    options: Options,
    db: Database,
    scenario: Scenario,
    prepared: Prepared,
    variables: dict[str, Any],
    data: dict[str, Any],
) -> dict[str, Any]:
    fn = base.BASELINES[scenario.name]
    expected = base.comparable(scenario.name, as_json(data))
    plans: dict[str, Any] = {}
    for plan in base.PLANS if scenario.name in base.PLANNED else ("join",):
        encoded, statements = await fn(db, prepared, variables, plan)
        got = base.comparable(scenario.name, orjson.loads(encoded))
        if got != expected:
            raise CheckFailed(
                f"{scenario.name}: claimsdb and the baseline ({plan} plan) disagree at "
                f"{first_difference(expected, got)}"
            )
        times = await timed(
            lambda _n, plan=plan: fn(db, prepared, variables, plan),
            options.repetitions,
            options.seconds,
            options.warmup,
        )
        plans[plan] = {**summary(times), "sql_statements": statements}
    best = min(plans, key=lambda p: plans[p]["median_ms"])
    return {**plans[best], "plan": best, "plans": plans}


async def measure_http(
    server: Server,
    options: Options,
    scenario: Scenario,
    prepared: Prepared,
    curators: list[Any],
    counter: Iterator[int],
    schema: strawberry.Schema,
    db: Database,
    settings: Settings,
) -> tuple[list[dict[str, Any]], int]:
    """Every concurrency level; each response is checked (queries: equal to the in-process data)."""
    out: list[dict[str, Any]] = []
    made = 0
    if scenario.mutation:
        levels = options.curator_concurrency

        def make(worker: int, _n: int) -> tuple[dict[str, Any], dict[str, str]]:
            token = curators[worker % len(curators)][1]
            variables = create_claim_variables(prepared, next(counter))
            return {"query": scenario.document, "variables": variables}, {"Authorization": f"Bearer {token}"}

        def check(payload: dict[str, Any]) -> str | None:
            created = payload["createClaim"]
            return (
                None
                if created["claim"] and not created["userErrors"]
                else f"refused: {created['userErrors']}"
            )
    else:
        levels = options.query_concurrency
        variables = scenario.variables(prepared, 0)
        answer = as_json(await execute(schema, db, settings, scenario.document, variables))
        expected = base.comparable(scenario.name, answer)
        body = {"query": scenario.document, "variables": variables}

        def make(_worker: int, _n: int) -> tuple[dict[str, Any], dict[str, str]]:
            return body, {}

        def check(payload: dict[str, Any]) -> str | None:
            got = base.comparable(scenario.name, payload)
            if got == expected:
                return None
            return f"differs from the in-process answer at {first_difference(expected, got)}"

    for concurrency in levels:
        cpu_before = server.cpu_seconds()
        result: LoadResult = await load(
            server.url, make, concurrency=concurrency, max_requests=options.http_requests,
            max_seconds=options.http_seconds, check=check,
        )  # fmt: skip
        cpu_after = server.cpu_seconds()
        if cpu_before is not None and cpu_after is not None:
            result.server_cpu_seconds = cpu_after - cpu_before
        if scenario.mutation:
            made += result.requests - result.errors
        out.append(result.as_dict())
        if result.wrong:  # a wrong answer fails the run; failures (errors, timeouts) are results
            raise CheckFailed(
                f"{scenario.name} over HTTP at concurrency {concurrency}: {result.wrong} of "
                f"{result.requests} answers were wrong; first: {result.first_error}"
            )
        if result.errors:
            options.log(
                f"{scenario.name} over HTTP at concurrency {concurrency}: {result.errors} of "
                f"{result.requests} requests failed (reported); first: {result.first_error}"
            )
    return out, made


async def check_created(db: Database, prepared: Prepared, expected: int) -> None:
    """M1 made exactly the claims it reported (none lost, none twice)."""
    async with db.read() as session:
        found = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Claim)
            .where(Claim.sample_type.like(f"bench {prepared.run_tag} %"))
        )
    if found != expected:
        raise CheckFailed(f"M1 reported {expected} created claims, the database holds {found}")


async def server_version(settings: Settings) -> str:
    if settings.is_sqlite:
        return f"SQLite {sqlite3.sqlite_version}"
    db = Database(settings)
    try:
        async with db.read() as session:
            return "PostgreSQL " + str(await session.scalar(sa.text("SHOW server_version")))
    finally:
        await db.dispose()


# --- the whole run --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    memory = None
    model = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": memory,
        "cpu": model,
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "sqlite_library": sqlite3.sqlite_version}
    for package in ("claimsdb", "strawberry-graphql", "graphql-core", "sqlalchemy", "aiosqlite", "asyncpg",
                    "starlette", "uvicorn", "httpx", "orjson"):  # fmt: skip
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


async def run(databases: list[DatabaseSpec], options: Options) -> dict[str, Any]:
    """The whole benchmark: one JSON document (see RESULT_KEYS for each result's keys)."""
    document: dict[str, Any] = {
        "benchmark": "claimsdb",
        "format": 1,
        "command": options.command,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "claims": options.claims,
        "seed": options.seed,
        "params": asdict(options.params),
        "scenarios": {s.name: s.title for s in options.scenarios},
        "databases": {},
        "results": [],
    }
    began = time.perf_counter()
    for spec in databases:
        info, results = await run_database(spec, options)
        document["databases"][spec.name] = info
        document["results"].extend(results)
    document["seconds"] = round(time.perf_counter() - began, 1)
    document["process_peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return document


__all__ = ["DatabaseSpec", "GenerateError", "Options", "RESULT_KEYS", "run"]


# --- the command (api/cli.py `claimsdb bench` calls this) -----------------------------------

POSTGRES_ENV = "CLAIMSDB_TEST_POSTGRES_URL"


def default_data_dir() -> Path:
    return Path(tempfile.gettempdir()) / "claimsdb-bench"


async def postgres_database(server_url: str, name: str, *, fresh: bool = False) -> Settings:
    """Settings for database `name` (a claimsdb_bench_* database) on the server of `server_url`,
    created when missing (dropped first when `fresh`)."""
    import asyncpg

    if not name.startswith("claimsdb_bench_"):
        raise ValueError(f"refusing to manage database {name}: benchmark databases are claimsdb_bench_*")
    settings = Settings(database_url=server_url)
    url = settings.url
    admin = await asyncpg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), timeout=10
    )
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and fresh:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return Settings(database_url=url.set(database=name).render_as_string(hide_password=False), pool_size=10)


def format_table(document: dict[str, Any]) -> Any:
    """A rich table of the results (what `claimsdb bench` prints without --json)."""
    from rich.table import Table

    table = Table(title=f"claimsdb bench: {document['claims']:,} claims (ratios within this run)")
    for column in ("db", "scenario", "median ms", "p99 ms", "baseline ms", "÷ baseline", "SQL", "peak KiB",
                   "HTTP p50 ms (c=1)", "req/s c=1 / 8 / 32", "÷ peer"):  # fmt: skip
        table.add_column(column, justify="right" if column not in ("db", "scenario") else "left")
    for row in document["results"]:
        http = {h["concurrency"]: h for h in row["http"]}
        rps = " / ".join(
            str(round(h["requests_per_s"])) if h["requests_per_s"] else "-" for h in http.values()
        )
        table.add_row(
            row["database"], row["scenario"], f"{row['median_ms']:.2f}", f"{row['p99_ms']:.2f}",
            f"{row['baseline']['median_ms']:.2f}" if row["baseline"] else "-",
            f"{row['ratio_to_baseline']:.1f}" if row["ratio_to_baseline"] else "-",
            str(row["sql_statements"]), str(row["peak_memory_kib"]),
            f"{http[1]['p50_ms']:.2f}" if 1 in http and http[1]["p50_ms"] else "-",
            rps or "-", f"{row['ratio_to_peer']:.1f}" if row["ratio_to_peer"] else "-",
        )  # fmt: skip
    for database, info in document["databases"].items():
        for name, path in (info.get("data_paths") or {}).items():
            table.add_row(
                database, f"{name} ({path['claims']:,} claims)", f"{path['seconds'] * 1000:.0f}", "-",
                f"{path['baseline']['seconds'] * 1000:.0f}", f"{path['ratio_to_baseline']:.1f}", "-",
                f"RSS +{path['rss_growth_kib']:,}", f"{path['claims_per_s']:,}/s", "-", "-",
            )  # fmt: skip
    return table


def command(
    *,
    claims: int,
    scenarios: str | None,
    database: str | None,
    postgres: str | None,
    json_output: bool,
    repetitions: int,
    seconds: float,
    http: bool,
    http_requests: int,
    http_seconds: float,
    peer: bool,
    seed: int,
    data_dir: Path | None,
    workers: int = 0,
    workers_rounds: int = 2,
) -> int:
    """`claimsdb bench`: returns the exit status; errors a user can cause are one line on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bench.data_paths import DATA_PATHS
    from bench.http_load import ServerError
    from bench.scenarios import select

    err = Console(stderr=True)
    names = [n.strip().upper() for n in (scenarios or "").split(",") if n.strip()]
    data_paths = [n for n in DATA_PATHS if not names or n in names]
    try:
        chosen = (
            []
            if names and not set(names) - set(DATA_PATHS)
            else select(",".join(n for n in names if n not in DATA_PATHS) or None)
        )
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1
    if claims < 1:
        err.print("[bold red]error:[/] --claims must be at least 1", highlight=False)
        return 1
    folder = data_dir or default_data_dir()
    argv = " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("claimsdb") else ""
    options = Options(
        claims=claims, seed=seed, scenarios=chosen, repetitions=repetitions, seconds=seconds, http=http,
        http_requests=http_requests, http_seconds=http_seconds, peer=peer, workers=workers,
        workers_rounds=workers_rounds, log_dir=folder,
        command=f"claimsdb {argv}".strip(),
        log=lambda m: err.print(m, highlight=False, soft_wrap=True, markup=False), data_paths=data_paths,
    )  # fmt: skip

    async def main() -> dict[str, Any]:
        folder.mkdir(parents=True, exist_ok=True)
        specs: list[tuple[DatabaseSpec, Callable[[], Awaitable[DatabaseSpec]] | None]] = []
        if database:
            settings = Settings(database_url=database)
            _ = settings.url
            specs.append((DatabaseSpec("sqlite" if settings.is_sqlite else "postgresql", settings), None))
        else:
            path = folder / f"claims-{claims}-seed-{seed}.sqlite3"

            async def fresh_sqlite(path: Path = path) -> DatabaseSpec:
                for suffix in ("", "-wal", "-shm"):
                    path.with_name(path.name + suffix).unlink(missing_ok=True)
                return DatabaseSpec("sqlite", Settings(database_url=f"sqlite+aiosqlite:///{path}"))

            specs.append(
                (DatabaseSpec("sqlite", Settings(database_url=f"sqlite+aiosqlite:///{path}")), fresh_sqlite)
            )
            server = postgres or os.environ.get(POSTGRES_ENV, "").strip() or None
            if server:
                name = f"claimsdb_bench_{claims}_{seed}"

                async def fresh_pg(server: str = server, name: str = name) -> DatabaseSpec:
                    return DatabaseSpec("postgresql", await postgres_database(server, name, fresh=True))

                specs.append((DatabaseSpec("postgresql", await postgres_database(server, name)), fresh_pg))
        with Progress(
            TextColumn("[bold]generating[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("claims"),
            TimeElapsedColumn(), console=err, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("claims", total=claims)
            options.progress = lambda done, total: bar.update(task, completed=done, total=total)
            ready: list[DatabaseSpec] = []
            for spec, recreate in specs:
                try:
                    spec.generation = await ensure_data(spec, options)
                except (GenerateError, SQLAlchemyError) as exc:
                    if recreate is None:  # the user's own database: never emptied for them
                        raise
                    # Ours (a claimsdb_bench_* database, or a file in the bench data dir): data
                    # from an interrupted run, or a migration that cannot run on it.
                    options.log(
                        f"[{spec.name}] cannot reuse the benchmark data ({str(exc)[:200]}); recreating it"
                    )
                    spec = await recreate()
                    spec.generation = await ensure_data(spec, options)
                bar.update(task, completed=0)
                ready.append(spec)
        return await run(ready, options)

    try:
        document = asyncio.run(main())
    except (GenerateError, CheckFailed, ServerError, ValueError, SQLAlchemyError, OSError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    if json_output:
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        Console().print(format_table(document))
    return 0


# --- profiling one scenario (python -m bench.harness --profile Q1 --database URL) ------------


async def profile_scenario(settings: Settings, name: str, runs: int, params: BenchParams) -> str:
    """pyinstrument's text profile of `runs` in-process executions of one scenario (after a
    warm-up), on data already generated in the database."""
    from pyinstrument import Profiler

    from bench.scenarios import SCENARIOS

    scenario = SCENARIOS[name]
    db = Database(settings)
    try:
        schema = build_schema(settings)
        prepared = await prepare(schema, db, settings, params)
        actor = (await curator_actors(db, 1))[0][0] if scenario.mutation else None
        variables = scenario.variables(prepared, 0)
        await execute(schema, db, settings, scenario.document, variables, actor)
        split = await sql_share(
            db,
            lambda n: execute(
                schema, db, settings, scenario.document, scenario.variables(prepared, 1000 + n), actor
            ),
            runs,
        )
        profiler = Profiler(async_mode="enabled", interval=0.0005)
        profiler.start()
        for n in range(runs):
            await execute(schema, db, settings, scenario.document, scenario.variables(prepared, n + 1), actor)
        profiler.stop()
        from pyinstrument.renderers import ConsoleRenderer

        session = profiler.last_session
        assert session is not None
        tree = ConsoleRenderer(unicode=True, color=False, short_mode=True).render(session)
        flat = ConsoleRenderer(unicode=True, color=False, flat=True, time="percent_of_total").render(session)
        flat = "\n".join(flat.splitlines()[:45])
        return (
            f"{tree}\n--- wall time: SQL (cursor execute to rows fetched) vs the rest ---\n{split}\n"
            f"--- self time by package ---\n{by_package(session)}\n"
            f"--- top frames (self time) ---\n{flat}"
        )
    finally:
        await db.dispose()


async def sql_share(db: Database, call: Callable[[int], Awaitable[Any]], runs: int) -> str:
    """Median request time, and the wall time during which at least one statement was in flight
    (before_cursor_execute to after_cursor_execute: the statement running and its rows coming
    back; DataLoader batches overlap, so their spans are merged, not added)."""
    spans: list[tuple[float, float]] = []
    started: dict[int, float] = {}

    def before(conn: Any, *_args: Any) -> None:
        started[id(conn)] = time.perf_counter()

    def after(conn: Any, *_args: Any) -> None:
        now = time.perf_counter()
        spans.append((started.pop(id(conn), now), now))

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    totals: list[float] = []
    in_flight: list[float] = []
    longest: list[float] = []
    try:
        for n in range(runs):
            spans.clear()
            began = time.perf_counter()
            await call(n)
            totals.append(time.perf_counter() - began)
            merged, end = 0.0, 0.0
            for start, stop in sorted(spans):
                if stop > end:
                    merged += stop - max(start, end)
                    end = stop
            in_flight.append(merged)
            longest.append(max((b - a for a, b in spans), default=0.0))
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    total = statistics.median(totals) * 1000
    sql = statistics.median(in_flight) * 1000
    top = statistics.median(longest) * 1000
    return (
        f"request {total:.1f} ms (median of {runs}); SQL in flight {sql:.1f} ms ({100 * sql / total:.0f}%), "
        f"of which the longest statement {top:.1f} ms; no SQL in flight {total - sql:.1f} ms"
    )


def by_package(session: Any) -> str:
    """Self time grouped by where the code lives (claimsdb's rooms, each library), with the time
    spent waiting (on the database driver's thread, or on other tasks) apart."""
    totals: dict[str, float] = {}

    def walk(frame: Any, parent_path: str) -> None:
        path = frame.file_path or parent_path
        if frame.function == "[await]" or (frame.function == "_execute" and "aiosqlite/" in path):
            key = "waiting: awaiting the database (driver thread, socket) or other tasks"
        elif frame.function == "[self]":
            key = _package(parent_path)
        else:
            key = _package(path)
        totals[key] = totals.get(key, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child, path)

    root = session.root_frame()
    if root is not None:
        walk(root, "")
    grand = sum(totals.values()) or 1.0
    rows = sorted(totals.items(), key=lambda kv: -kv[1])
    return "\n".join(f"{100 * t / grand:5.1f}%  {t:7.3f}s  {name}" for name, t in rows if t / grand >= 0.005)


def _package(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for room in ("api/graphql", "api/store", "api", "schema", "bench"):
        if f"/{room}/" in path:
            return f"claimsdb {room}/"
    if "/asyncio/" in path:
        return "asyncio (event loop, tasks)"
    if "/python3" in path:
        return "python stdlib"
    return path or "(native)"


def markdown(document: dict[str, Any]) -> str:
    """The report's tables in Markdown (bench/RESULTS.md is written from these)."""

    def cell(value: Any, digits: int = 1) -> str:
        if value is None:
            return "–"
        return (
            f"{value:,.{digits}f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value)
        )

    lines = [
        "| database | scenario | claimsdb median ms | p99 ms | baseline ms (plan) | ÷ baseline "
        "| SQL statements (transactions) | peak KiB | HTTP p50 ms c=1 | server CPU ms per request c=1 "
        "| req/s c=1 / 8 / 32 | HTTP errors | PostGraphile p50 ms | ÷ peer |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in document["results"]:
        http = {h["concurrency"]: h for h in row["http"]}
        base_ = row["baseline"]
        rps = " / ".join(cell(h["requests_per_s"]) for h in http.values()) or "–"
        errors = sum(h["errors"] for h in http.values())
        lines.append(
            f"| {row['database']} | {row['scenario']} | {cell(row['median_ms'])} | {cell(row['p99_ms'])} | "
            + (f"{cell(base_['median_ms'], 2)} ({base_['plan']}) | " if base_ else "– | ")
            + f"{cell(row['ratio_to_baseline'])} | {row['sql_statements']} ({row['sql_transactions']}) | "
            f"{cell(row['peak_memory_kib'])} | {cell(http[1]['p50_ms']) if 1 in http else '–'} | "
            f"{cell(http[1].get('server_cpu_ms_per_request')) if 1 in http else '–'} | {rps} | "
            f"{errors} | {cell((row['peer'] or {}).get('p50_ms'))} | {cell(row['ratio_to_peer'])} |"
        )
    peered = [row for row in document["results"] if row.get("peer")]
    if peered:
        # The HTTP goal is a throughput goal: requests/s per concurrency level, side by side.
        lines += [
            "",
            "| database | scenario | concurrency | claimsdb req/s | PostGraphile req/s "
            "| claimsdb ÷ PostGraphile | claimsdb p50 / p99 ms | PostGraphile p50 / p99 ms "
            "| claimsdb server CPU ms per request |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in peered:
            theirs = {h["concurrency"]: h for h in row["peer"]["http"]}
            for ours in row["http"]:
                level = ours["concurrency"]
                peer_level = theirs.get(level, {})
                lines.append(
                    f"| {row['database']} | {row['scenario']} | {level} | {cell(ours['requests_per_s'])} | "
                    f"{cell(peer_level.get('requests_per_s'))} | "
                    f"**{cell((row['requests_per_s_vs_peer'] or {}).get(str(level)), 2)}** | "
                    f"{cell(ours['p50_ms'])} / {cell(ours['p99_ms'])} | "
                    f"{cell(peer_level.get('p50_ms'))} / {cell(peer_level.get('p99_ms'))} | "
                    f"{cell(ours.get('server_cpu_ms_per_request'), 2)} |"
                )
    for database in document.get("databases", {}).values():
        if isinstance(database, dict) and database.get("workers"):
            from bench import workers

            lines += workers.markdown(database["workers"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bench.harness", description="Profile one scenario, or print a report's tables."
    )
    parser.add_argument("--profile", metavar="SCENARIO", help="Q1, Q2, Q3, Q4, Q5 or M1")
    parser.add_argument("--database", help="a database holding generated data (for --profile)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--markdown", metavar="REPORT.json", help="print the tables of a `claimsdb bench --json` report"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(orjson.loads(Path(args.markdown).read_bytes())))
        return 0
    if not (args.profile and args.database):
        parser.error("give --profile SCENARIO --database URL, or --markdown REPORT.json")
    settings = Settings(database_url=args.database)
    print(asyncio.run(profile_scenario(settings, args.profile.upper(), args.runs, BenchParams())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
