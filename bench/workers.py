"""Q1 over HTTP with more than one worker (issue 16, item 6), on PostgreSQL.

The goal: with 2 uvicorn workers, Q1 (a page of claims) at concurrency 8 serves at least 1.5x the
requests per second of 1 worker on the same 2-core machine, and stays ahead of PostGraphile.

Each round serves the same Q1 request at the same concurrency to claimsdb with 1 worker, claimsdb
with N workers, and PostGraphile, one after the other, each after a warm-up (pools, caches, the
workers' first requests), with the low-overhead client (bench.lean_load), so the load generator
takes as little of the machine as it can. Every answer is checked (equal to the in-process
answer; PostGraphile's modulo shape, as bench.peer does). Rounds alternate the servers so that a
burst of load from elsewhere on a shared machine hits all of them alike; the ratios are of the
medians over rounds. The report carries what the client itself used (cores) and how busy the
machine was while each run ran (all processes, from /proc/stat), so a noisy run shows as one.
"""

from __future__ import annotations

import glob
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import strawberry

from api.settings import Settings
from api.store.db import Database
from bench import baseline as base
from bench import peer
from bench.http_load import serve
from bench.lean_load import LeanResult, lean_load
from bench.scenarios import SCENARIOS, CheckFailed, Prepared, as_json, execute, first_difference

CONCURRENCY = 8
WARMUP_SECONDS = 3.0
# Enough requests that a run always ends by time, not by count.
MAX_REQUESTS = 10**7
Check = Callable[[dict[str, Any]], str | None]


def machine_busy() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs so far (Linux /proc/stat), or None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """How many cores were busy between two machine_busy() readings, on average."""
    if before is None or after is None or after[1] == before[1]:
        return None
    cpus = os.cpu_count() or 1
    return round(cpus * (after[0] - before[0]) / (after[1] - before[1]), 2)


async def _measured(
    url: str, body: dict[str, Any], check: Check, seconds: float, meter: CpuMeter, settings: Settings
) -> dict[str, Any]:
    """One warm-up, then one measured run at CONCURRENCY for `seconds`."""
    await lean_load(
        url, body, concurrency=CONCURRENCY, max_requests=MAX_REQUESTS, max_seconds=WARMUP_SECONDS, check=check
    )
    await meter.start(settings)
    before = machine_busy()
    result: LeanResult = await lean_load(
        url, body, concurrency=CONCURRENCY, max_requests=MAX_REQUESTS, max_seconds=seconds, check=check
    )
    row = result.as_dict()
    row.update(meter.stop(result.load.requests))
    row["machine_busy_cores"] = busy_cores(before, machine_busy())
    row["load_average_1m"] = round(os.getloadavg()[0], 2)
    if result.load.wrong or result.load.errors:
        raise CheckFailed(
            f"Q1 at concurrency {CONCURRENCY}: {result.load.errors} of {result.load.requests} requests "
            f"failed; first: {result.load.first_error}"
        )
    return row


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process `pid` has used, 0 when it is gone (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the supervisor and its workers)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in glob.glob(f"/proc/{current}/task/*/children"):
            try:
                todo.extend(int(child) for child in Path(task).read_text().split())
            except OSError:
                continue
    return out


async def _backends(settings: Settings) -> list[int]:
    """Pids of the PostgreSQL server processes connected to the benchmark database."""
    db = Database(settings)
    try:
        async with db.read() as session:
            rows = await session.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
            return [int(r[0]) for r in rows]
    finally:
        await db.dispose()


class CpuMeter:
    """CPU the server's processes and its PostgreSQL backends use over a run. On a 2-core machine
    these set what a second worker can add: see `bound`."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.server = 0.0
        self.backends: dict[int, float] = {}

    async def start(self, settings: Settings) -> None:
        self.server = self._server_now()
        self.backends = {pid: _cpu_seconds(pid) for pid in await _backends(settings)}

    def _server_now(self) -> float:
        return sum(_cpu_seconds(p) for p in _process_tree(self.server_pid)) if self.server_pid else 0.0

    def stop(self, requests: int) -> dict[str, float | None]:
        if not requests:
            return {}
        server = self._server_now() - self.server
        postgres = sum(_cpu_seconds(pid) - before for pid, before in self.backends.items())
        return {
            "server_cpu_ms_per_request": round(server * 1000 / requests, 2) if self.server_pid else None,
            "postgres_cpu_ms_per_request": round(postgres * 1000 / requests, 2),
        }


def bound(one_worker_ms: float | None, postgres_ms: float | None, cores: int) -> float | None:
    """What N workers can give over one at best, from CPU per request alone: one worker is held to
    one core (at most 1000 / server ms req/s), all of them together to the machine's cores shared
    with PostgreSQL (cores × 1000 / (server + PostgreSQL ms)). Ignores the client and the rest."""
    if not one_worker_ms or postgres_ms is None:
        return None
    one = min(1000 / one_worker_ms, cores * 1000 / (one_worker_ms + postgres_ms))
    many = cores * 1000 / (one_worker_ms + postgres_ms)
    return round(many / one, 2)


def _median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def _median(runs: list[dict[str, Any]]) -> float | None:
    values = [r["requests_per_s"] for r in runs if r.get("requests_per_s")]
    return round(statistics.median(values), 2) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


async def compare(
    settings: Settings,
    options: Any,
    prepared: Prepared,
    schema: strawberry.Schema,
    db: Database,
    server_env: dict[str, str],
) -> dict[str, Any]:
    """Rounds of (1 worker, N workers, PostGraphile) at concurrency 8; medians and ratios."""
    workers = options.workers
    scenario = SCENARIOS["Q1"]
    variables = scenario.variables(prepared, 0)
    answer = as_json(await execute(schema, db, settings, scenario.document, variables))
    expected = base.comparable("Q1", answer)
    body = {"query": scenario.document, "variables": variables}

    def ours(document: dict[str, Any]) -> str | None:
        got = base.comparable("Q1", document["data"])
        return (
            None
            if got == expected
            else f"differs from the in-process answer at {first_difference(expected, got)}"
        )

    peer_body = {
        "query": peer.CLAIM_PAGE,
        "variables": {"target": prepared.target_id, "first": prepared.params.page_size, "after": None},
    }
    peer_expected = peer.claimsdb_page(answer)

    def theirs(document: dict[str, Any]) -> str | None:
        got = peer.to_claimsdb(document["data"])
        return (
            None
            if got == peer_expected
            else f"PostGraphile differs at {first_difference(peer_expected, got)}"
        )

    runs: dict[str, list[dict[str, Any]]] = {"1": [], str(workers): [], "peer": []}
    peer_problem = None
    for round_ in range(options.workers_rounds):
        options.log(f"[postgresql] Q1 workers round {round_ + 1}/{options.workers_rounds}")
        for count in (1, workers):
            async with serve(settings, options.log_dir, server_env, workers=count) as server:
                meter = CpuMeter(server.process.pid)
                runs[str(count)].append(
                    await _measured(server.url, body, ours, options.http_seconds, meter, settings)
                )
        if peer_problem is None:
            try:
                async with peer.serve(settings, options.log_dir / "postgraphile") as url:
                    meter = CpuMeter(None)
                    runs["peer"].append(
                        await _measured(url, peer_body, theirs, options.http_seconds, meter, settings)
                    )
            except peer.PeerUnavailable as exc:
                peer_problem = str(exc)
    one, many, them = _median(runs["1"]), _median(runs[str(workers)]), _median(runs["peer"])
    server_ms = _median_of(runs["1"], "server_cpu_ms_per_request")
    postgres_ms = _median_of(runs["1"], "postgres_cpu_ms_per_request")
    return {
        "scenario": "Q1",
        "concurrency": CONCURRENCY,
        "workers": workers,
        "rounds": options.workers_rounds,
        "seconds_per_run": options.http_seconds,
        "client": "bench.lean_load (raw asyncio HTTP/1.1 keep-alive, every answer checked)",
        "requests_per_s": {"1": one, str(workers): many, "peer": them},
        "workers_ratio": _ratio(many, one),
        "ratio_to_peer": _ratio(many, them),
        "one_worker_ratio_to_peer": _ratio(one, them),
        "peer_skipped": peer_problem,
        # CPU per request with 1 worker (medians), and the best N workers could do on this many
        # cores from those alone (`bound`).
        "server_cpu_ms_per_request": server_ms,
        "postgres_cpu_ms_per_request": postgres_ms,
        "cores": os.cpu_count(),
        "workers_ratio_bound": bound(server_ms, postgres_ms, os.cpu_count() or 1),
        "runs": runs,
    }


def markdown(info: dict[str, Any]) -> list[str]:
    """The workers table of the report (bench/RESULTS.md)."""
    workers = str(info["workers"])
    lines = [
        "",
        f"Q1 over HTTP at concurrency {info['concurrency']}, {info['rounds']} rounds of "
        f"{info['seconds_per_run']:g} s per server ({info['client']}):",
        "",
        "| server | req/s per round | median req/s | p50 / p99 ms (last round) | server + PostgreSQL CPU "
        f"ms per request | client cores | machine busy cores (of {os.cpu_count() or 1}) | load avg 1m |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    names = {"1": "claimsdb, 1 worker", workers: f"claimsdb, {workers} workers", "peer": "PostGraphile"}
    for key, name in names.items():
        runs = info["runs"].get(key) or []
        if not runs:
            continue
        last = runs[-1]
        per_round = " / ".join(f"{r['requests_per_s']:.0f}" for r in runs)
        busy = " / ".join(str(r["machine_busy_cores"]) for r in runs)
        cores = " / ".join(str(r["client_cpu_cores"]) for r in runs)
        load = " / ".join(str(r["load_average_1m"]) for r in runs)
        cpu = " / ".join(
            f"{r.get('server_cpu_ms_per_request') or '–'} + {r.get('postgres_cpu_ms_per_request', '–')}"
            for r in runs
        )
        lines.append(
            f"| {name} | {per_round} | {info['requests_per_s'][key]} | {last['p50_ms']} / {last['p99_ms']} "
            f"| {cpu} | {cores} | {busy} | {load} |"
        )
    lines += [
        "",
        f"**{workers} workers ÷ 1 worker: {info['workers_ratio']}**; {workers} workers ÷ PostGraphile: "
        f"**{info['ratio_to_peer']}**; 1 worker ÷ PostGraphile: {info['one_worker_ratio_to_peer']}. "
        f"From CPU per request alone (1 worker: {info.get('server_cpu_ms_per_request')} ms in the "
        f"server, {info.get('postgres_cpu_ms_per_request')} ms in PostgreSQL), {workers} workers on "
        f"{info.get('cores')} cores shared with PostgreSQL can give at most "
        f"{info.get('workers_ratio_bound')}x one worker.",
    ]
    return lines
