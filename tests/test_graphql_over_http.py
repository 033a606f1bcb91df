"""GraphQL over HTTP's media types and status codes (issue 17, item 6): a client that accepts
application/graphql-response+json gets it, with 4xx and no `data` for a request refused before
it ran; everyone else gets application/json as before. (tests/test_graphql_http_audit.py runs
the spec's own audit against a real server.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from graphql_client import production_settings

from api.app import create_app
from api.http.media import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, preferred_media_type
from api.settings import Settings
from api.store.db import Database

NEW = {"Accept": GRAPHQL_RESPONSE_JSON}
BOTH = {"Accept": f"{GRAPHQL_RESPONSE_JSON}, {APPLICATION_JSON};q=0.9"}
LEGACY = {"Accept": APPLICATION_JSON}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, APPLICATION_JSON),
        ("", APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),
        ("application/*", APPLICATION_JSON),
        (APPLICATION_JSON, APPLICATION_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, {APPLICATION_JSON};q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"{APPLICATION_JSON}, {GRAPHQL_RESPONSE_JSON};q=0.5", APPLICATION_JSON),
        (f"{APPLICATION_JSON};q=0.5, {GRAPHQL_RESPONSE_JSON};q=0.8", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0", APPLICATION_JSON),
        (f"text/html, {GRAPHQL_RESPONSE_JSON};charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("text/html", APPLICATION_JSON),  # nothing acceptable: the default type (the spec allows it)
        (f"{GRAPHQL_RESPONSE_JSON};q=nonsense", APPLICATION_JSON),
    ],
)
def test_media_type_negotiation(accept: str | None, expected: str) -> None:
    assert preferred_media_type(accept) == expected


@asynccontextmanager
async def client_for(
    settings: Settings, db: Database, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(production_settings(settings, **overrides), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        yield client


REFUSED = {
    "syntax": {"query": "{ claims {"},
    "validation": {"query": "{ claims { totalCont } }"},
    "variables": {"query": "query($n: Int!) { claims(first: $n) { totalCount } }", "variables": {}},
    "variable type": {
        "query": "query($n: Int!) { claims(first: $n) { totalCount } }",
        "variables": {"n": "x"},
    },
    "cost": {"query": "{ claims(first: 100) { nodes { source { claims(first: 100) { nodes { id } } } } } }"},
    "introspection": {"query": "{ __schema { queryType { name } } }"},
}


@pytest.mark.parametrize("name", list(REFUSED))
async def test_a_refused_request_is_400_without_data(settings: Settings, db: Database, name: str) -> None:
    payload = REFUSED[name]
    async with client_for(settings, db) as client:
        for headers in (NEW, BOTH):
            response = await client.post("/graphql", json=payload, headers=headers)
            assert response.status_code == 400, response.text
            assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
            body = response.json()
            assert "data" not in body and body["errors"], body
        got = await client.get("/graphql", params={"query": payload["query"]}, headers=NEW)
        assert got.status_code == 400 and "data" not in got.json()
        # The legacy type keeps its 200 and `"data": null`.
        for headers in (LEGACY, {}, {"Accept": "*/*"}):
            legacy = await client.post("/graphql", json=payload, headers=headers)
            assert legacy.status_code == 200, legacy.text
            assert legacy.headers["content-type"] == APPLICATION_JSON
            assert legacy.json()["data"] is None and legacy.json()["errors"]


async def test_results_with_data_are_200(seeded_db: Database, settings: Settings) -> None:
    query = '{ __typename viewer { name } target(symbol: "IL-6R") { symbol } }'
    async with client_for(settings, seeded_db) as client:
        ok = await client.post("/graphql", json={"query": query}, headers=NEW)
        # A field error (a token that is not valid fails `viewer`): partial data, still 200.
        partial = await client.post(
            "/graphql", json={"query": query}, headers={**NEW, "Authorization": "Bearer cdb_nope"}
        )
        # An error that nulls the whole result during execution: `data: null` is there, so 200.
        nulled = await client.post(
            "/graphql", json={"query": '{ claims(after: "garbage") { totalCount } }'}, headers=NEW
        )
    assert ok.status_code == 200 and ok.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert ok.json() == {"data": {"__typename": "Query", "viewer": None, "target": {"symbol": "IL-6R"}}}
    assert partial.status_code == 200
    body = partial.json()
    assert body["data"]["target"] == {"symbol": "IL-6R"} and body["data"]["viewer"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert nulled.status_code == 200
    assert nulled.json()["data"] is None and nulled.json()["errors"][0]["path"] == ["claims"]


async def test_other_refusals_speak_the_accepted_type(settings: Settings, db: Database) -> None:
    """Refusals of the HTTP limits (before GraphQL runs) and of Strawberry's HTTP layer."""
    nul = {
        "query": "query($t: String) { claims(filter: {text: $t}) { totalCount } }",
        "variables": {"t": "a\x00"},
    }
    async with client_for(settings, db, max_body_bytes=2048) as client:
        not_json = await client.post(
            "/graphql", content=b"{nope", headers={**NEW, "Content-Type": "application/json"}
        )
        too_large = await client.post(
            "/graphql", json={"query": "#" + "x" * 4000 + "\n{ __typename }"}, headers=NEW
        )
        with_nul = await client.post("/graphql", json=nul, headers=NEW)
        legacy_nul = await client.post("/graphql", json=nul, headers=LEGACY)
        mutation = await client.get("/graphql", params={"query": "mutation { __typename }"}, headers=NEW)
        no_query = await client.post("/graphql", json={"variables": None}, headers=NEW)
    expected = [(not_json, 400), (too_large, 413), (with_nul, 400), (mutation, 405), (no_query, 400)]
    for response, status in expected:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
        body = response.json()
        assert "data" not in body and body["errors"][0]["extensions"]["code"], body
    assert with_nul.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert int(too_large.headers["content-length"]) == len(too_large.content)
    # The legacy type, as before.
    assert legacy_nul.status_code == 200 and legacy_nul.headers["content-type"] == APPLICATION_JSON
    assert legacy_nul.json()["data"] is None


async def test_a_batch_stays_200(settings: Settings, db: Database) -> None:
    batch = [{"query": "{ __typename }"}, {"query": "{ claims {"}]
    async with client_for(settings, db, max_batch_operations=5) as client:
        response = await client.post("/graphql", json=batch, headers=NEW)
    assert response.status_code == 200, response.text
    first, second = response.json()
    assert first == {"data": {"__typename": "Query"}}
    assert "data" not in second and second["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
