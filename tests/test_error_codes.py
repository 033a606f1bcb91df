"""Every error is JSON with a code, reported once (issue 17, item 6): 404 and 405, syntax,
validation, depth, alias, token, cost and variable errors, introspection when it is off, a
masked bug, a refused body; over the real ASGI app with production settings."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from graphql import GraphQLError
from graphql_client import production_settings, schema_for
from starlette.applications import Starlette
from starlette.routing import Route

import api.store.queries.batch
from api.app import create_app
from api.graphql.errors import SERVICE_UNAVAILABLE, should_mask
from api.http.errors import exception_handlers
from api.settings import Settings
from api.store.db import Database
from api.store.errors import DatabaseUnavailable

LIMITS = {"max_query_depth": 5, "max_query_aliases": 3, "max_query_tokens": 400, "max_query_cost": 500}
# Deeper than 5, cheaper than 500.
DEEP = (
    "{ claims(first: 1) { nodes { source { claims(first: 1) { nodes { source { "
    "claims(first: 1) { nodes { id } } } } } } } } }"
)


@asynccontextmanager
async def client_for(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(production_settings(settings, **LIMITS), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        yield client


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    errors = response.json().get("errors")
    assert errors, response.text[:300]
    for error in errors:
        assert isinstance(error["extensions"]["code"], str), error
    repeated = Counter((e["message"], str(e.get("locations")), str(e.get("path"))) for e in errors)
    assert all(n == 1 for n in repeated.values()), f"an error is reported twice: {errors}"
    return errors


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in errors_of(response)]


# (document, the codes of its errors, in order)
GRAPHQL_CASES = [
    ("{ claims {", ["GRAPHQL_PARSE_FAILED"]),
    ("{ claims { totalCont } }", ["GRAPHQL_VALIDATION_FAILED"]),
    ("{ claims(filter: {direction: SIDEWAYS}) { totalCount } }", ["GRAPHQL_VALIDATION_FAILED"]),
    (DEEP, ["QUERY_TOO_DEEP"]),
    # The depth rule met the same deep path twice (a fragment spread twice): reported once.
    ("{ ...F ...F } fragment F on Query " + DEEP, ["QUERY_TOO_DEEP"]),
    ("{ a: __typename b: __typename c: __typename d: __typename }", ["TOO_MANY_ALIASES"]),
    ("{ " + "__typename " * 500 + "}", ["TOO_MANY_TOKENS"]),
    ("{ claims(first: 100) { nodes { targets { name } } } }", ["QUERY_TOO_COSTLY"]),
    # Introspection is off: one error, however many introspection fields the document has.
    ("{ __schema { types { name fields { name } } } }", ["GRAPHQL_VALIDATION_FAILED"]),
]


@pytest.mark.parametrize(("query", "expected"), GRAPHQL_CASES)
async def test_graphql_refusals_carry_their_code_once(
    settings: Settings, db: Database, query: str, expected: list[str]
) -> None:
    async with client_for(settings, db) as client:
        posted = await client.post("/graphql", json={"query": query})
        got = await client.get("/graphql", params={"query": query})
    for response in (posted, got):
        assert response.status_code == 200  # application/json: a refused request is still 200
        assert codes(response) == expected
        assert response.json()["data"] is None


async def test_each_limit_says_which_setting(settings: Settings, db: Database) -> None:
    async with client_for(settings, db) as client:
        tokens = errors_of(await client.post("/graphql", json={"query": "{ " + "__typename " * 500 + "}"}))
        deep = errors_of(await client.post("/graphql", json={"query": DEEP}))
        four = "{ a: __typename b: __typename c: __typename d: __typename }"
        aliases = errors_of(await client.post("/graphql", json={"query": four}))
    assert "CLAIMSDB_MAX_QUERY_TOKENS" in tokens[0]["message"] and "400" in tokens[0]["message"]
    assert "depth of 5" in deep[0]["message"]
    assert "Allowed: 3" in aliases[0]["message"]


async def test_variables_that_do_not_fit_are_bad_user_input(settings: Settings, db: Database) -> None:
    query = "query($n: Int!, $f: ClaimFilter) { claims(first: $n, filter: $f) { totalCount } }"
    async with client_for(settings, db) as client:
        missing = await client.post("/graphql", json={"query": query})
        wrong = await client.post(
            "/graphql", json={"query": query, "variables": {"n": "ten", "f": {"direction": ["SIDEWAYS"]}}}
        )
    assert codes(missing) == ["BAD_USER_INPUT"]
    assert codes(wrong) == ["BAD_USER_INPUT", "BAD_USER_INPUT"]


async def test_a_bug_is_masked_with_a_code(
    seeded_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot reach secret-host:5432")

    monkeypatch.setattr(api.store.queries.batch, "rows_by_id", broken)
    async with client_for(settings, seeded_db) as client:
        response = await client.post("/graphql", json={"query": '{ target(symbol: "MIF") { symbol } }'})
    assert response.status_code == 200
    [error] = errors_of(response)
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["path"] == ["target"]
    assert "secret" not in response.text


async def test_http_refusals_are_json_with_a_code(settings: Settings, db: Database) -> None:
    async with client_for(settings, db) as client:
        unknown_path = await client.get("/nowhere")
        put = await client.put("/graphql", json={"query": "{ __typename }"})
        post_health = await client.post("/healthz")
        get_mutation = await client.get("/graphql", params={"query": "mutation { __typename }"})
        json_type = {"Content-Type": "application/json"}
        not_json = await client.post("/graphql", content=b"{nope", headers=json_type)
        no_query = await client.post("/graphql", json={"variables": {}})
        static = await client.get("/graphql/static/nothing.js")
        head = await client.head("/graphql")
    assert (unknown_path.status_code, codes(unknown_path)) == (404, ["NOT_FOUND"])
    assert "/graphql" in unknown_path.json()["errors"][0]["message"]
    for response in (put, post_health):
        assert (response.status_code, codes(response)) == (405, ["METHOD_NOT_ALLOWED"])
        assert "GET" in response.headers["allow"]
    assert "POST" in put.headers["allow"]
    # GraphQL over HTTP: a mutation over GET is 405, and POST is what it needs.
    assert (get_mutation.status_code, codes(get_mutation)) == (405, ["METHOD_NOT_ALLOWED"])
    assert get_mutation.headers["allow"] == "POST"
    assert (not_json.status_code, codes(not_json)) == (400, ["BAD_REQUEST"])
    assert (no_query.status_code, codes(no_query)) == (400, ["BAD_REQUEST"])
    assert (static.status_code, codes(static)) == (404, ["NOT_FOUND"])  # GraphiQL is off
    assert head.status_code == 405 and head.headers["allow"] == "GET, POST"


async def test_an_unexpected_exception_outside_graphql_is_json() -> None:
    async def explode(request: Any) -> Any:
        raise RuntimeError("secret internals")

    app = Starlette(routes=[Route("/boom", explode)], exception_handlers=exception_handlers())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "errors": [{"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    }


async def test_should_mask_only_decides(settings: Settings) -> None:
    """The outage rewrite is its own step (process_errors), not a side effect of should_mask."""
    outage = GraphQLError("connection refused by 10.0.0.5", original_error=DatabaseUnavailable())
    assert should_mask(outage) is True and outage.message == "connection refused by 10.0.0.5"
    assert outage.extensions in (None, {})
    schema_for(settings).process_errors([outage])
    assert outage.extensions == {"code": SERVICE_UNAVAILABLE, "reason": "unavailable"}
    assert "10.0.0.5" not in outage.message
    assert should_mask(outage) is False  # an outage says so; it is not masked
    bug = GraphQLError("KeyError: 'secret'", original_error=KeyError("secret"))
    schema_for(settings).process_errors([bug])
    assert bug.message == "Internal server error." and bug.extensions == {"code": "INTERNAL_SERVER_ERROR"}
