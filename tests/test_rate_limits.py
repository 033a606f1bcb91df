"""Write budgets (api/rate_limits.py, api/limits_http.py): the RateLimit-* headers, a bad token
charged to its address once per distinct token, Redis outages, and `claimsdb serve --workers 2`
with Redis: one budget across both worker processes, client addresses from a trusted proxy's
X-Forwarded-For, /metrics summed over the workers, and a non-default database never seeded.

The Redis test uses keys under a prefix unique to the run and deletes only those. Redis runs at
127.0.0.1:6379 on the project's machines (CLAIMSDB_TEST_REDIS_URL overrides it); without it the
test is skipped, except in CI, where it must run."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from conftest import in_ci
from curation_helpers import build_world, mutation_document
from graphql_client import production_settings
from prometheus_client.parser import text_string_to_metric_families
from reliability_helpers import ServerProcess, cli_command

from api.app import create_app
from api.rate_limits import Budget, WriteBudgets
from api.settings import Settings
from api.store.db import Database
from schema.tables import Source

CREATE_TARGET = mutation_document("createTarget", "symbol")
REDIS_ENV = "CLAIMSDB_TEST_REDIS_URL"


def target_input(symbol: str) -> dict[str, Any]:
    return {"input": {"symbol": symbol, "name": f"target {symbol}", "kind": "gene"}}


async def write(
    client: httpx.AsyncClient, symbol: str, token: str | None, headers: dict[str, str] | None = None
) -> httpx.Response:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return await client.post(
        "/graphql", json={"query": CREATE_TARGET, "variables": target_input(symbol)}, headers=sent
    )


def accepted(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json()["data"]["createTarget"]["userErrors"] == []


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        production_settings(settings, write_rate_per_minute=3, anonymous_write_rate_per_minute=2), database=db
    )
    app.state.db = db
    transport = httpx.ASGITransport(app=app, client=("192.0.2.20", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as client:
        yield client


# --- in one process --------------------------------------------------------------------------


async def test_writes_carry_their_budget_and_429_says_when_to_retry(
    client: httpx.AsyncClient, db: Database
) -> None:
    world = await build_world(db)
    for n, remaining in enumerate((2, 1, 0)):
        response = await write(client, f"HDR{n}", world.tokens["alice"])
        assert accepted(response), response.text
        assert response.headers["ratelimit-limit"] == "3"
        assert response.headers["ratelimit-remaining"] == str(remaining)
        assert 1 <= int(response.headers["ratelimit-reset"]) <= 60
    refused = await write(client, "HDR3", world.tokens["alice"])
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60 and refused.headers["ratelimit-remaining"] == "0"
    assert refused.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    query = await client.post("/graphql", json={"query": "{ __typename }"})
    assert "ratelimit-limit" not in query.headers, "queries are not limited, so they carry no budget"


async def test_one_stale_token_cannot_lock_out_its_address(client: httpx.AsyncClient, db: Database) -> None:
    """The address allows 2 failed authentications; one bad token sent 6 times counts once (its
    own budget, 3 a minute, refuses it after 3, as any token's would)."""
    world = await build_world(db)
    codes = []
    for n in range(6):
        response = await write(client, f"STALE{n}", "cdb_stale_token")
        error = response.json()["errors"][0]
        codes.append(error["extensions"]["code"])
        assert "per address" not in error["message"], f"attempt {n}: {error}"
    assert codes == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"] * 3
    assert accepted(await write(client, "VALID1", world.tokens["alice"])), "a valid token was locked out"
    # Guessing (a new token each time) still spends the address's allowance, and then it is refused.
    for n in range(2):
        await write(client, f"GUESS{n}", f"cdb_guess_{n}")
    refused = await write(client, "VALID2", world.tokens["bob"])
    assert refused.status_code == 429 and "per address" in refused.json()["errors"][0]["message"]


async def test_a_batch_larger_than_the_budget_is_told_so(settings: Settings, db: Database) -> None:
    world = await build_world(db)
    app = create_app(
        production_settings(settings, write_rate_per_minute=2, max_batch_operations=3), database=db
    )
    app.state.db = db
    transport = httpx.ASGITransport(app=app)
    batch = [{"query": CREATE_TARGET, "variables": target_input(f"B{n}")} for n in range(3)]
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        response = await client.post(
            "/graphql", json=batch, headers={"Authorization": f"Bearer {world.tokens['alice']}"}
        )
    assert response.status_code == 429 and response.headers["retry-after"] == "60"
    assert "runs 3 mutations" in response.json()["errors"][0]["message"]


async def test_budgets_fall_back_to_memory_while_redis_is_unreachable() -> None:
    budgets = WriteBudgets("redis://127.0.0.1:1/0", "claimsdb-unreachable")
    budget = Budget("token", 2)
    assert [await budgets.take(budget, "k") for _ in range(3)] == [True, True, False]
    assert (await budgets.standing(budget, "k")).remaining == 0


def test_a_redis_url_must_be_one() -> None:
    with pytest.raises(ValueError, match="CLAIMSDB_REDIS_URL"):
        Settings(redis_url="http://127.0.0.1:6379")
    assert Settings(redis_url="redis://127.0.0.1:6379/3").redis_url == "redis://127.0.0.1:6379/3"


# --- two workers, one budget -------------------------------------------------------------------


@dataclass
class Serve(ServerProcess):
    """`claimsdb serve` with extra arguments."""

    arguments: tuple[str, ...] = ()

    def _command(self) -> list[str]:
        return cli_command("serve", "--host", "127.0.0.1", "--port", str(self.port), *self.arguments)


def request_lines(log: Path) -> dict[str, dict[str, Any]]:
    lines = {}
    for raw in log.read_bytes().splitlines():
        if raw.startswith(b"{") and b'"request_id"' in raw:
            line = orjson.loads(raw)
            lines[line["request_id"]] = line
    return lines


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[str, str]]:
    """(url, key prefix) for this run; deletes the keys under the prefix afterwards."""
    import redis.asyncio as redis

    url = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/0")
    connection = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        await connection.ping()
    except (OSError, redis.RedisError) as exc:
        await connection.aclose()
        message = f"Redis is not reachable at {url} ({exc}); set {REDIS_ENV} or start it"
        if in_ci():
            pytest.fail(f"CI=true requires the Redis test to run, but {message}", pytrace=False)
        pytest.skip(message)
    prefix = f"claimsdb-test-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        yield url, prefix
    finally:
        keys = [key async for key in connection.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await connection.delete(*keys)
        await connection.aclose()


async def test_two_workers_share_one_budget_through_redis(
    backend: str, settings: Settings, db: Database, tmp_path: Path, redis_prefix: tuple[str, str]
) -> None:
    if backend == "sqlite":
        pytest.skip("the budgets live in Redis, whatever the database; PostgreSQL (production's) shows it")
    url, prefix = redis_prefix
    server = Serve(
        settings,
        tmp_path,
        mode="serve",
        arguments=("--workers", "2", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"),
        extra_env={
            "CLAIMSDB_REDIS_URL": url,
            "CLAIMSDB_REDIS_KEY_PREFIX": prefix,
            "CLAIMSDB_WRITE_RATE_PER_MINUTE": "6",
            "CLAIMSDB_ANONYMOUS_WRITE_RATE_PER_MINUTE": "3",
            "CLAIMSDB_LOG_FORMAT": "json",
        },
    )
    # A new connection per request, so the kernel hands requests to either worker.
    limits = httpx.Limits(max_keepalive_connections=0)
    try:
        await server.start()
        async with db.read() as session:
            sources = await session.scalar(sa.select(sa.func.count()).select_from(Source))
        assert sources == 0, "`claimsdb serve` seeded a database that is not the default one"
        world = await build_world(db)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:
            ids = iter(range(10_000))

            async def send(
                token: str | None, headers: dict[str, str] | None = None
            ) -> tuple[str, httpx.Response]:
                request_id = f"w-{next(ids)}"
                response = await write(
                    client, f"W{request_id[2:]}", token, {"X-Request-Id": request_id, **(headers or {})}
                )
                return request_id, response

            # Both workers are up and answering.
            pids: set[int] = set()
            for _ in range(30):
                probes = [f"probe-{n}-{uuid.uuid4().hex[:6]}" for n in range(6)]
                await asyncio.gather(
                    *(
                        client.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": p})
                        for p in probes
                    )
                )
                lines = request_lines(server.log)  # type: ignore[arg-type]
                pids |= {lines[p]["pid"] for p in probes if p in lines}
                if len(pids) == 2:
                    break
                await asyncio.sleep(0.5)
            assert len(pids) == 2, f"only worker(s) {pids} answered; the log: {server.log_tail()}"

            # Writes, in rounds of concurrent requests, past the budget and until both workers have
            # answered writes.
            answers: dict[str, httpx.Response] = {}
            for _ in range(10):
                answers.update(await asyncio.gather(*(send(world.tokens["alice"]) for _ in range(4))))
                lines = request_lines(server.log)  # type: ignore[arg-type]
                both = len({lines[r]["pid"] for r in answers if r in lines}) == 2
                if both and len(answers) >= 8:
                    break
            # A worker writes a request's log line after its answer is sent: wait for the last ones.
            for _ in range(50):
                lines = request_lines(server.log)  # type: ignore[arg-type]
                if all(r in lines for r in answers):
                    break
                await asyncio.sleep(0.1)
            served_by = Counter(lines[r]["pid"] for r in answers)
            assert len(served_by) == 2, f"every write went to one worker: {served_by}"
            ok = [r for r, response in answers.items() if accepted(response)]
            refused = [r for r, response in answers.items() if response.status_code == 429]
            assert len(ok) == 6, f"{len(ok)} writes accepted across {dict(served_by)}; the budget is 6"
            assert len(ok) + len(refused) == len(answers)
            accepted_by = Counter(lines[r]["pid"] for r in ok)
            assert any(accepted_by[lines[r]["pid"]] < 6 for r in refused), (
                "a worker that accepted fewer than 6 writes itself should refuse: the budget is shared"
            )
            # Read just after each write is counted (concurrent writes may count in between).
            remaining = [int(answers[r].headers["ratelimit-remaining"]) for r in ok]
            assert all(0 <= n <= 5 for n in remaining) and 0 in remaining, remaining
            assert all(answers[r].headers["ratelimit-limit"] == "6" for r in [*ok, *refused])
            assert all(int(answers[r].headers["retry-after"]) >= 1 for r in refused)

            # Behind a trusted proxy, the budget of anonymous writes is the forwarded address's.
            behind = [await send(None, {"X-Forwarded-For": "203.0.113.7"}) for _ in range(4)]
            assert [r.status_code for _, r in behind] == [200, 200, 200, 429]
            other = await send(None, {"X-Forwarded-For": "203.0.113.8"})
            assert other[1].status_code == 200
            lines = request_lines(server.log)  # type: ignore[arg-type]
            assert {lines[r]["client"] for r, _ in behind} == {"203.0.113.7"}

            # /metrics adds up both workers.
            metrics = await client.get("/metrics")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.text)
            for s in family.samples
        }
        assert samples[("claimsdb_rate_limit_refusals_total", (("per", "token"),))] == len(refused)
        assert samples[("claimsdb_rate_limit_refusals_total", (("per", "address"),))] == 1
        mutations_ok = samples[
            ("claimsdb_requests_total", (("operation", "Run"), ("outcome", "ok"), ("type", "mutation")))
        ]
        assert mutations_ok == 6
        assert samples[("claimsdb_audit_chain_length", ())] > 0

        import redis.asyncio as redis

        connection = redis.Redis.from_url(url)
        try:
            used = [key async for key in connection.scan_iter(match=f"{prefix}*")]
        finally:
            await connection.aclose()
        assert used, "the budgets should be in Redis, under the run's prefix"
    finally:
        await server.stop()
