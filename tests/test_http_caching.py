"""HTTP caching and compression (issue 17, item 8): anonymous GET queries get an ETag and a
public max-age, a repeated GET with If-None-Match gets 304; answers for a token, mutations,
POSTs and errors are never publicly cacheable; answers over 1 KB are gzipped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from graphql_client import ADMIN, ClaimSpec, create_claims, create_user_with_token, production_settings

from api.app import create_app
from api.http.caching import etag_matches
from api.http.media import GRAPHQL_RESPONSE_JSON
from api.settings import Settings
from api.store.db import Database
from schema.enums import Role

COUNT = {"query": '{ claims(filter: {target: "MIF"}) { totalCount } }'}
BIG = {"query": "{ claims(first: 40) { nodes { statement evidence { quote } } } }"}


@asynccontextmanager
async def client_for(
    settings: Settings, db: Database, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(production_settings(settings, **overrides), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        yield client


def vary(response: httpx.Response) -> set[str]:
    return {part.strip().lower() for part in response.headers.get("vary", "").split(",") if part.strip()}


async def test_a_repeated_get_is_304(seeded_db: Database, settings: Settings) -> None:
    async with client_for(settings, seeded_db) as client:
        first = await client.get("/graphql", params=COUNT)
        second = await client.get("/graphql", params=COUNT)
        again = await client.get("/graphql", params=COUNT, headers={"If-None-Match": first.headers["etag"]})
        listed = await client.get(
            "/graphql", params=COUNT, headers={"If-None-Match": f'"x", {first.headers["etag"]}'}
        )
        stale = await client.get("/graphql", params=COUNT, headers={"If-None-Match": 'W/"something-else"'})
    assert first.status_code == 200 and first.json()["data"]["claims"]["totalCount"] > 0
    assert first.headers["cache-control"] == "public, max-age=60"
    assert first.headers["etag"].startswith('W/"')
    assert second.headers["etag"] == first.headers["etag"]
    assert {"accept", "authorization"} <= vary(first)
    for response in (again, listed):
        assert response.status_code == 304 and response.content == b""
        assert response.headers["etag"] == first.headers["etag"]
        assert response.headers["cache-control"] == "public, max-age=60"
        assert {"accept", "authorization"} <= vary(response)
    assert stale.status_code == 200 and stale.content == first.content


async def test_a_change_in_the_data_changes_the_etag(seeded_db: Database, settings: Settings) -> None:
    async with client_for(settings, seeded_db) as client:
        before = await client.get("/graphql", params=COUNT)
        await create_claims(
            seeded_db,
            [
                ClaimSpec(
                    "MIF is measured once more.",
                    source="10.1016/j.jns.2022.120320",
                    target="MIF",
                    outcome="fever",
                )
            ],
            actor=ADMIN,
        )
        after = await client.get("/graphql", params=COUNT, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.json()["data"]["claims"]["totalCount"] == before.json()["data"]["claims"]["totalCount"] + 1
    assert after.headers["etag"] != before.headers["etag"]


async def test_max_age_is_a_setting(seeded_db: Database, settings: Settings) -> None:
    async with client_for(settings, seeded_db, http_cache_max_age=300) as client:
        long = await client.get("/graphql", params=COUNT)
    async with client_for(settings, seeded_db, http_cache_max_age=0) as client:
        revalidate = await client.get("/graphql", params=COUNT)
        hit = await client.get(
            "/graphql", params=COUNT, headers={"If-None-Match": revalidate.headers["etag"]}
        )
    assert long.headers["cache-control"] == "public, max-age=300"
    assert revalidate.headers["cache-control"] == "public, no-cache"
    assert hit.status_code == 304


async def test_never_publicly_cached(seeded_db: Database, settings: Settings) -> None:
    _, token = await create_user_with_token(seeded_db, "cora", Role.CURATOR)
    bearer = {"Authorization": f"Bearer {token}"}
    mutation = {
        "query": 'mutation { createTarget(input: {symbol: "CACHE1", name: "cache test", kind: "gene"}) '
        "{ target { symbol } userErrors { code } } }"
    }
    async with client_for(settings, seeded_db) as client:
        first = await client.get("/graphql", params=COUNT, headers=bearer)
        with_token = await client.get("/graphql", params=COUNT, headers={**bearer, "If-None-Match": "*"})
        bad_token = await client.get("/graphql", params=COUNT, headers={"Authorization": "Bearer cdb_nope"})
        posted = await client.post("/graphql", json=COUNT)
        written = await client.post("/graphql", json=mutation, headers=bearer)
        refused = await client.get("/graphql", params={"query": "{ claims { totalCont } }"})
        field_error = await client.get(
            "/graphql", params={"query": '{ claims(after: "garbage") { totalCount } }'}
        )
    assert written.json()["data"]["createTarget"] == {"target": {"symbol": "CACHE1"}, "userErrors": []}
    for response in (first, with_token, bad_token, written):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-store"
        assert "etag" not in response.headers
    for response in (posted, refused, field_error):
        assert response.headers["cache-control"] == "no-store", response.text
        assert "etag" not in response.headers
    assert "public" not in " ".join(r.headers["cache-control"] for r in (first, posted, written))


async def test_each_media_type_has_its_own_etag(seeded_db: Database, settings: Settings) -> None:
    async with client_for(settings, seeded_db) as client:
        legacy = await client.get("/graphql", params=COUNT)
        new = await client.get("/graphql", params=COUNT, headers={"Accept": GRAPHQL_RESPONSE_JSON})
        crossed = await client.get(
            "/graphql",
            params=COUNT,
            headers={"Accept": GRAPHQL_RESPONSE_JSON, "If-None-Match": legacy.headers["etag"]},
        )
    assert legacy.content == new.content
    assert legacy.headers["etag"] != new.headers["etag"]
    assert crossed.status_code == 200 and crossed.headers["content-type"] == GRAPHQL_RESPONSE_JSON


async def test_answers_over_a_kilobyte_are_gzipped(seeded_db: Database, settings: Settings) -> None:
    async with client_for(settings, seeded_db) as client:
        big = await client.post("/graphql", json=BIG, headers={"Accept-Encoding": "gzip"})
        plain = await client.post("/graphql", json=BIG, headers={"Accept-Encoding": "identity"})
        small = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Accept-Encoding": "gzip"}
        )
        got = await client.get("/graphql", params=BIG, headers={"Accept-Encoding": "gzip"})
        revalidated = await client.get(
            "/graphql", params=BIG, headers={"Accept-Encoding": "gzip", "If-None-Match": got.headers["etag"]}
        )
    assert len(plain.content) > 1024 and "content-encoding" not in plain.headers
    assert big.headers["content-encoding"] == "gzip"
    assert int(big.headers["content-length"]) < len(plain.content) / 2
    assert big.json() == plain.json()
    assert "accept-encoding" in vary(big)
    assert "content-encoding" not in small.headers
    # The ETag names the content, whichever encoding carries it.
    assert got.headers["content-encoding"] == "gzip" and got.headers["etag"].startswith('W/"')
    assert revalidated.status_code == 304


def test_if_none_match_comparison() -> None:
    assert etag_matches('W/"a"', 'W/"a"') and etag_matches('"a"', 'W/"a"') and etag_matches("*", 'W/"a"')
    assert etag_matches('"b", W/"a"', 'W/"a"')
    assert (
        not etag_matches('W/"b"', 'W/"a"')
        and not etag_matches(None, 'W/"a"')
        and not etag_matches("", 'W/"a"')
    )
