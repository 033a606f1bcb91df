"""GraphiQL works offline: the page's JavaScript and CSS come from claimsdb (/graphql/static,
vendored in api/static/graphiql), not from unpkg.com. No browser needed; httpx's ASGI transport."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from strawberry.http.ides import get_graphql_ide_html

from api.app import GRAPHIQL_STATIC_PATH, create_app, localize_graphiql_html
from api.settings import Settings
from api.store.db import Database

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ASSET_URL = re.compile(r"""(?:src|href)\s*=\s*"([^"]+\.(?:js|css))\"""")
CDN_ASSET = re.compile(
    r"""<(?:script|link)\b[^>]*?(?:src|href)="https://unpkg\.com/([^"]+)"[^>]*?integrity="([^"]+)\""""
)


@asynccontextmanager
async def client_for(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def graphiql_page(client: httpx.AsyncClient) -> str:
    response = await client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def test_graphiql_page_loads_assets_from_claimsdb(settings: Settings, db: Database) -> None:
    async with client_for(settings, db) as client:
        html = await graphiql_page(client)
        assert "unpkg.com" not in html
        assert "integrity=" not in html
        assert not re.search(r"\bcrossorigin\b", html)
        assets = ASSET_URL.findall(html)
        # graphiql js+css, react, react-dom, js-cookie, explorer plugin js+css
        assert len(assets) == 7, assets
        for url in assets:
            assert url.startswith(f"{GRAPHIQL_STATIC_PATH}/"), url
            response = await client.get(url)
            assert response.status_code == 200, url
            kind = response.headers["content-type"].split(";")[0]
            expected = "text/css" if url.endswith(".css") else ("text/javascript", "application/javascript")
            assert kind in expected, (url, kind)
            assert len(response.content) > 0, url


async def test_vendored_assets_match_strawberry_integrity(settings: Settings, db: Database) -> None:
    """Every file Strawberry's page pins (URL + sha384) is served by us, byte for byte; fails
    when a Strawberry upgrade moves to versions not yet vendored (run api/static/graphiql/fetch.sh)."""
    pinned = CDN_ASSET.findall(get_graphql_ide_html("graphiql"))
    assert len(pinned) == 7, pinned
    async with client_for(settings, db) as client:
        for path, integrity in pinned:
            response = await client.get(f"{GRAPHIQL_STATIC_PATH}/{path}")
            assert response.status_code == 200, f"{path} is not vendored; run api/static/graphiql/fetch.sh"
            algorithm, _, expected = integrity.partition("-")
            digest = base64.b64encode(hashlib.new(algorithm, response.content).digest()).decode()
            assert digest == expected, f"{path} differs from the file Strawberry's page pins"


async def test_graphql_endpoint_still_answers_queries(settings: Settings, db: Database) -> None:
    query = "{ __typename }"
    async with client_for(settings, db) as client:
        got = await client.get("/graphql", params={"query": query}, headers=BROWSER)
        posted = await client.post("/graphql", json={"query": query})
    for response in (got, posted):
        assert response.status_code == 200, response.text[:500]
        assert response.json() == {"data": {"__typename": "Query"}}


async def test_graphiql_disabled_serves_neither_page_nor_assets(settings: Settings, db: Database) -> None:
    off = settings.model_copy(update={"graphiql": False})
    async with client_for(off, db) as client:
        page = await client.get("/graphql", headers=BROWSER)
        asset = await client.get(f"{GRAPHIQL_STATIC_PATH}/graphiql@3.8.3/graphiql.min.js")
    assert page.status_code == 404
    assert "GraphiQL" not in page.text
    assert asset.status_code == 404


def test_localize_strips_cdn_attributes_and_honours_prefix() -> None:
    html = (
        '<link crossorigin rel="stylesheet" href="https://unpkg.com/a@1/a.css" integrity="sha384-x" />\n'
        "<script\n  crossorigin='anonymous'\n  src=\"https://unpkg.com/b@2/b.js\"\n></script>\n"
        "<p>crossorigin integrity= stay in text</p>"
    )
    out = localize_graphiql_html(html, "/api/graphql/static/")
    assert out == (
        '<link rel="stylesheet" href="/api/graphql/static/a@1/a.css" />\n'
        '<script\n  src="/api/graphql/static/b@2/b.js"\n></script>\n'
        "<p>crossorigin integrity= stay in text</p>"
    )
