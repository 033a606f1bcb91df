"""The database unavailable (issue 7, item 4): PostgreSQL unreachable or refusing connections,
the SQLite file removed or read-only. Over HTTP, with production settings, on both backends.

What a client gets while the database cannot serve, for reads, writes and token look-ups alike:
HTTP 503 with `Retry-After`, a GraphQL-shaped JSON body whose error has
`extensions.code == "SERVICE_UNAVAILABLE"` and a message that says "the database is
unavailable" (or, for writes to a read-only database, "the database is read-only" while reads
go on working); never a 500, never a masked "Internal server error.", never a driver's message.
`/healthz` answers 503 `{"status": "unhealthy", ...}`. When the database is back, the same app
(no restart) answers again.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Databases
from graphql_client import create_user_with_token, production_settings
from sqlalchemy.engine import make_url

from api.app import create_app
from api.settings import Settings
from api.store.db import Database
from schema.enums import Role

READ = "{ claims(first: 2) { totalCount nodes { id statement } } }"
VIEWER = "{ viewer { name } }"
CREATE_TARGET = (
    "mutation Run($input: CreateTargetInput!) { createTarget(input: $input) "
    "{ target { symbol } userErrors { field message code } } }"
)
TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
)
LEAKS = (
    "Traceback",
    'File "',
    ".py",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "sqlite3",
    "Internal server error",
)


@dataclass
class Client:
    http: httpx.AsyncClient
    token: str | None = None

    async def graphql(self, query: str, variables: dict[str, Any] | None = None, *, token: bool = False):
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    async def write(self, symbol: str) -> httpx.Response:
        variables = {"input": {"symbol": symbol, "name": f"target {symbol}", "kind": "gene"}}
        return await self.graphql(CREATE_TARGET, variables, token=True)


@asynccontextmanager
async def client_for(settings: Settings, db: Database, token: str | None = None) -> AsyncIterator[Client]:
    app = create_app(production_settings(settings), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as http:
        yield Client(http, token)


def assert_unavailable(response: httpx.Response, *, read_only: bool = False, busy: bool = False) -> None:
    """The answer to a request the database cannot serve."""
    text = response.text
    assert response.status_code == 503, f"HTTP {response.status_code}: {text[:500]}"
    assert response.headers["content-type"].startswith("application/json"), text[:300]
    assert int(response.headers["retry-after"]) > 0
    for leak in LEAKS:
        assert leak not in text, f"the answer leaks {leak!r}: {text[:500]}"
    body = response.json()
    assert body.get("errors"), text[:500]
    wording, reason = (
        ("the database is read-only", "read-only") if read_only
        else ("the server is busy", "busy") if busy
        else ("the database is unavailable", "unavailable")
    )  # fmt: skip
    for error in body["errors"]:
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
        assert error["extensions"]["reason"] == reason, error
        assert error["message"].startswith(wording), error


def assert_ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def assert_healthz(client: Client, healthy: bool) -> None:
    response = await client.http.get("/healthz")
    if healthy:
        assert response.status_code == 200 and response.json() == {"status": "ok"}, response.text
    else:
        assert response.status_code == 503, response.text
        assert response.json() == {"status": "unhealthy", "database": "unreachable"}, response.text


async def assert_all_unavailable(client: Client, symbol: str) -> None:
    """Reads (anonymous and with a token), a write, a query over GET, /healthz."""
    assert_unavailable(await client.graphql(READ))
    assert_unavailable(await client.graphql(VIEWER, token=True))  # the token look-up fails
    assert_unavailable(await client.write(symbol))
    assert_unavailable(await client.http.get("/graphql", params={"query": READ}))
    await assert_healthz(client, healthy=False)


async def assert_all_working(client: Client, symbol: str) -> None:
    assert assert_ok(await client.graphql(READ))["claims"]["totalCount"] >= 0
    assert assert_ok(await client.graphql(VIEWER, token=True))["viewer"]["name"] == "outage-curator"
    payload = assert_ok(await client.write(symbol))["createTarget"]
    assert payload == {"target": {"symbol": symbol}, "userErrors": []}, payload
    await assert_healthz(client, healthy=True)


async def target_exists(client: Client, symbol: str) -> bool:
    return (
        assert_ok(
            await client.graphql("query T($s: String!) { target(symbol: $s) { symbol } }", {"s": symbol})
        )["target"]
        is not None
    )


# --- an outage and its end, on the test's own database -----------------------------------------


@asynccontextmanager
async def postgres_refusing(databases: Databases, settings: Settings) -> AsyncIterator[None]:
    """The test's PostgreSQL database refusing connections, its sessions ended (as when the
    server stops), until the block ends."""
    name = make_url(settings.database_url).database
    assert name in databases.postgres().created, "only a database of this test session"
    admin = await databases.postgres().admin()
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        await admin.execute(TERMINATE, name)
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@asynccontextmanager
async def sqlite_removed(settings: Settings) -> AsyncIterator[None]:
    """The SQLite file gone (moved away) until the block ends, when it is put back."""
    path = Path(make_url(settings.database_url).database or "")
    moved = path.with_name(path.name + ".away")
    await asyncio.to_thread(shutil.move, path, moved)
    try:
        yield
    finally:
        await asyncio.to_thread(shutil.move, moved, path)


def outage(backend: str, databases: Databases, settings: Settings) -> Callable[[], Any]:
    if backend == "postgresql":
        return lambda: postgres_refusing(databases, settings)
    return lambda: sqlite_removed(settings)


async def test_an_outage_is_503_for_reads_writes_and_tokens_and_ends_without_a_restart(
    backend: str, settings: Settings, db: Database, _databases: Databases
) -> None:
    _, token = await create_user_with_token(db, "outage-curator", Role.CURATOR)
    async with client_for(settings, db, token) as client:
        await assert_all_working(client, "BEFORE1")
        async with outage(backend, _databases, settings)():
            await assert_all_unavailable(client, "DURING1")
            # Still so on a second round (no connection came back half-alive).
            await assert_all_unavailable(client, "DURING2")
        # Back: the same app, no restart.
        await assert_all_working(client, "AFTER1")
        assert not await target_exists(client, "DURING1"), "a write refused during the outage was stored"
        assert await target_exists(client, "BEFORE1")


async def test_a_database_that_never_answers_is_503(backend: str, tmp_path: Path) -> None:
    """Started against a database that is not there: PostgreSQL on a closed port, an SQLite file
    that does not exist (the API never creates an empty one in its place)."""
    if backend == "postgresql":
        settings = Settings(database_url="postgresql+asyncpg://claimsdb@127.0.0.1:1/claimsdb", pool_size=1)
    else:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'missing.sqlite3'}")
    db = Database(settings)
    try:
        async with client_for(settings, db, "cdb_not-checked-because-the-lookup-fails") as client:
            assert_unavailable(await client.graphql(READ))
            assert_unavailable(await client.graphql(VIEWER, token=True))
            assert_unavailable(await client.write("NEVER"))
            await assert_healthz(client, healthy=False)
    finally:
        await db.dispose()
    if backend == "sqlite":
        assert not (tmp_path / "missing.sqlite3").exists(), "the API created a database file"


# --- read-only -----------------------------------------------------------------------------------


async def assert_read_only(client: Client, symbol: str) -> None:
    assert assert_ok(await client.graphql(READ))["claims"]["totalCount"] >= 0
    assert assert_ok(await client.graphql(VIEWER, token=True))["viewer"]["name"] == "outage-curator"
    assert_unavailable(await client.write(symbol), read_only=True)
    await assert_healthz(client, healthy=True)  # it can still answer reads


@asynccontextmanager
async def immutable(path: Path) -> AsyncIterator[None]:
    """The file read-only even for root (the tests run as root, which ignores file modes)."""
    done = await asyncio.to_thread(subprocess.run, ["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a file immutable here (chattr: {done.stderr.decode().strip()})")
    try:
        yield
    finally:
        await asyncio.to_thread(subprocess.run, ["chattr", "-i", str(path)], check=True)


@asynccontextmanager
async def postgres_read_only(databases: Databases, settings: Settings) -> AsyncIterator[None]:
    """New sessions of the test's database read-only (as on a standby) until the block ends."""
    name = make_url(settings.database_url).database
    assert name in databases.postgres().created, "only a database of this test session"
    admin = await databases.postgres().admin()
    await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        await admin.execute(TERMINATE, name)
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        await admin.execute(TERMINATE, name)  # what makes sessions pick up the change


async def test_a_read_only_database_reads_refuses_writes_and_recovers(
    backend: str, settings: Settings, db: Database, _databases: Databases
) -> None:
    """SQLite: the file made read-only (immutable) while the app runs, before and after it has
    connections; PostgreSQL: the database's sessions read-only. Writes are refused as read-only,
    reads work, and once the database is writable again writes work without a restart."""
    _, token = await create_user_with_token(db, "outage-curator", Role.CURATOR)
    if backend == "sqlite":
        path = Path(make_url(settings.database_url).database or "")
        read_only: Callable[[], Any] = lambda: immutable(path)  # noqa: E731
    else:
        read_only = lambda: postgres_read_only(_databases, settings)  # noqa: E731
    async with client_for(settings, db, token) as client:
        await assert_all_working(client, "RW1")
        async with read_only():
            await assert_read_only(client, "RO1")
            await assert_read_only(client, "RO2")
        await assert_all_working(client, "RW2")
        assert not await target_exists(client, "RO1")

    if backend == "sqlite":
        # Read-only from the first connection on: a fresh app whose pool is empty.
        fresh = Database(settings)
        try:
            async with client_for(settings, fresh, token) as client:
                async with immutable(path):
                    await assert_read_only(client, "RO3")
                await assert_all_working(client, "RW3")
        finally:
            await fresh.dispose()

        # Opened read-only on purpose (a read-only URI): the same answers.
        uri = Settings(database_url=f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
        opened_read_only = Database(uri)
        try:
            async with client_for(uri, opened_read_only, token) as client:
                await assert_read_only(client, "RO4")
        finally:
            await opened_read_only.dispose()


# --- every connection in use -------------------------------------------------------------------


async def test_a_pool_with_no_free_connection_is_503_busy_then_serves_again(
    settings: Settings, db: Database
) -> None:
    """An overloaded worker (every pooled connection held by other requests beyond the pool
    timeout) answers 503 "busy" with Retry-After, not "unavailable" (the database is fine) and
    never a masked 500; once a connection is free it serves again."""
    _, token = await create_user_with_token(db, "outage-curator", Role.CURATOR)
    quick = production_settings(settings, pool_timeout_seconds=0.3)
    small = Database(quick, pool_size=1, max_overflow=0)
    try:
        async with client_for(quick, small, token) as client:
            await assert_all_working(client, "FREE1")
            async with small.read() as holder:
                await holder.connection()  # the pool's only connection, held by "another request"
                assert_unavailable(await client.graphql(READ), busy=True)
                assert_unavailable(await client.graphql(VIEWER, token=True), busy=True)
                assert_unavailable(await client.write("BUSY1"), busy=True)
            await assert_all_working(client, "FREE2")
            assert not await target_exists(client, "BUSY1")
    finally:
        await small.dispose()
