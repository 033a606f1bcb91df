"""GraphiQL that teaches (issue 17, item 11): the page opens with example tabs, every example
validates against the schema (the committed SDL and the served one) and runs on the seeded
database as the role its headers name; the 3.5 MB bundle is served gzipped and cached."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema as build_sdl_schema
from graphql import parse, validate
from graphql_client import create_user_with_token, schema_for
from strawberry.http.ides import get_graphql_ide_html

from api.app import GRAPHIQL_STATIC_PATH, create_app
from api.http.graphiql import EXAMPLE_TABS, REVIEW_QUEUE, ExampleTab, graphiql_page
from api.http.static import IMMUTABLE
from api.settings import PROJECT_ROOT, Settings
from api.store.db import Database
from schema.enums import Role

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
BUNDLE = f"{GRAPHIQL_STATIC_PATH}/graphiql@3.8.3/graphiql.min.js"


@asynccontextmanager
async def client_for(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize(
    "tab", EXAMPLE_TABS, ids=lambda tab: re.search(r"(query|mutation) (\w+)", tab.query)[2]
)
def test_every_example_validates_against_the_schema(tab: ExampleTab) -> None:
    committed = build_sdl_schema(Path(PROJECT_ROOT, "api/schema.graphql").read_text())
    served = schema_for(Settings())._schema
    document = parse(tab.query)
    for schema in (committed, served):
        assert validate(schema, document) == [], tab.query
    if tab.variables is not None:
        assert isinstance(json.loads(tab.variables), dict)
    if tab.headers is not None:
        assert set(json.loads(tab.headers)) == {"Authorization"}


def test_the_tabs_cover_what_people_come_for() -> None:
    text = "\n".join(tab.query for tab in EXAMPLE_TABS)
    for needed in ("claims(", 'target: "IL-6R"', "conflicts(", "pairs(", "differences", "evidenceSummary("):
        assert needed in text, needed
    assert any("createClaim(input: $input)" in tab.query and tab.variables for tab in EXAMPLE_TABS)
    # The reviewer's queue: submitted claims and pending revisions.
    assert "reviewQueue(" in REVIEW_QUEUE.query and REVIEW_QUEUE.role == "reviewer"


async def run_tab(client: httpx.AsyncClient, tab: ExampleTab, tokens: dict[str, str]) -> dict[str, Any]:
    """The tab as GraphiQL sends it, with the placeholder in its headers replaced by a real token."""
    headers: dict[str, str] = {}
    if tab.role is not None:
        assert "<a " in (tab.headers or ""), "the tab should say which token to paste"
        headers["Authorization"] = f"Bearer {tokens[tab.role]}"
    variables = json.loads(tab.variables) if tab.variables else None
    response = await client.post(
        "/graphql", json={"query": tab.query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_every_example_runs_on_the_seeded_database(seeded_db: Database, settings: Settings) -> None:
    tokens = {
        "curator": (await create_user_with_token(seeded_db, "cora", Role.CURATOR))[1],
        "reviewer": (await create_user_with_token(seeded_db, "remy", Role.REVIEWER))[1],
    }
    claims_tab, conflicts_tab, summary_tab, create_tab, queue_tab = EXAMPLE_TABS
    async with client_for(settings, seeded_db) as client:
        claims = (await run_tab(client, claims_tab, tokens))["claims"]
        assert claims["totalCount"] > 0 and claims["nodes"]
        assert all("IL-6R" in [t["symbol"] for t in node["targets"]] for node in claims["nodes"])
        conflicts = (await run_tab(client, conflicts_tab, tokens))["conflicts"]
        assert conflicts["totalCount"] > 0
        assert any(pair["differences"] for c in conflicts["nodes"] for pair in c["pairs"]["nodes"])
        summary = (await run_tab(client, summary_tab, tokens))["evidenceSummary"]
        assert summary["total"] > 0 and summary["target"]["symbol"] == "IL-6R"

        queue_before = (await run_tab(client, queue_tab, tokens))["reviewQueue"]["totalCount"]
        created = (await run_tab(client, create_tab, tokens))["createClaim"]
        assert created["userErrors"] == [] and created["claim"]["status"] == "DRAFT", created
        # Sent to the reviewers, it is in their queue.
        submitted = ExampleTab(
            query=create_tab.query,
            variables=json.dumps(
                {
                    "input": {
                        **json.loads(create_tab.variables or "{}")["input"],
                        "condition": "RRMS",
                        "submit": True,
                    }
                }
            ),
            role="curator",
            headers=create_tab.headers,
        )
        sent = (await run_tab(client, submitted, tokens))["createClaim"]
        assert sent["userErrors"] == [] and sent["claim"]["status"] == "SUBMITTED", sent
        queue = (await run_tab(client, queue_tab, tokens))["reviewQueue"]
        assert queue["totalCount"] == queue_before + 1
        assert queue["nodes"][-1]["id"] == sent["claim"]["id"]
        assert queue["nodes"][-1]["createdBy"]["name"] == "cora"


async def test_the_page_opens_with_the_tabs(settings: Settings, db: Database) -> None:
    async with client_for(settings, db) as client:
        response = await client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<title>claimsdb GraphiQL</title>" in html
    found = re.search(r"const CLAIMSDB_TABS = (\[.*?\]);\n", html)
    assert found is not None
    assert json.loads(found.group(1)) == [tab.as_graphiql() for tab in EXAMPLE_TABS]
    assert "defaultTabs: CLAIMSDB_TABS," in html
    # A shared `?q=` link still opens its own query; without one the tabs are shown.
    assert "parameters.q," in html and "parameters.q || EXAMPLE_QUERY" not in html


def test_a_reshaped_strawberry_page_fails_loudly() -> None:
    html = get_graphql_ide_html("graphiql")
    assert graphiql_page(html) != html
    with pytest.raises(RuntimeError, match="defaultTabs|fetcher|parameters.q|title|fetchURL"):
        graphiql_page(html.replace("fetcher: fetcher,", "fetcher,"))
    # A tab holding "</script>" cannot end the page's script early.
    tricky = ExampleTab(query="# </script><script>alert(1)</script>\n{ __typename }")
    assert "</script><script>" not in graphiql_page(html, (tricky,))


async def test_the_bundle_is_served_compressed_and_cached(settings: Settings, db: Database) -> None:
    async with client_for(settings, db) as client:
        plain = await client.get(BUNDLE, headers={"Accept-Encoding": "identity"})
        zipped = await client.get(BUNDLE, headers={"Accept-Encoding": "gzip, deflate, br"})
        again = await client.get(
            BUNDLE, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
        )
        plain_again = await client.get(
            BUNDLE, headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]}
        )
    assert plain.status_code == 200 and len(plain.content) > 3_000_000
    assert "content-encoding" not in plain.headers
    assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip"
    raw = int(zipped.headers["content-length"])
    assert raw < len(plain.content) / 3, f"gzipped bundle is {raw} bytes"
    # httpx decodes the body: the same bytes as the file.
    assert zipped.content == plain.content
    for response in (plain, zipped):
        assert response.headers["cache-control"] == IMMUTABLE
        assert "Accept-Encoding" in response.headers["vary"]
    assert zipped.headers["etag"] != plain.headers["etag"]  # two representations, two validators
    assert again.status_code == 304 and again.content == b""
    assert plain_again.status_code == 304 and plain_again.headers["cache-control"] == IMMUTABLE
