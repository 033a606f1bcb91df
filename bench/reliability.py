"""Run the reliability suites and write docs/reliability.md from what they did:
`python -m bench.reliability [--long]`.

The suites (issue 7) run under pytest, in this process, with a small plugin (`Recorder`) that
notes every test's outcome and duration, counts every HTTP request the tests send through httpx
(in-process ASGI or over a socket) by status, and reads Hypothesis's statistics (how many cases a
fuzz test ran). The load and fault suites also write their own figures (requests by kind,
acknowledged writes, conflicts, busy answers, latency percentiles, kills, ...) as JSON files into
the directory named by CLAIMSDB_RELIABILITY_FIGURES, which this command sets. Every number in
the document comes from the run that wrote it; nothing is carried over.

Both databases: SQLite always; PostgreSQL when CLAIMSDB_TEST_POSTGRES_URL names a server (as in
CI), otherwise its rows say "skipped". `--long` runs the long variants: the load for
CLAIMSDB_LOAD_SECONDS=300 per database and CLAIMSDB_FUZZ_EXAMPLES=5000 fuzz cases per test
(either can be set by hand instead). The exit status is pytest's: the document is written
either way, and says what failed.
"""

from __future__ import annotations

import argparse
import ast
import glob
import importlib.metadata
import json
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.settings import PROJECT_ROOT

OUTPUT = PROJECT_ROOT / "docs" / "reliability.md"
FIGURES_ENV = "CLAIMSDB_RELIABILITY_FIGURES"  # as tests/reliability_helpers.py
POSTGRES_ENV = "CLAIMSDB_TEST_POSTGRES_URL"
# Files or globs; the fuzz and outage suites are included when present. What each tries is the
# first sentence of its module docstring, so the document says what the suite itself says.
SUITES = [
    "tests/test_security.py",
    "tests/test_limits_http.py",
    "tests/test_fuzz*.py",
    "tests/test_load.py",
    "tests/test_faults.py",
    "tests/test_db_unavailable.py",
]
LONG_ENV = {"CLAIMSDB_LOAD_SECONDS": "300", "CLAIMSDB_FUZZ_EXAMPLES": "5000"}
DATABASES = ("sqlite", "postgresql")
PACKAGES = (
    "strawberry-graphql",
    "graphql-core",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "httpx",
    "pytest",
    "hypothesis",
    "hypothesis-graphql",
)
# Hypothesis's statistics, per phase: "60 passing, 0 failing, and 7 invalid test cases" (older
# releases: "60 passing examples, 0 failing examples, ...").
_EXAMPLES = re.compile(r"(\d+) passing(?: examples?)?, (\d+) failing")


# --- the pytest plugin ------------------------------------------------------------------------


@dataclass
class RecordedTest:
    nodeid: str
    outcome: str = "passed"  # passed, failed, skipped, error
    seconds: float = 0.0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    fuzz_cases: int | None = None
    message: str = ""

    @property
    def module(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def database(self) -> str | None:
        """The backend a test ran on, from its parameter id ("[sqlite]", "[postgresql-...]")."""
        found = re.search(r"\[(.*)\]$", self.nodeid)
        parts = re.split(r"[-\[\]]", found.group(1)) if found else []
        return next((p for p in parts if p in DATABASES), None)


class Recorder:
    """A pytest plugin: outcomes, durations, HTTP requests by status and Hypothesis cases per test."""

    def __init__(self) -> None:
        self.tests: dict[str, RecordedTest] = {}
        self.current: RecordedTest | None = None
        self.exit_status: int | None = None

    def record(self, nodeid: str) -> RecordedTest:
        if nodeid not in self.tests:
            self.tests[nodeid] = RecordedTest(nodeid)
        return self.tests[nodeid]

    def count(self, status: int) -> None:
        if self.current is not None:
            self.current.requests += 1
            self.current.statuses[status] += 1

    @contextmanager
    def counting_http(self) -> Iterator[None]:
        """Wrap httpx's send (async and sync) to count every response the tests get."""
        import httpx

        original_async, original_sync = httpx.AsyncClient.send, httpx.Client.send
        recorder = self

        async def send_async(
            client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
        ) -> httpx.Response:
            response = await original_async(client, request, **kwargs)
            recorder.count(response.status_code)
            return response

        def send_sync(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            response = original_sync(client, request, **kwargs)
            recorder.count(response.status_code)
            return response

        httpx.AsyncClient.send = send_async  # type: ignore[method-assign]
        httpx.Client.send = send_sync  # type: ignore[method-assign]
        try:
            yield
        finally:
            httpx.AsyncClient.send = original_async  # type: ignore[method-assign]
            httpx.Client.send = original_sync  # type: ignore[method-assign]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        self.current = self.record(item.nodeid)
        try:
            yield
        finally:
            statistics = getattr(item, "hypothesis_statistics", None)
            if statistics:
                found = _EXAMPLES.findall(statistics)
                if found:
                    self.current.fuzz_cases = sum(int(p) + int(f) for p, f in found)
            self.current = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = self.record(report.nodeid)
        test.seconds += report.duration
        if report.when == "call":
            test.outcome = report.outcome
        elif report.outcome == "skipped" and report.when == "setup":
            test.outcome = "skipped"
        elif report.failed:  # a fixture failed: an error, not a pass
            test.outcome = "error"
        if report.failed:
            # The exception's own line ("AssertionError: ..."), not the traceback's last frame.
            crash = getattr(report.longrepr, "reprcrash", None)
            text = getattr(crash, "message", None) or str(report.longreprtext).strip()
            test.message = " ".join(text.split())[:400]
        elif report.outcome == "skipped" and isinstance(report.longrepr, tuple):
            test.message = str(report.longrepr[2])[:300]

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.exit_status = int(exitstatus)


# --- running ----------------------------------------------------------------------------------


def suite_files() -> tuple[list[tuple[str, str]], list[str]]:
    """The suites present ((file, what it tries)) and the patterns that matched nothing."""
    present, missing = [], []
    for pattern in SUITES:
        files = sorted(glob.glob(str(PROJECT_ROOT / pattern)))
        if not files:
            missing.append(pattern)
        for path in files:
            present.append((str(Path(path).relative_to(PROJECT_ROOT)), first_sentence(Path(path))))
    return present, missing


def first_sentence(path: Path) -> str:
    """The first sentence of a module's docstring (read, not imported)."""
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    paragraph = " ".join(docstring.split("\n\n")[0].split())
    sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
    return sentence if len(sentence) <= 300 else sentence[:297] + "..."


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_suites(files: Sequence[str], figures: Path, env: dict[str, str], extra: Sequence[str]) -> Recorder:
    recorder = Recorder()
    os.chdir(PROJECT_ROOT)
    with environment({FIGURES_ENV: str(figures), **env}), recorder.counting_http():
        pytest.main(["-q", "-p", "no:cacheprovider", *extra, *files], plugins=[recorder])
    return recorder


# --- the facts around the run -------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal")
        ),
        "unknown",
    )
    kib = memory.split()[0] if memory != "unknown" else ""
    return {
        "OS": f"{platform.system()} {platform.release()}",
        "CPU": f"{cpu}, {os.cpu_count()} logical cores",
        "memory": f"{int(kib) / 1024 / 1024:.1f} GiB" if kib.isdigit() else memory,
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
    }


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def postgres_version() -> str:
    raw = os.environ.get(POSTGRES_ENV, "").strip()
    if not raw:
        return f"not tested ({POSTGRES_ENV} not set)"
    import asyncio

    import asyncpg

    from api.settings import normalize_database_url

    url = normalize_database_url(raw)

    async def ask() -> str:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    try:
        return f"{asyncio.run(ask())} at {url.render_as_string(hide_password=True)}"
    except Exception as exc:  # noqa: BLE001 - reported in the document, the tests say the rest
        return f"unreachable ({type(exc).__name__})"


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' with uncommitted changes' if dirty else ''}"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# --- the document ---------------------------------------------------------------------------


def read_figures(directory: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(suite, test, database) -> the figures a test wrote."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text())
        out[(document["suite"], document["test"], document["backend"])] = document
    return out


def _n(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> list[str]:
    align = align or "l" * len(header)
    marks = {"l": "---", "r": "--:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(_n(c) for c in row) + " |" for row in rows]
    return lines


def _held(tests: Sequence[RecordedTest]) -> str:
    outcomes = Counter(t.outcome for t in tests)
    if outcomes["failed"] or outcomes["error"]:
        return "**FAILED**"
    if outcomes["passed"]:
        return "held"
    return "skipped"


def _fives(tests: Sequence[RecordedTest]) -> tuple[int, int, int]:
    statuses: Counter[int] = Counter()
    for test in tests:
        statuses.update(test.statuses)
    other = sum(n for s, n in statuses.items() if s >= 500 and s not in (500, 503))
    return statuses[500], statuses[503], other


def summary_rows(
    recorder: Recorder, files: Sequence[tuple[str, str]], figures: dict[tuple[str, str, str], dict[str, Any]]
) -> list[list[Any]]:
    rows = []
    by_module: dict[tuple[str, str | None], list[RecordedTest]] = defaultdict(list)
    for test in recorder.tests.values():
        by_module[(test.module, test.database)].append(test)
    for path, _what in files:
        order = {None: 0, "sqlite": 1, "postgresql": 2}
        databases = sorted({db for (module, db) in by_module if module == path}, key=order.__getitem__)
        for database in databases or [None]:
            tests = by_module.get((path, database), [])
            outcomes = Counter(t.outcome for t in tests)
            http_500, http_503, other = _fives(tests)
            writers = readers = faults = None
            suite = Path(path).stem.removeprefix("test_")
            if suite == "load" and database:
                found = [v for (s, _, b), v in figures.items() if s == "load" and b == database]
                writers = max((f["writers"] for f in found), default=None)
                readers = max((f["readers"] for f in found), default=None)
            if suite == "faults" and database:
                found = [v for (s, _, b), v in figures.items() if s == "faults" and b == database]
                faults = sum(f.get("kills", 0) for f in found) or None
            if suite == "db_unavailable" and database:
                faults = outcomes["passed"] or None  # each test takes the database away once or more
            cases = [t.fuzz_cases for t in tests if t.fuzz_cases is not None]
            rows.append(
                [
                    f"`{path}`",
                    database or "none",
                    f"{outcomes['passed']} / {outcomes['failed'] + outcomes['error']}"
                    f" / {outcomes['skipped']}",
                    sum(t.requests for t in tests),
                    http_500,
                    http_503,
                    other,
                    f"{_n(writers)} / {_n(readers)}" if writers else "–",
                    faults,
                    sum(cases) if cases else None,
                    round(sum(t.seconds for t in tests)),
                    _held(tests),
                ]
            )
    return rows


def load_section(figures: dict[tuple[str, str, str], dict[str, Any]]) -> list[str]:
    runs = sorted((k, v) for k, v in figures.items() if k[0] == "load")
    if not runs:
        return []
    lines = [
        "## Load",
        "",
        "`tests/test_load.py`: the real server (uvicorn, one worker) on a seeded database; "
        "8 curators and 8 reviewers (each its own user and token) write for the set time while 4 readers "
        "page through `claims` and `conflicts`; then every acknowledged write, every version history, "
        "the audit chain, every row and the conflicts (against a recomputation) are checked. "
        "The busy variant runs SQLite with a 20 ms busy timeout while another process holds the write "
        "lock three times for 1.5 s.",
        "",
    ]
    header = ["figure", *[f"{test} ({db})" for (_, test, db), _ in runs]]
    keys = [
        ("write phase, seconds", lambda f: f["duration_seconds"]),
        ("writers / readers", lambda f: f"{f['writers']} / {f['readers']}"),
        ("requests sent", lambda f: f["requests_total"]),
        ("acknowledged writes", lambda f: f["acknowledged_writes"]),
        ("writes by kind", lambda f: ", ".join(f"{k} {v}" for k, v in f["acknowledged_by_kind"].items())),
        (
            "refused (VERSION_CONFLICT and others)",
            lambda f: ", ".join(f"{k} {v}" for k, v in f["user_errors_by_code"].items()) or "none",
        ),
        ("busy answers (SERVICE_BUSY, retried)", lambda f: f["busy_answers"]),
        ("HTTP 5xx", lambda f: f["http_5xx"]),
        ("connection errors", lambda f: f["transport_errors"]),
        (
            "latency p50 / p99 ms, all",
            lambda f: f"{_n(f['latency_ms']['all']['p50'])} / {_n(f['latency_ms']['all']['p99'])}",
        ),
        ("latency p50 / p99 ms, updateClaim", lambda f: _pair(f, "updateClaim")),
        ("latency p50 / p99 ms, claims page", lambda f: _pair(f, "claims")),
        ("latency p50 / p99 ms, conflicts page", lambda f: _pair(f, "conflicts")),
        (
            "reader pages (claims / conflicts)",
            lambda f: f"{_n(f['reader_pages'].get('claims'))} / {_n(f['reader_pages'].get('conflicts'))}",
        ),
        (
            "conflict pairs compared (anonymous / reviewer)",
            lambda f: (
                f"{_n(f['conflict_pairs_compared']['anonymous'])}"
                f" / {_n(f['conflict_pairs_compared']['reviewer'])}"
            ),
        ),
        ("claims in the database after", lambda f: f["claims_in_database"]),
        ("audit events verified", lambda f: f["audit_events_verified"]),
    ]
    rows = []
    for label, get in keys:
        row: list[Any] = [label]
        for _, figure in runs:
            try:
                row.append(get(figure))
            except (KeyError, TypeError):
                row.append(None)
        rows.append(row)
    return lines + _table(header, rows) + [""]


def _pair(figure: dict[str, Any], kind: str) -> str:
    latency = figure["latency_ms"].get(kind)
    if not latency:
        return "–"
    return f"{_n(latency['p50'])} / {_n(latency['p99'])}"


def faults_section(figures: dict[tuple[str, str, str], dict[str, Any]]) -> list[str]:
    lines = [
        "## Faults",
        "",
        "`tests/test_faults.py`: processes killed with SIGKILL while a write transaction "
        "is open (watched from outside: SQLite's write lock held, a PostgreSQL backend with a transaction "
        "id), then run again on the same database; afterwards the audit chain verifies and every row is "
        "whole and matches the audit log.",
        "",
    ]
    servers = sorted((k, v) for k, v in figures.items() if k[:2] == ("faults", "server_sigkill"))
    if servers:
        rows = []
        for (_, _, db), figure in servers:
            for number, cycle in enumerate(figure["cycles"], start=1):
                rows.append(
                    [
                        db,
                        number,
                        "yes" if cycle["write_transaction_open"] else "not seen",
                        cycle["in_flight"],
                        cycle["acknowledged_writes"],
                        cycle["unanswered_requests"],
                        cycle["unanswered_that_committed_whole"],
                        cycle["unanswered_absent"],
                        cycle["restart_seconds"],
                        cycle["audit_events_verified"],
                    ]
                )
        lines += [
            "Server (`claimsdb serve`) killed under a stream of mutations from 4 curators and 2 reviewers, "
            "then restarted:",
            "",
        ]
        lines += _table(
            [
                "database",
                "kill",
                "write transaction open",
                "requests in flight",
                "acknowledged before",
                "unanswered",
                "of them committed whole",
                "of them absent",
                "restart s",
                "audit events verified",
            ],
            rows,
            "lrlrrrrrrr",
        )
        lines.append("")
    others = sorted((k, v) for k, v in figures.items() if k[0] == "faults" and k[1] != "server_sigkill")
    if others:
        rows = []
        for (_, test, db), figure in others:
            what = {
                "seed_sigkill": "`claimsdb seed`",
                "bulk_import_sigkill": "`python -m bench.generate`",
            }.get(test, test)
            where = "; ".join(
                a.get("landed")
                or f"{a.get('stage')}: left {a.get('claims_left')} claims, {a.get('targets_left')} targets"
                for a in figure["attempts"]
            )
            rows.append(
                [
                    what,
                    db,
                    figure["kills"],
                    where,
                    figure["uninterrupted_write_seconds"],
                    figure["audit_events_verified"],
                ]
            )
        lines += [
            "Seeding and the bulk import killed, then run again; the result is compared, table by table "
            "(ids replaced by what they name), with an uninterrupted run:",
            "",
        ]
        lines += _table(
            [
                "command",
                "database",
                "kills",
                "where the kills landed",
                "uninterrupted write s",
                "audit events verified",
            ],
            rows,
            "llrlrr",
        )
        lines.append("")
    return lines if servers or others else []


def fuzz_section(recorder: Recorder) -> list[str]:
    rows = [
        [f"`{t.nodeid}`", t.fuzz_cases, t.requests, _fives([t])[0], t.outcome]
        for t in recorder.tests.values()
        if t.fuzz_cases is not None
    ]
    if not rows:
        return []
    return (
        [
            "## Fuzzing",
            "",
            "Hypothesis cases run per test (passing and failing examples, all phases) and the "
            "requests they sent:",
            "",
        ]
        + _table(["test", "cases", "requests", "HTTP 500", "outcome"], rows, "lrrrl")
        + [""]
    )


def failures_section(recorder: Recorder) -> list[str]:
    failed = [t for t in recorder.tests.values() if t.outcome in ("failed", "error")]
    if not failed:
        return []
    return ["## Failures", ""] + [f"- `{t.nodeid}` ({t.outcome}): {t.message}" for t in failed] + [""]


def write_document(
    path: Path,
    recorder: Recorder,
    files: Sequence[tuple[str, str]],
    missing: Sequence[str],
    figures: dict[tuple[str, str, str], dict[str, Any]],
    facts: dict[str, Any],
) -> None:
    tests = list(recorder.tests.values())
    outcomes = Counter(t.outcome for t in tests)
    lines = [
        "# Reliability: what was tried and what held",
        "",
        f"Written by `{facts['command']}` on {facts['date']} (revision {facts['revision']}) in "
        f"{facts['seconds'] / 60:.1f} minutes; load average {facts['load_before']} before and "
        f"{facts['load_after']} after. Do not edit: run the command again (`--long` for the long variants; "
        "README, Development).",
        "",
        f"**{outcomes['passed']} tests passed, {outcomes['failed'] + outcomes['error']} failed, "
        f"{outcomes['skipped']} skipped; pytest exit status {recorder.exit_status}.**",
        "",
        "## Machine and versions",
        "",
    ]
    lines += _table(
        ["", ""],
        [
            *facts["machine"].items(),
            ("PostgreSQL", facts["postgres"]),
            *facts["versions"].items(),
            *facts["settings"].items(),
        ],
    )
    lines += [
        "",
        "## Summary",
        "",
        "Per suite and database: tests (passed / failed / skipped), HTTP requests the tests sent (through "
        "httpx, in-process or over a socket), HTTP 500s (never acceptable), 503s (the documented answer "
        "while the database is unavailable), other 5xx, writers / readers at once, faults injected "
        "(processes killed, outages), fuzz cases, the time its tests took (set-up included), and whether "
        "everything held.",
        "",
    ]
    lines += _table(
        [
            "suite",
            "database",
            "tests",
            "requests",
            "HTTP 500",
            "HTTP 503",
            "other 5xx",
            "writers / readers",
            "faults injected",
            "fuzz cases",
            "seconds",
            "held",
        ],
        summary_rows(recorder, files, figures),
        "llrrrrrlrrrl",
    )
    lines += [""] + [f"- `{path}`: {what}" for path, what in files]
    lines += [f"- `{pattern}`: not present in this checkout" for pattern in missing]
    lines.append("")
    lines += load_section(figures)
    lines += faults_section(figures)
    lines += fuzz_section(recorder)
    lines += failures_section(recorder)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Failure messages may quote what a fuzzer sent, lone surrogates included: escape, never crash.
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8", errors="backslashreplace")


def main(argv: Sequence[str] | None = None, run: Callable[..., Recorder] = run_suites) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--long", action="store_true", help="the long variants (load 300 s, 5,000 fuzz cases)"
    )
    parser.add_argument(
        "--output", type=Path, default=OUTPUT, help=f"default {OUTPUT.relative_to(PROJECT_ROOT)}"
    )
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)
    env = {k: os.environ.get(k, v) for k, v in LONG_ENV.items()} if args.long else {}
    files, missing = suite_files()
    command = "python -m bench.reliability" + (" --long" if args.long else "")
    if os.environ.get(POSTGRES_ENV):
        command = f"{POSTGRES_ENV}={shlex.quote(os.environ[POSTGRES_ENV])} {command}"
    facts: dict[str, Any] = {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": git_revision(),
        "machine": machine(),
        "versions": versions(),
        "postgres": postgres_version(),
        "load_before": load_average(),
        "settings": {name: env.get(name, os.environ.get(name, "default")) for name in LONG_ENV},
    }
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="claimsdb-reliability-") as directory:
        recorder = run([path for path, _ in files], Path(directory), env, args.pytest_args)
        figures = read_figures(Path(directory))
    facts["seconds"] = time.monotonic() - began
    facts["load_after"] = load_average()
    write_document(args.output, recorder, files, missing, figures, facts)
    print(f"wrote {args.output} ({len(recorder.tests)} tests, pytest exit status {recorder.exit_status})")
    return recorder.exit_status or 0


if __name__ == "__main__":
    sys.exit(main())
