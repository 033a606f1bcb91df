"""The GraphQL API over HTTP: the Starlette app with httpx's ASGI transport.

httpx's ASGITransport does not run the app's lifespan, so each test hands the app its database
through app.state.db, as the lifespan would with create_app(settings, database=db)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from graphql import build_schema as build_sdl_schema
from graphql_client import SEEDED_CLAIMS, ClaimSpec, create_claims, create_user_with_token, schema_for

import api.store.queries.batch
from api.app import create_app
from api.settings import Settings
from api.store.db import Database
from schema.enums import Role

IL6R_COUNT = '{ claims(filter: {target: "il6r"}) { totalCount } }'


@asynccontextmanager
async def client_for(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return response.json()


async def test_queries_over_http(
    seeded_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client_for(settings, seeded_db) as client:
        health = await client.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})

        # POST JSON: the seeded question a frontend asks first.
        posted = await client.post("/graphql", json={"query": IL6R_COUNT})
        assert posted.status_code == 200
        assert body(posted) == {"data": {"claims": {"totalCount": 10}}}

        # ... with variables and an operation name.
        posted = await client.post(
            "/graphql",
            json={
                "query": "query Count($t: String) { claims(filter: {target: $t}) { totalCount } } "
                "query Other { organisms { totalCount } }",
                "variables": {"t": "HGNC:6019"},
                "operationName": "Count",
            },
        )
        assert body(posted) == {"data": {"claims": {"totalCount": 10}}}

        # GET ?query= runs queries.
        got = await client.get("/graphql", params={"query": IL6R_COUNT})
        assert got.status_code == 200 and body(got) == {"data": {"claims": {"totalCount": 10}}}
        got = await client.get(
            "/graphql",
            params={
                "query": "query($t: String!) { target(symbol: $t) { symbol } }",
                "variables": '{"t": "CD126"}',
            },
        )
        assert body(got) == {"data": {"target": {"symbol": "IL-6R"}}}

        # A browser asking for HTML gets GraphiQL.
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "graphiql" in page.text.lower()

        # Limits and bad requests are client errors, never a 500.
        depth_bomb = '{ target(symbol: "IL-6R") ' + "{ interventions { intervention { actions { target " * 8
        depth_bomb += "{ symbol }" + " } } } }" * 8 + " }"
        for payload in (
            {"query": depth_bomb},
            {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(200)) + " }"},
            {"query": "{ claims(first: 1000) { totalCount } }"},
            {"query": '{ claims(after: "garbage") { totalCount } }'},
            {"query": "{ claims { totalCont } }"},
            {"query": "{ claims(first: 100) { nodes { source { claims(first: 100) { nodes { id } } } } } }"},
            {"query": "{ claims {"},  # syntax error
        ):
            response = await client.post("/graphql", json=payload)
            assert response.status_code < 500, f"{payload['query'][:60]}: HTTP {response.status_code}"
            errors = body(response).get("errors")
            assert errors, f"{payload['query'][:60]}: expected GraphQL errors, got {response.text[:200]}"
            assert all(e["message"] != "Internal server error." for e in errors), errors
        empty = await client.post("/graphql", json={"query": ""})
        assert 400 <= empty.status_code < 500, f"an empty query: HTTP {empty.status_code}"
        broken_json = await client.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert 400 <= broken_json.status_code < 500, f"a broken JSON body: HTTP {broken_json.status_code}"

        # A token that is not valid is refused with UNAUTHENTICATED, not treated as anonymous.
        refused = await client.post(
            "/graphql", json={"query": IL6R_COUNT}, headers={"Authorization": "Bearer cdb_not-a-real-token"}
        )
        errors = body(refused)["errors"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED", errors

        # Unexpected failures are masked: HTTP 200, a generic message, no internals.
        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("cannot reach secret-host:5432")

        monkeypatch.setattr(api.store.queries.batch, "rows_by_id", broken)
        masked = await client.post("/graphql", json={"query": '{ target(symbol: "MIF") { symbol } }'})
        assert masked.status_code == 200
        assert body(masked)["errors"][0]["message"] == "Internal server error."
        assert "secret" not in masked.text


async def test_tokens_decide_visibility_over_http(seeded_db: Database, settings: Settings) -> None:
    curator, curator_token = await create_user_with_token(seeded_db, "cora", Role.CURATOR)
    _, reviewer_token = await create_user_with_token(seeded_db, "remy", Role.REVIEWER)
    await create_claims(
        seeded_db,
        [ClaimSpec("A draft.", source="10.1016/j.jns.2022.120320", target="IL-6R", outcome="fever")],
        actor=curator,
        status=None,
    )
    query = {
        "query": "{ all: claims { totalCount } drafts: claims(filter: {status: [DRAFT]}) { totalCount } }"
    }
    async with client_for(settings, seeded_db) as client:
        anonymous = body(await client.post("/graphql", json=query))["data"]
        reviewer = body(
            await client.post("/graphql", json=query, headers={"Authorization": f"Bearer {reviewer_token}"})
        )["data"]
        own = body(
            await client.get("/graphql", params=query, headers={"Authorization": f"Bearer {curator_token}"})
        )["data"]
    assert anonymous == {"all": {"totalCount": SEEDED_CLAIMS}, "drafts": {"totalCount": 0}}
    assert reviewer == {"all": {"totalCount": SEEDED_CLAIMS + 1}, "drafts": {"totalCount": 1}}
    assert own == {"all": {"totalCount": SEEDED_CLAIMS + 1}, "drafts": {"totalCount": 1}}


async def test_mutations_over_get_are_refused(seeded_db: Database, settings: Settings) -> None:
    mutation_type = build_sdl_schema(schema_for(settings).as_str()).mutation_type
    if mutation_type is None:
        pytest.skip("the schema has no Mutation type yet, so there is no mutation to refuse over GET")
    _, token = await create_user_with_token(seeded_db, "gail", Role.ADMIN)
    if "createSource" in mutation_type.fields:
        mutation = (
            'mutation { createSource(input: {kind: BLOG_POST, title: "Sent over GET"}) { source { id } } }'
        )
    else:
        mutation = "mutation { __typename }"
    count = {"query": '{ sources(filter: {text: "Sent over GET"}) { totalCount } }'}
    async with client_for(settings, seeded_db) as client:
        response = await client.get(
            "/graphql", params={"query": mutation}, headers={"Authorization": f"Bearer {token}"}
        )
        assert 400 <= response.status_code < 500, (
            f"a mutation over GET: HTTP {response.status_code} {response.text}"
        )
        assert "Sent over GET" not in response.text
        after = body(await client.post("/graphql", json=count))
    assert after == {"data": {"sources": {"totalCount": 0}}}, "the GET mutation must not have run"


async def test_graphiql_can_be_switched_off(seeded_db: Database, settings: Settings) -> None:
    quiet = settings.model_copy(update={"graphiql": False})
    async with client_for(quiet, seeded_db) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code < 500 and "graphiql" not in page.text.lower()
        still = await client.get("/graphql", params={"query": IL6R_COUNT})
        assert body(still) == {"data": {"claims": {"totalCount": 10}}}
