"""Persisted queries (issue 17, item 7): Apollo's automatic persisted queries over POST and GET
(PERSISTED_QUERY_NOT_FOUND, then register, then hit; a hash that is not the document's refused),
in Redis shared by several workers or in a bounded in-process cache, and the trusted-documents
mode (CLAIMSDB_PERSISTED_ONLY) with a manifest as graphql-codegen's client preset writes it."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import in_ci
from graphql_client import create_user_with_token, production_settings
from pydantic import ValidationError

from api.app import create_app
from api.http.media import GRAPHQL_RESPONSE_JSON
from api.http.persisted import REDIS_PREFIX, MemoryStore, load_manifest
from api.settings import Settings
from api.store.db import Database
from schema.enums import Role

REDIS_URL = os.environ.get("CLAIMSDB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def unique_query() -> str:
    """A document no other test (or worktree sharing the Redis server) registered."""
    return f"{{ claims(first: 1) {{ totalCount }} q{uuid.uuid4().hex}: __typename }}"


def apq(hash_: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hash_}}


@asynccontextmanager
async def client_for(settings: Settings, db: Database, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(production_settings(settings, **overrides), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        yield client


def error_code(response: httpx.Response) -> str:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]["extensions"]["code"]


async def register_then_hit(first: httpx.AsyncClient, second: httpx.AsyncClient | None = None) -> None:
    """Apollo's flow: the hash alone (miss), the hash with the document (registered and run),
    then the hash alone again (hit), over POST and then over GET from `second`."""
    second = second or first
    query = unique_query()
    key = sha256(query)
    miss = await first.post("/graphql", json={"extensions": apq(key)})
    assert miss.status_code == 200 and error_code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"  # what Apollo Client matches
    assert miss.headers["cache-control"] == "no-store"
    registered = await first.post("/graphql", json={"query": query, "extensions": apq(key)})
    assert registered.status_code == 200 and registered.json()["data"]["claims"]["totalCount"] >= 0
    hit = await second.post("/graphql", json={"extensions": apq(key), "variables": {}})
    assert hit.status_code == 200 and hit.json() == registered.json()
    got = await second.get("/graphql", params={"extensions": json.dumps(apq(key))})
    assert got.status_code == 200 and got.json() == registered.json()
    # A GET by hash is what a CDN caches.
    assert got.headers["cache-control"].startswith("public") and "etag" in got.headers


async def test_apq_register_then_hit(seeded_db: Database, settings: Settings) -> None:
    async with client_for(settings, seeded_db) as client:
        await register_then_hit(client)


async def test_apq_registers_over_get_and_speaks_the_new_media_type(
    seeded_db: Database, settings: Settings
) -> None:
    query = unique_query()
    key = sha256(query)
    new = {"Accept": GRAPHQL_RESPONSE_JSON}
    async with client_for(settings, seeded_db) as client:
        miss = await client.get("/graphql", params={"extensions": json.dumps(apq(key))}, headers=new)
        registered = await client.get("/graphql", params={"query": query, "extensions": json.dumps(apq(key))})
        hit = await client.post("/graphql", json={"extensions": apq(key.upper())}, headers=new)
    # No data: not 200 for this media type, and 404 rather than 400 (after a 400 Apollo Client
    # would stop sending hashes).
    assert miss.status_code == 404 and miss.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert error_code(miss) == "PERSISTED_QUERY_NOT_FOUND" and "data" not in miss.json()
    assert registered.status_code == 200 and "data" in registered.json()
    assert hit.status_code == 200 and hit.json() == registered.json()


async def test_a_hash_that_is_not_the_documents_is_refused(seeded_db: Database, settings: Settings) -> None:
    query, other = unique_query(), unique_query()
    async with client_for(settings, seeded_db) as client:
        wrong = await client.post("/graphql", json={"query": query, "extensions": apq(sha256(other))})
        not_hex = await client.post("/graphql", json={"query": query, "extensions": apq("abc")})
        after = await client.post("/graphql", json={"extensions": apq(sha256(other))})
        bad_version = await client.post(
            "/graphql",
            json={"query": query, "extensions": {"persistedQuery": {"version": 2, "sha256Hash": "x"}}},
        )
        no_hash = await client.post("/graphql", json={"extensions": {"persistedQuery": {"version": 1}}})
        two_ids = await client.post(
            "/graphql", json={"documentId": sha256(query), "extensions": apq(sha256(other))}
        )
    for response in (wrong, not_hex):
        assert response.status_code == 400 and error_code(response) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert error_code(after) == "PERSISTED_QUERY_NOT_FOUND"  # the mismatch registered nothing
    for response in (bad_version, no_hash, two_ids):
        assert response.status_code == 400 and error_code(response) == "BAD_REQUEST"


async def test_a_persisted_mutation_is_still_a_write(seeded_db: Database, settings: Settings) -> None:
    """The limits see the document a hash names: the write rate counts it, GET may not run it."""
    _, token = await create_user_with_token(seeded_db, "cora", Role.CURATOR)
    bearer = {"Authorization": f"Bearer {token}"}
    mutation = (
        'mutation($s: String!) { createTarget(input: {symbol: $s, name: $s, kind: "gene"}) '
        "{ target { symbol } } }"
    )
    key = sha256(mutation)
    async with client_for(settings, seeded_db, write_rate_per_minute=2) as client:
        first = await client.post(
            "/graphql",
            json={"query": mutation, "extensions": apq(key), "variables": {"s": "APQ1"}},
            headers=bearer,
        )
        second = await client.post(
            "/graphql", json={"extensions": apq(key), "variables": {"s": "APQ2"}}, headers=bearer
        )
        third = await client.post(
            "/graphql", json={"extensions": apq(key), "variables": {"s": "APQ3"}}, headers=bearer
        )
        over_get = await client.get(
            "/graphql",
            params={"extensions": json.dumps(apq(key)), "variables": '{"s": "APQ4"}'},
            headers=bearer,
        )
    assert first.json()["data"]["createTarget"]["target"]["symbol"] == "APQ1"
    assert second.json()["data"]["createTarget"]["target"]["symbol"] == "APQ2"
    assert third.status_code == 429 and error_code(third) == "RATE_LIMITED"
    assert over_get.status_code == 405 and error_code(over_get) == "METHOD_NOT_ALLOWED"


async def test_apq_switched_off(seeded_db: Database, settings: Settings) -> None:
    query = unique_query()
    async with client_for(settings, seeded_db, apq=False) as client:
        refused = await client.post("/graphql", json={"query": query, "extensions": apq(sha256(query))})
        plain = await client.post("/graphql", json={"query": query})
    assert error_code(refused) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert refused.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
    assert plain.status_code == 200 and "data" in plain.json()


async def test_a_batch_resolves_each_operation(seeded_db: Database, settings: Settings) -> None:
    query = unique_query()
    key = sha256(query)
    async with client_for(settings, seeded_db, max_batch_operations=3) as client:
        await client.post("/graphql", json={"query": query, "extensions": apq(key)})
        batch = await client.post("/graphql", json=[{"extensions": apq(key)}, {"query": "{ __typename }"}])
        missing = await client.post(
            "/graphql", json=[{"extensions": apq(sha256("{ x }"))}, {"query": "{ __typename }"}]
        )
    first, second = batch.json()
    assert "claims" in first["data"] and second == {"data": {"__typename": "Query"}}
    assert error_code(missing) == "PERSISTED_QUERY_NOT_FOUND"


def test_the_in_process_cache_is_bounded() -> None:
    import asyncio

    async def run() -> None:
        store = MemoryStore(budget=100)
        await store.put("a", "x" * 40)
        await store.put("b", "y" * 40)
        assert await store.get("a") == "x" * 40  # a is now the most recently used
        await store.put("c", "z" * 40)  # over budget: b, the least recently used, goes
        assert await store.get("b") is None and await store.get("a") and await store.get("c")
        await store.put("huge", "w" * 101)  # larger than the whole budget: not kept
        assert await store.get("huge") is None and store.size <= 100 and len(store) == 2

    asyncio.run(run())


# --- Redis: several stateless workers ---------------------------------------------------------


async def _redis_or_skip() -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        message = f"Redis at {REDIS_URL} is not reachable ({exc}); the APQ tests on Redis need it"
        if in_ci():
            pytest.fail(f"CI=true requires the Redis tests to run, but {message}", pytrace=False)
        pytest.skip(message)
    finally:
        await client.aclose()


async def test_workers_share_registrations_through_redis(seeded_db: Database, settings: Settings) -> None:
    await _redis_or_skip()
    import redis.asyncio as redis

    async with (
        client_for(settings, seeded_db, redis_url=REDIS_URL, apq_ttl_seconds=120) as worker_a,
        client_for(settings, seeded_db, redis_url=REDIS_URL, apq_ttl_seconds=120) as worker_b,
    ):
        await register_then_hit(worker_a, worker_b)
        query = unique_query()
        await worker_b.post("/graphql", json={"query": query, "extensions": apq(sha256(query))})
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert await client.get(REDIS_PREFIX + sha256(query)) == query
        assert 0 < await client.ttl(REDIS_PREFIX + sha256(query)) <= 120
    finally:
        await client.aclose()


async def test_redis_down_means_documents_are_sent_in_full(seeded_db: Database, settings: Settings) -> None:
    query = unique_query()
    key = sha256(query)
    async with client_for(settings, seeded_db, redis_url="redis://127.0.0.1:1/0") as client:
        miss = await client.post("/graphql", json={"extensions": apq(key)})
        full = await client.post("/graphql", json={"query": query, "extensions": apq(key)})
    assert miss.status_code == 200 and error_code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert full.status_code == 200 and "claims" in full.json()["data"]


# --- trusted documents ---------------------------------------------------------------------------

TRUSTED = "query Count($t: String) { claims(filter: {target: $t}) { totalCount } }"


def write_manifest(directory: Path, documents: list[str]) -> Path:
    """As graphql-codegen's client preset writes persisted-documents.json."""
    path = directory / "persisted-documents.json"
    path.write_text(json.dumps({f"sha256:{sha256(d)}": d for d in documents}, indent=2))
    return path


async def test_only_trusted_documents_run(seeded_db: Database, settings: Settings, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [TRUSTED])
    key = sha256(TRUSTED)
    other = unique_query()
    variables = {"t": "IL-6R"}
    async with client_for(settings, seeded_db, persisted_documents=manifest, persisted_only=True) as client:
        by_document_id = await client.post(
            "/graphql", json={"documentId": f"sha256:{key}", "variables": variables}
        )
        by_apq_hash = await client.post("/graphql", json={"extensions": apq(key), "variables": variables})
        over_get = await client.get(
            "/graphql", params={"documentId": f"sha256:{key}", "variables": json.dumps(variables)}
        )
        same_text = await client.post("/graphql", json={"query": TRUSTED, "variables": variables})
        free_text = await client.post("/graphql", json={"query": other})
        free_get = await client.get("/graphql", params={"query": other})
        register = await client.post("/graphql", json={"query": other, "extensions": apq(sha256(other))})
        unknown = await client.post("/graphql", json={"documentId": f"sha256:{sha256(other)}"})
        imposter = await client.post("/graphql", json={"documentId": key, "query": other})
    # IL-6R has ten seeded claims (tests/test_graphql_claims.py pins them).
    expected = {"data": {"claims": {"totalCount": 10}}}
    for response in (by_document_id, by_apq_hash, over_get, same_text):
        assert response.status_code == 200 and response.json() == expected, response.text
    for response in (free_text, free_get):
        assert response.status_code == 400 and error_code(response) == "PERSISTED_QUERY_REQUIRED"
        assert "CLAIMSDB_PERSISTED_ONLY" in response.json()["errors"][0]["message"]
    # No registering in this mode: an unknown id is refused for good, not "send it to me".
    for response in (register, unknown):
        assert response.status_code == 400 and error_code(response) == "PERSISTED_QUERY_NOT_FOUND"
        assert response.json()["errors"][0]["message"] != "PersistedQueryNotFound"
    assert imposter.status_code == 400 and error_code(imposter) == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_a_manifest_without_the_mode_adds_to_apq(
    seeded_db: Database, settings: Settings, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path, [TRUSTED])
    async with client_for(settings, seeded_db, persisted_documents=manifest) as client:
        trusted = await client.post(
            "/graphql", json={"documentId": sha256(TRUSTED), "variables": {"t": "MIF"}}
        )
        free = await client.post("/graphql", json={"query": "{ __typename }"})
    assert trusted.status_code == 200 and trusted.json()["data"]["claims"]["totalCount"] > 0
    assert free.json() == {"data": {"__typename": "Query"}}


def test_settings_refuse_an_unusable_trusted_mode(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CLAIMSDB_PERSISTED_DOCUMENTS"):
        Settings(persisted_only=True)
    with pytest.raises(ValidationError, match="cannot read"):
        Settings(persisted_documents=tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": 1}')
    with pytest.raises(ValidationError, match="not a persisted documents manifest"):
        Settings(persisted_documents=broken)
    broken.write_text("{nope")
    with pytest.raises(ValidationError, match="not JSON"):
        Settings(persisted_documents=broken)
    with pytest.raises(ValidationError, match="CLAIMSDB_REDIS_URL"):
        Settings(redis_url="localhost:6379")
    assert Settings(
        persisted_only=True, persisted_documents=write_manifest(tmp_path, [TRUSTED])
    ).persisted_only


def test_manifests_in_both_formats(tmp_path: Path) -> None:
    codegen = write_manifest(tmp_path, [TRUSTED])
    assert load_manifest(codegen) == {sha256(TRUSTED): TRUSTED}
    apollo = tmp_path / "apollo.json"
    apollo.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha256(TRUSTED), "name": "Count", "type": "query", "body": TRUSTED}],
            }
        )
    )
    assert load_manifest(apollo) == {sha256(TRUSTED): TRUSTED}
