"""Limits a client can see at the HTTP layer (api/limits_http.py): the request body size (413)
and the write rate per token and per address (429 with Retry-After), over the real ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from curation_helpers import build_world, counts, mutation_document
from graphql_client import production_settings

from api.app import create_app
from api.limits_http import count_writes, inspect_body
from api.settings import Settings
from api.store.db import Database

CREATE_TARGET = mutation_document("createTarget", "symbol")


@asynccontextmanager
async def client_for(
    settings: Settings, db: Database, address: str = "192.0.2.1"
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as client:
        yield client


def target_input(symbol: str) -> dict[str, Any]:
    return {"input": {"symbol": symbol, "name": f"target {symbol}", "kind": "gene"}}


async def write(client: httpx.AsyncClient, symbol: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(
        "/graphql", json={"query": CREATE_TARGET, "variables": target_input(symbol)}, headers=headers
    )


def assert_rate_limited(response: httpx.Response, per: str) -> None:
    assert response.status_code == 429, f"HTTP {response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert f"per {per}" in error["message"] and "retry after" in error["message"]


# --- body size ---------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_413(settings: Settings, db: Database) -> None:
    async with client_for(production_settings(settings, max_body_bytes=2048), db) as client:
        padding = "#" + "x" * 1900 + "\n"
        ok = await client.post("/graphql", json={"query": padding + "{ __typename }"})
        assert ok.status_code == 200 and ok.json() == {"data": {"__typename": "Query"}}

        big = await client.post("/graphql", json={"query": padding * 2 + "{ __typename }"})
        assert big.status_code == 413, big.text
        assert big.headers["content-type"].startswith("application/json")
        error = big.json()["errors"][0]
        assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert "2048 bytes" in error["message"] and "CLAIMSDB_MAX_BODY_BYTES" in error["message"]


async def test_a_streamed_body_is_counted(settings: Settings, db: Database) -> None:
    """No Content-Length (chunked): the bytes are counted as they arrive."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "#'
        for _ in range(10):
            yield b"x" * 1000
        yield b'\\n{ __typename }"}'

    async def small() -> AsyncIterator[bytes]:
        yield b'{"query": '
        yield b'"{ __typename }"}'

    async with client_for(production_settings(settings, max_body_bytes=4096), db) as client:
        request = client.build_request(
            "POST", "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in request.headers
        response = await client.send(request)
        assert response.status_code == 413, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

        response = await client.post(
            "/graphql", content=small(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


async def test_the_default_body_limit_is_one_mebibyte(settings: Settings, db: Database) -> None:
    assert Settings().max_body_bytes == 1024 * 1024
    async with client_for(production_settings(settings), db) as client:
        response = await client.post(
            "/graphql", content=b" " * (1024 * 1024 + 1), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        response = await client.post(
            "/graphql", content=b"{}", headers={"Content-Type": "application/json", "Content-Length": "abc"}
        )
        assert (
            response.status_code == 400
            and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        )
        health = await client.get("/healthz")
        assert health.status_code == 200


async def test_a_body_that_is_not_json_says_why_and_where(settings: Settings, db: Database) -> None:
    """JSON allows 1e400, but no double holds it: refused like broken JSON, with the reason and
    the position, never a 500."""
    async with client_for(production_settings(settings), db) as client:
        for body, reason in (
            (b'{"query": "{ __typename }", "variables": {"n": 1e400}}', "infinity"),
            (b'{"query": "{ __typename }",}', "line 1 column"),
        ):
            headers = {"Content-Type": "application/json"}
            response = await client.post("/graphql", content=body, headers=headers)
            assert response.status_code == 400, response.text
            error = response.json()["errors"][0]
            assert error["extensions"]["code"] == "BAD_REQUEST", error
            assert "not valid JSON" in error["message"] and reason in error["message"], error


# --- write rate --------------------------------------------------------------------------------


async def test_writes_per_token_are_limited_and_queries_are_not(settings: Settings, db: Database) -> None:
    world = await build_world(db)
    alice, bob = world.tokens["alice"], world.tokens["bob"]
    async with client_for(production_settings(settings, write_rate_per_minute=3), db) as client:
        for n in range(3):
            response = await write(client, f"RATE{n}", alice)
            assert response.status_code == 200, response.text
            assert response.json()["data"]["createTarget"]["userErrors"] == []
        before = await counts(db)
        refused = await write(client, "RATE3", alice)
        assert_rate_limited(refused, "token")
        assert await counts(db) == before, "a refused write stored something"
        # Queries, even many, are not writes.
        for _ in range(10):
            query = await client.post(
                "/graphql",
                json={"query": '{ target(symbol: "RATE0") { symbol } }'},
                headers={"Authorization": f"Bearer {alice}"},
            )
            assert query.status_code == 200 and query.json()["data"]["target"] == {"symbol": "RATE0"}
        # Another token from the same address has its own bucket.
        other = await write(client, "RATE4", bob)
        assert other.status_code == 200 and other.json()["data"]["createTarget"]["userErrors"] == []


async def test_anonymous_writes_are_limited_per_address(settings: Settings, db: Database) -> None:
    before = await counts(db)
    overrides = {"anonymous_write_rate_per_minute": 2}
    async with client_for(production_settings(settings, **overrides), db, address="192.0.2.7") as client:
        for n in range(2):
            response = await write(client, f"ANON{n}", None)
            assert response.status_code == 200
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert_rate_limited(await write(client, "ANON2", None), "address")
    # Another address is not affected.
    async with client_for(production_settings(settings, **overrides), db, address="192.0.2.8") as client:
        response = await write(client, "ANON3", None)
        assert response.status_code == 200
    assert await counts(db) == before


async def test_failed_authentication_is_charged_to_the_address(settings: Settings, db: Database) -> None:
    """Guessing tokens: each wrong token is a new token bucket, so the address pays for them."""
    world = await build_world(db)
    overrides = {"anonymous_write_rate_per_minute": 2, "write_rate_per_minute": 100}
    async with client_for(production_settings(settings, **overrides), db) as client:
        for n in range(2):
            response = await write(client, "GUESS", f"cdb_guess{n}")
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert_rate_limited(await write(client, "GUESS", "cdb_guess9"), "address")
        # Queries with a bad token are not writes and are still answered.
        query = await client.post(
            "/graphql", json={"query": "{ viewer { name } }"}, headers={"Authorization": "Bearer cdb_guess9"}
        )
        assert query.status_code == 200
    # Good tokens from an address that has not failed are unaffected.
    async with client_for(production_settings(settings, **overrides), db, address="192.0.2.9") as client:
        for n in range(3):
            response = await write(client, f"GOOD{n}", world.tokens["alice"])
            assert response.status_code == 200 and response.json()["data"]["createTarget"]["userErrors"] == []


async def test_a_rate_of_zero_turns_the_limit_off(settings: Settings, db: Database) -> None:
    world = await build_world(db)
    overrides = {"write_rate_per_minute": 0, "anonymous_write_rate_per_minute": 0}
    async with client_for(production_settings(settings, **overrides), db) as client:
        for n in range(5):
            assert (await write(client, f"OFF{n}", world.tokens["alice"])).status_code == 200
            assert (await write(client, f"OFFA{n}", None)).status_code == 200


def test_defaults_are_documented_and_safe() -> None:
    defaults = Settings()
    assert (defaults.write_rate_per_minute, defaults.anonymous_write_rate_per_minute) == (120, 60)
    assert defaults.max_batch_operations == 0
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in (
        "CLAIMSDB_MAX_BODY_BYTES",
        "CLAIMSDB_WRITE_RATE_PER_MINUTE",
        "CLAIMSDB_ANONYMOUS_WRITE_RATE_PER_MINUTE",
        "CLAIMSDB_MAX_BATCH_OPERATIONS",
    ):
        assert f"`{name}`" in readme, f"{name} is not in the README's Configuration table"


# --- the pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "operation_name", "writes"),
    [
        ("{ __typename }", None, 0),
        ('{ target(symbol: "mutation") { symbol } }', None, 0),
        ("query mutation { __typename }", None, 0),
        ("mutation { createTarget(input: {}) { __typename } }", None, 1),
        ("mutation M { a: __typename }", "M", 1),
        ("query Q { __typename } mutation M { a: __typename }", "Q", 0),
        ("query Q { __typename } mutation M { a: __typename }", "M", 1),
        ("query Q { __typename } mutation M { a: __typename }", None, 1),
        ("mutation {", None, 0),  # a syntax error: Strawberry answers it, nothing runs
    ],
)
def test_count_writes(query: str, operation_name: str | None, writes: int) -> None:
    assert count_writes(query, operation_name, 5000) == writes


def test_a_batch_counts_each_mutation() -> None:
    body = (
        b'[{"query": "mutation { a: __typename }"}, {"query": "{ __typename }"},'
        b' {"query": "mutation { b: __typename }"}]'
    )
    assert inspect_body(body, 3, 5000) == (2, 200, None)
    writes, status, problem = inspect_body(body, 0, 5000)
    assert status == 400 and problem is not None and b"batched requests" in problem
