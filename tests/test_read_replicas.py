"""Read replicas (CLAIMSDB_READ_DATABASE_URLS) against a real streaming replica.

The module's cluster (tests/replica_helpers.py) is a primary and a hot standby fed by streaming
replication, started and stopped here. Replay on the standby can be paused
(pg_wal_replay_pause()), which makes "where did this read run" visible: a write made while replay
is paused is on the primary only, so a query that does not see it ran on the replica, and one
that does ran on the primary.

PostgreSQL only by nature; skipped without CLAIMSDB_TEST_POSTGRES_URL, except in CI (CI=true),
where a cluster that cannot start fails the module.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from conftest import POSTGRES_ENV, in_ci
from curation_helpers import Api, World, build_world, claim_input
from replica_helpers import Cluster, ClusterError, sql, start_cluster, wait_replayed
from sqlalchemy import text

from api.app import create_app
from api.http.read_your_writes import LSN_COOKIE, LSN_HEADER
from api.settings import Settings, normalize_database_url
from api.store.db import Database
from api.store.migrations import upgrade
from api.store.replicas import ReadRoute, parse_lsn

DATABASE = f"claimsdb_replica_{os.getpid()}"
COUNT = "query { claims(first: 1) { totalCount } }"


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true requires the read-replica tests to run, but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    raw = os.environ.get(POSTGRES_ENV, "").strip()
    if not raw:
        _unavailable(f"{POSTGRES_ENV} is not set")
    try:
        made = asyncio.run(start_cluster(normalize_database_url(raw)))
    except (ClusterError, OSError) as exc:
        _unavailable(f"a streaming replica could not be started: {exc}")
        raise
    try:
        asyncio.run(sql(made.primary, "postgres", f'CREATE DATABASE "{DATABASE}"'))
        upgrade(Settings(database_url=_url(made.primary)))
        yield made
    finally:
        if not made.own_primary:  # a database of ours on the shared test server
            made.stop_replica()
            asyncio.run(sql(made.primary, "postgres", f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        made.close()


def _url(server: Any) -> str:
    return str(server.set(database=DATABASE).render_as_string(hide_password=False))


def replica_settings(cluster: Cluster, **overrides: Any) -> Settings:
    return Settings(
        database_url=_url(cluster.primary),
        read_database_urls=_url(cluster.replica()),
        pool_size=2,
        replica_wait_ms=300,
        **overrides,
    )


@pytest.fixture
async def db(cluster: Cluster) -> AsyncIterator[Database]:
    database = Database(replica_settings(cluster))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
async def world(cluster: Cluster) -> AsyncIterator[World]:
    """Users with tokens and the names a claim needs, written once for the module."""
    database = Database(replica_settings(cluster))
    try:
        made = await build_world(database)
    finally:
        await database.dispose()
    await wait_replayed(cluster, DATABASE)
    yield made


@asynccontextmanager
async def client(settings: Settings, db: Database) -> AsyncIterator[Api]:
    """An HTTP client with its own cookie jar, as one browser or script would be."""
    app = create_app(settings, database=db)
    app.state.db = db
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as http:
        yield Api(http, db)


@asynccontextmanager
async def replay_paused(cluster: Cluster) -> AsyncIterator[None]:
    await sql(cluster.replica(), DATABASE, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        await sql(cluster.replica(), DATABASE, "SELECT pg_wal_replay_resume()")


async def total(api: Api, token: str) -> int:
    return int((await api.data(COUNT, token=token))["claims"]["totalCount"])


async def test_a_routed_read_runs_on_the_standby_and_an_unrouted_one_on_the_primary(
    db: Database, cluster: Cluster
) -> None:
    async with db.routed(ReadRoute(replica_ok=True)).read() as session:
        assert (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar() is True
    for route in (None, ReadRoute(replica_ok=False)):
        routed = db if route is None else db.routed(route)
        async with routed.read() as session:
            assert (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar() is False


async def test_queries_read_the_replica_and_a_writer_reads_its_own_writes(
    db: Database, world: World, cluster: Cluster
) -> None:
    settings = replica_settings(cluster)
    alice = world.tokens["alice"]
    async with client(settings, db) as writer, client(settings, db) as other:
        before = await total(other, alice)
        assert await total(writer, alice) == before
        async with replay_paused(cluster):
            response = await writer.client.post(
                "/graphql",
                json={
                    "query": "mutation($input: CreateClaimInput!) { createClaim(input: $input) "
                    "{ claim { id version } userErrors { message } } }",
                    "variables": {"input": claim_input(world, statement="Written while replay is paused.")},
                },
                headers={"Authorization": f"Bearer {alice}"},
            )
            payload = response.json()["data"]["createClaim"]
            assert payload["userErrors"] == [] and payload["claim"]["id"]
            # The answer hands the client the primary's WAL position, as a header and a cookie.
            position = response.headers[LSN_HEADER]
            assert parse_lsn(position) is not None
            assert writer.client.cookies.get(LSN_COOKIE) == position

            # A client that did not write reads the replica, which has not replayed the write...
            assert await total(other, alice) == before
            # ...the writer reads it (from the primary: the replica is not there in time)...
            assert await total(writer, alice) == before + 1
            # ...and so does any client that sends the position as a header instead of a cookie.
            headers = {"Authorization": f"Bearer {alice}", LSN_HEADER: position}
            answer = await other.client.post("/graphql", json={"query": COUNT}, headers=headers)
            assert answer.json()["data"]["claims"]["totalCount"] == before + 1

            # A mutation reads the primary even for a client carrying no position: submitting the
            # new claim must find it, which it could not on the paused replica.
            claim = payload["claim"]
            transition = {"id": claim["id"], "expectedVersion": claim["version"]}
            submitted = await other.ok("submitClaim", transition, token=alice)
            assert submitted["status"] == "SUBMITTED"
        await wait_replayed(cluster, DATABASE)
        assert await total(other, alice) == before + 1
        assert await total(writer, alice) == before + 1


async def test_the_writer_reads_the_replica_again_once_it_has_replayed(
    db: Database, world: World, cluster: Cluster
) -> None:
    settings = replica_settings(cluster)
    alice = world.tokens["alice"]
    async with client(settings, db) as writer:
        new_claim = claim_input(world, statement="Replayed soon.", direction="INCREASES")
        await writer.ok("createClaim", new_claim, token=alice)
        position = parse_lsn(writer.client.cookies.get(LSN_COOKIE))
        assert position is not None
        await wait_replayed(cluster, DATABASE)
        route = ReadRoute(replica_ok=True, min_lsn=position)
        async with db.routed(route).read() as session:
            assert (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar() is True
        assert route.replica is not None and not route.on_primary


async def test_a_replica_that_is_down_is_logged_and_reads_go_to_the_primary(
    db: Database, world: World, cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replica_settings(cluster)
    alice = world.tokens["alice"]
    async with client(settings, db) as api:
        before = await total(api, alice)
        cluster.stop_replica()
        try:
            with caplog.at_level(logging.WARNING, logger="claimsdb.replicas"):
                assert await total(api, alice) == before
                assert await total(api, alice) == before  # left out now: no second attempt
            warnings = [r.getMessage() for r in caplog.records if r.name == "claimsdb.replicas"]
            assert len(warnings) == 1, warnings
            assert "cannot serve reads" in warnings[0] and str(cluster.replica_port) in warnings[0]
        finally:
            cluster.start_replica()


def test_replica_urls_are_comma_separated_postgresql_urls() -> None:
    settings = Settings(
        database_url="postgresql://root@primary/claimsdb",
        read_database_urls=" postgresql://root@replica-1/claimsdb , postgres://root@replica-2:5433/claimsdb,",
    )
    assert [(u.drivername, u.host, u.port) for u in settings.read_urls] == [
        ("postgresql+asyncpg", "replica-1", None),
        ("postgresql+asyncpg", "replica-2", 5433),
    ]
    assert Settings(database_url="postgresql://root@primary/claimsdb", read_database_urls=" ").read_urls == ()
    with pytest.raises(ValueError, match="CLAIMSDB_READ_DATABASE_URLS.*not PostgreSQL"):
        Settings(database_url="postgresql://root@primary/claimsdb", read_database_urls="sqlite:///r.sqlite3")
    with pytest.raises(ValueError, match="CLAIMSDB_READ_DATABASE_URLS needs a PostgreSQL primary"):
        Settings(database_url="sqlite:///claimsdb.sqlite3", read_database_urls="postgresql://root@replica/db")
