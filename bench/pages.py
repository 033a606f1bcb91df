"""How fast the workbench's pages answer over HTTP on the seeded database:
`python -m bench.pages [--requests N] [--postgres URL] [--markdown FILE]`.

Issue 18 asks every page to answer within 100 ms for the seeded database. Per database (a fresh
SQLite file always; PostgreSQL when --postgres or CLAIMSDB_TEST_POSTGRES_URL names a server, in a
`claimsdb_bench_pages` database created and dropped here), this migrates and seeds the database,
starts the app under uvicorn (bench.http_load.serve, one worker, as `claimsdb serve` runs it),
finds one of each page by following the pages' own links (a target, a summary cell, a conflict,
a claim, its source, ...), signs a reviewer in for the pages that need one (review queue, new
claim, edit, typeahead), and requests each page N times one after another after a short
warm-up, checking every answer is 200. It reports p50 and p95 per page in milliseconds, as seen
by the client on the same machine, and the server process's CPU time per request (/proc).

The machine is shared: a busy neighbour moves single requests, so read p50 against the budget,
p95 as the spread, and the CPU time as what the page itself costs. The exit status is 2 when a
page's p50 is over the budget. Timings are never asserted in the tests (tests/test_web_pages.py runs
this with two requests per page and checks only that every page answers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.settings import Settings
from api.store import migrations
from api.store.db import Database
from api.store.seeding import load_seeds
from bench.http_load import percentile, serve
from schema.enums import Role
from schema.users import Actor

BUDGET_MS = 100.0
WARM_UP = 3
POSTGRES_ENV = "CLAIMSDB_TEST_POSTGRES_URL"
PG_DATABASE = "claimsdb_bench_pages"
UI_SECRET = "bench-pages-signing-key-0123456789abcdef"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SETUP = Actor(None, "bench-pages", Role.ADMIN)


@dataclass
class PageTiming:
    page: str
    path: str
    signed_in: bool
    times_ms: list[float] = field(default_factory=list)
    server_cpu_ms: float = 0.0  # the server process's CPU time per timed request

    @property
    def p50(self) -> float:
        return percentile(sorted(self.times_ms), 50)

    @property
    def p95(self) -> float:
        return percentile(sorted(self.times_ms), 95)

    def row(self) -> dict[str, Any]:
        return {
            "page": self.page, "path": self.path, "signed_in": self.signed_in,
            "requests": len(self.times_ms), "p50_ms": round(self.p50, 1), "p95_ms": round(self.p95, 1),
            "max_ms": round(max(self.times_ms), 1), "server_cpu_ms": round(self.server_cpu_ms, 1),
            "within_budget": self.p50 < BUDGET_MS,
        }  # fmt: skip


class PageError(RuntimeError):
    """A page that did not answer 200, or a link the pages should have and did not."""


def _find(pattern: str, html: str, what: str) -> str:
    match = re.search(pattern, html)
    if match is None:
        raise PageError(f"no {what} found on the page")
    return match.group(1).replace("&amp;", "&")


async def _get(client: httpx.AsyncClient, path: str) -> str:
    answer = await client.get(path)
    if answer.status_code != 200:
        raise PageError(f"{path} answered HTTP {answer.status_code}: {answer.text[:300]}")
    return answer.text


async def _sign_in(client: httpx.AsyncClient, token: str) -> None:
    login = await _get(client, "/ui/login")
    answer = await client.post(
        "/ui/login", data={"csrf": _find(_CSRF.pattern, login, "CSRF token"), "token": token, "next": "/ui/"}
    )
    if answer.status_code != 303:
        raise PageError(f"signing in answered HTTP {answer.status_code}")


async def discover(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """(page, path) for one of each page a reader opens, found through the pages' links."""
    target = await _get(client, "/ui/targets/IL-6R")
    claim = _find(r'href="(/ui/claims/[A-Za-z0-9_=-]+)"', target, "claim link on the target page")
    claim_page = await _get(client, claim)
    return [
        ("home", "/ui/"),
        ("target", "/ui/targets/IL-6R"),
        ("target (alias)", "/ui/targets/il6r"),
        ("target conflicts (htmx part)", "/ui/targets/IL-6R/conflicts"),
        ("summary cell", _find(r'href="(/ui/targets/IL-6R/cell\?[^"]+)"', target, "summary cell link")),
        ("conflict", _find(r'href="(/ui/conflicts/[^"]+)"', target, "conflict link")),
        ("claim", claim),
        ("claim's opposing claims (htmx part)", claim + "/conflicts"),
        ("source", _find(r'href="(/ui/sources/[^"]+)"', claim_page, "source link on the claim page")),
        ("claims list, filtered", "/ui/claims?condition=MS&direction=DECREASES"),
        ("search", "/ui/search?q=il6"),
        ("sign-in", "/ui/login"),
    ]


def signed_in_pages(claim_path: str) -> list[tuple[str, str]]:
    return [
        ("claim (signed in)", claim_path),
        ("review queue", "/ui/review"),
        ("new claim form", "/ui/claims/new"),
        ("edit form", claim_path + "/edit"),
        ("typeahead", "/ui/suggest?field=outcome&outcome=disease"),
    ]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc), which neighbours on a
    shared machine do not inflate as they inflate wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _time(client: httpx.AsyncClient, timing: PageTiming, requests: int, server_pid: int) -> None:
    for _ in range(WARM_UP):
        await _get(client, timing.path)
    cpu_before = cpu_seconds(server_pid)
    for _ in range(requests):
        started = time.perf_counter()
        await _get(client, timing.path)
        timing.times_ms.append((time.perf_counter() - started) * 1000)
    timing.server_cpu_ms = (cpu_seconds(server_pid) - cpu_before) * 1000 / requests


async def measure(settings: Settings, requests: int, log_dir: Path) -> list[PageTiming]:
    """Every page `requests` times over HTTP against a server on `settings`' database, which is
    migrated and seeded already. Adds a reviewer (bench-pages-reviewer-<pid>) to sign in with."""
    from api.store.commands.users import create_user

    db = Database(settings)
    try:
        async with db.write(_SETUP) as w:
            _, token = await create_user(w, f"bench-pages-reviewer-{os.getpid()}", Role.REVIEWER)
    finally:
        await db.dispose()
    timings: list[PageTiming] = []
    env = {"CLAIMSDB_UI_SECRET": UI_SECRET, "CLAIMSDB_WRITE_RATE_PER_MINUTE": "0"}
    async with serve(settings, log_dir, env) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as reader:
            pages = await discover(reader)
            for page, path in pages:
                timings.append(PageTiming(page, path, False))
                await _time(reader, timings[-1], requests, server.process.pid)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as reviewer:
            await _sign_in(reviewer, token)
            claim_path = dict(pages)["claim"]
            for page, path in signed_in_pages(claim_path):
                timings.append(PageTiming(page, path, True))
                await _time(reviewer, timings[-1], requests, server.process.pid)
    return timings


async def _seeded(settings: Settings) -> None:
    await asyncio.to_thread(migrations.upgrade, settings)
    db = Database(settings)
    try:
        await load_seeds(db, settings.seeds_dir)
    finally:
        await db.dispose()


async def _postgres(server_url: str, drop: bool) -> Settings:
    """Settings for PG_DATABASE on the server, created afresh (or, with `drop`, only dropped)."""
    import asyncpg

    url = Settings(database_url=server_url).url
    admin = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        if not drop:
            await admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await admin.close()
    return Settings(database_url=url.set(database=PG_DATABASE).render_as_string(hide_password=False))


async def run(requests: int, postgres: str | None) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {}
    load_average = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="claimsdb-pages-") as folder:
        work = Path(folder)
        sqlite = Settings(database_url=f"sqlite+aiosqlite:///{work / 'seeded.sqlite3'}")
        await _seeded(sqlite)
        results["sqlite"] = [t.row() for t in await measure(sqlite, requests, work)]
        if postgres:
            pg = await _postgres(postgres, drop=False)
            try:
                await _seeded(pg)
                results["postgresql"] = [t.row() for t in await measure(pg, requests, work)]
            finally:
                await _postgres(postgres, drop=True)
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "requests_per_page": requests,
        "load_average": load_average,
        "budget_ms": BUDGET_MS,
        "results": results,
    }


def markdown(document: dict[str, Any]) -> str:
    databases = list(document["results"])
    lines = [
        "| page | signed in | "
        + " | ".join(f"{d} p50 / p95 ms" for d in databases)
        + " | "
        + " | ".join(f"{d} server CPU ms" for d in databases)
        + " |",
        "|---|---|" + "---|" * (2 * len(databases)),
    ]
    rows = {d: {r["page"]: r for r in document["results"][d]} for d in databases}
    for page in rows[databases[0]]:
        cells = []
        for d in databases:
            r = rows[d].get(page)
            mark = "" if r is None or r["within_budget"] else " **over**"
            cells.append("-" if r is None else f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f}{mark}")
        for d in databases:
            r = rows[d].get(page)
            cells.append("-" if r is None else f"{r['server_cpu_ms']:.1f}")
        signed = "yes" if rows[databases[0]][page]["signed_in"] else "no"
        lines.append(f"| {page} | {signed} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, metavar="N", help="timed requests per page")
    parser.add_argument(
        "--postgres", metavar="URL", default=os.environ.get(POSTGRES_ENV) or None,
        help=f"PostgreSQL server URL (default: ${POSTGRES_ENV}); uses a {PG_DATABASE} database there",
    )  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table, not JSON")
    args = parser.parse_args(argv)
    if args.requests < 1:
        print("error: --requests must be at least 1", file=sys.stderr)
        return 1
    try:
        document = asyncio.run(run(args.requests, args.postgres))
    except (PageError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.markdown:
        print(
            f"{document['when']}, {document['requests_per_page']} requests per page after "
            f"{WARM_UP} warm-up, load average {document['load_average']:.2f} at start\n"
        )
        print(markdown(document))
    else:
        import orjson

        print(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    over = [r for rows in document["results"].values() for r in rows if not r["within_budget"]]
    return 2 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
