"""Regression tests for what the schema fuzzer (tests/test_fuzz.py) found: each with the concrete
input it generated, sent over HTTP to the app with production settings, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from api.store.db import Database


def production(settings: Settings) -> Settings:
    return Settings(
        database_url=settings.database_url,
        pool_size=settings.pool_size,
        introspection=False,
        graphiql=False,
    )


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(production(settings), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as value:
        yield value


def request_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal before anything ran: JSON, GraphQL errors with a code, no `data`."""
    assert response.status_code == status, f"HTTP {response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    body = response.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": code} and error["message"], error
    return error


# Found by test_garbage: Strawberry refused these requests with plain-text bodies ("No GraphQL
# query found in the request", ...), which are neither JSON nor GraphQL-shaped responses.
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": ""}, "No GraphQL query"),
        ({"query": "{ __typename }", "variables": [1]}, "`variables` must be an object"),
        ({"query": "{ __typename }", "variables": "x"}, "`variables` must be an object"),
        ({"query": "{ __typename }", "extensions": 5}, "`extensions` must be an object"),
    ],
)
async def test_malformed_requests_get_json_errors(
    client: httpx.AsyncClient, body: dict[str, Any], fragment: str
) -> None:
    error = request_error(await client.post("/graphql", json=body), 400, "BAD_REQUEST")
    assert fragment in error["message"]


async def test_refusals_over_get_and_of_content_types_are_json(client: httpx.AsyncClient) -> None:
    mutation = await client.get("/graphql", params={"query": "mutation { __typename }"})
    # GraphQL over HTTP: 405 Method Not Allowed, and POST is the method it needs (issue 17).
    assert "not allowed when using GET" in request_error(mutation, 405, "METHOD_NOT_ALLOWED")["message"]
    assert mutation.headers["allow"] == "POST"
    bad_variables = await client.get("/graphql", params={"query": "{ __typename }", "variables": "{"})
    request_error(bad_variables, 400, "BAD_REQUEST")
    # GraphiQL is off in production: a browser's GET without a query finds nothing.
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    request_error(page, 404, "NOT_FOUND")
    form = await client.post(
        "/graphql", content=b"query=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert "Unsupported content type" in request_error(form, 400, "BAD_REQUEST")["message"]


# Found by test_operations_with_variables over GET: variables holding a lone surrogate escape
# ("\udeb2" in JSON). Strawberry decoded them with the standard library, which accepts it; the
# string then failed in the database driver (it cannot be encoded), answered as a masked
# "Internal server error.". POST bodies were refused already (the HTTP limits read them with
# orjson, which does not accept a lone surrogate).
@pytest.mark.parametrize(
    "variables",
    ['{"s": "\\udeb2"}', '{"s": "IL\\ud800-6R"}', '{"s": "\\udfff\\ud800"}'],
)
async def test_a_lone_surrogate_in_get_variables_is_refused(
    client: httpx.AsyncClient, variables: str
) -> None:
    query = "query T($s: String!) { target(symbol: $s) { symbol } }"
    response = await client.get("/graphql", params={"query": query, "variables": variables})
    error = request_error(response, 400, "BAD_REQUEST")
    assert "JSON" in error["message"]


async def test_a_surrogate_pair_is_text_like_any_other(client: httpx.AsyncClient) -> None:
    """A proper pair (an emoji, here escaped) still works, over GET and POST."""
    query = "query T($s: String!) { target(symbol: $s) { symbol } }"
    got = await client.get("/graphql", params={"query": query, "variables": '{"s": "IL\\ud83d\\ude00"}'})
    assert got.status_code == 200 and got.json() == {"data": {"target": None}}, got.text
    posted = await client.post("/graphql", json={"query": query, "variables": {"s": "IL\U0001f600"}})
    assert posted.status_code == 200 and posted.json() == {"data": {"target": None}}, posted.text
