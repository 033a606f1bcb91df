"""The security suite: the probes of graphql-cop and the OWASP GraphQL cheat sheet, played over
HTTP against the PRODUCTION configuration (introspection and GraphiQL off, every default limit).

Each test names the probe it plays. What a probe must never see: a 500, a traceback, a file path,
an exception's details in `extensions`, a "Did you mean", or a changed database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from curation_helpers import (
    ADMIN,
    add_user,
    build_world,
    claim_input,
    counts,
    create_claim,
    mutation_document,
    open_api,
)
from graphql_client import production_settings

import api.store.queries.batch
from api.app import create_app
from api.settings import Settings
from api.store.commands.users import revoke_user
from api.store.db import Database
from schema.enums import Role

MASKED = "Internal server error."
# Things no answer may contain: they would tell an attacker about the server's insides.
LEAKS = ("Traceback", 'File "', "/work/", ".py", "site-packages", "sqlalchemy", "asyncpg", "sqlite3")


@asynccontextmanager
async def prod_client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(production_settings(settings), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as client:
        yield client


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with prod_client(settings, db) as value:
        yield value


def assert_clean(response: httpx.Response) -> None:
    """No 5xx and nothing of the server's insides in the answer."""
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.text[:500]}"
    for leak in LEAKS:
        assert leak not in response.text, f"the answer leaks {leak!r}: {response.text[:500]}"
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        for error in errors or []:
            extensions = error.get("extensions") or {}
            assert "exception" not in extensions and "stacktrace" not in extensions, error


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A POST that must be answered 200 with clean JSON; the decoded body."""
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert_clean(response)
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    return response.json()


def messages(body: dict[str, Any]) -> list[str]:
    return [e["message"] for e in body.get("errors") or []]


async def refused(client: httpx.AsyncClient, query: str, fragment: str) -> list[str]:
    """A document the server must refuse without running it, with a message containing `fragment`."""
    body = await post(client, query)
    assert body.get("data") is None, f"should have been refused: {body}"
    found = messages(body)
    assert any(fragment in m for m in found), f"expected {fragment!r} in {found}"
    return found


# --- introspection and GraphiQL ----------------------------------------------------------------


async def test_introspection_is_off_in_production(client: httpx.AsyncClient) -> None:
    """graphql-cop "Introspection" and the OWASP "disable introspection" item."""
    await refused(client, "{ __schema { types { name } } }", "introspection has been disabled")
    await refused(client, '{ __type(name: "Claim") { fields { name } } }', "introspection has been disabled")
    # Hidden inside a fragment and behind an alias, too.
    await refused(
        client,
        "query { ...F } fragment F on Query { s: __schema { queryType { name } } }",
        "introspection has been disabled",
    )
    # Over GET as well.
    got = await client.get("/graphql", params={"query": "{ __schema { types { name } } }"})
    assert_clean(got)
    assert got.status_code == 200 and got.json()["data"] is None
    # __typename is not introspection and stays allowed (clients need it for unions).
    assert await post(client, "{ __typename }") == {"data": {"__typename": "Query"}}


async def test_graphiql_is_off_in_production(client: httpx.AsyncClient) -> None:
    """graphql-cop "GraphiQL/Playground enabled": no IDE page, no IDE assets."""
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert_clean(page)
    assert page.status_code == 404 and "graphiql" not in page.text.lower()
    assets = await client.get("/graphql/static/graphiql@3/graphiql.min.js")
    assert assets.status_code == 404


# --- field suggestions -------------------------------------------------------------------------

MISSPELT = {
    "field": "{ claimz { totalCount } }",
    "nested field": "{ claims { nodez { id } } }",
    "argument": "{ claims(firts: 1) { totalCount } }",
    "enum value": "{ claims(filter: {status: [ACCEPTD]}) { totalCount } }",
    "input field": '{ claims(filter: {targt: "IL-6R"}) { totalCount } }',
    "variable type": "query($f: ClaimFiltr) { claims(filter: $f) { totalCount } }",
    "fragment type": '{ node(id: "x") { ... on Claimm { id } } }',
    "directive": "{ __typename @inclde(if: true) }",
    "mutation field": "mutation { createClaimm(input: {}) { __typename } }",
    "mutation input field": (
        'mutation { createTarget(input: {symbl: "X", name: "x", kind: "gene"}) { __typename } }'
    ),
}


@pytest.mark.parametrize("probe", sorted(MISSPELT))
async def test_no_field_suggestions(client: httpx.AsyncClient, probe: str) -> None:
    """graphql-cop "Field Suggestions": a misspelt name never gets a "Did you mean"."""
    body = await post(client, MISSPELT[probe])
    assert body.get("errors"), f"{probe}: a misspelt name was accepted: {body}"
    for message in messages(body):
        assert "Did you mean" not in message, f"{probe}: {message}"


# --- depth, aliases, tokens, directives, fragments ---------------------------------------------


async def test_depth_alias_and_token_limits(client: httpx.AsyncClient) -> None:
    """OWASP "query depth / amount limiting" and graphql-cop "Alias Overloading"."""
    # 15 levels of one-item pages: cheap, but too deep.
    deep = "{ " + "claims(first: 1) { nodes { source { " * 5 + "id" + " } } }" * 5 + " }"
    await refused(client, deep, "exceeds maximum operation depth of 12")
    aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    await refused(client, aliases, "aliases found. Allowed: 30")
    tokens = "{ " + "__typename " * 5001 + "}"
    await refused(client, tokens, "more than 5000 tokens")


async def test_field_duplication_is_cheap_and_refused(client: httpx.AsyncClient) -> None:
    """graphql-cop "Field Duplication": thousands of copies of one field under the token limit."""
    duplicated = "{ claims { nodes { " + "statement " * 4900 + "} } }"
    started = asyncio.get_running_loop().time()
    body = await post(client, duplicated)
    assert body.get("data") is None, "4,900 duplicated fields should be refused"
    assert asyncio.get_running_loop().time() - started < 5


async def test_directive_overloading_is_refused(client: httpx.AsyncClient) -> None:
    """graphql-cop "Directive Overloading": repeated non-repeatable directives."""
    # 1,000 repeats: over the token limit, refused before validation.
    await refused(client, "{ __typename" + " @include(if: true)" * 1000 + " }", "more than 5000 tokens")
    # Under the token limit, graphql-core's UniqueDirectivesPerLocationRule refuses the repeats, and
    # stops after 100 errors, so the answer stays small.
    body = await post(client, "{ __typename" + " @include(if: true)" * 600 + " }")
    assert body.get("data") is None
    assert "can only be used once at this location" in messages(body)[0]
    assert len(messages(body)) <= 101
    # Unknown directives likewise.
    body = await post(client, "{ __typename" + " @x" * 1500 + " }")
    assert body.get("data") is None and len(messages(body)) <= 101
    # Two are enough to be refused.
    await refused(client, "{ __typename @skip(if: false) @skip(if: false) }", "can only be used once")


async def test_circular_fragments_are_refused(client: httpx.AsyncClient) -> None:
    """graphql-cop "Circular fragments" (OWASP: fragment cycles)."""
    await refused(
        client,
        "{ claims { ...A } } fragment A on ClaimConnection { totalCount ...B } "
        "fragment B on ClaimConnection { totalCount ...A }",
        "Cannot spread fragment 'A' within itself",
    )
    await refused(
        client,
        "{ claims { ...A } } fragment A on ClaimConnection { totalCount ...A }",
        "Cannot spread fragment 'A' within itself",
    )
    # A cycle through nested selections, which the depth and cost limits walk too.
    await refused(
        client,
        "{ claims { nodes { ...C } } } fragment C on Claim { source { claims { nodes { ...C } } } }",
        "Cannot spread fragment 'C' within itself",
    )


# --- batching, GET, content types (CSRF) --------------------------------------------------------


async def test_batched_operations_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    """graphql-cop "Array-based Query Batching": a JSON array of 100 operations."""
    before = await counts(db)
    for batch in ([{"query": "{ __typename }"}] * 100, [{"query": "{ __typename }"}], ["x"], [3]):
        response = await client.post("/graphql", json=batch)
        assert_clean(response)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await counts(db) == before


async def test_a_small_batch_when_the_setting_allows_it(settings: Settings, db: Database) -> None:
    app = create_app(production_settings(settings, max_batch_operations=3), database=db)
    app.state.db = db
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        small = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 3)
        assert small.status_code == 200, small.text
        assert small.json() == [{"data": {"__typename": "Query"}}] * 3
        large = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 4)
        assert_clean(large)
        assert large.status_code == 400 and "at most 3 operations" in large.text
        # Every item must be an object (Strawberry answered a non-object item with a 500).
        odd = await client.post("/graphql", json=[{"query": "{ __typename }"}, 3])
        assert_clean(odd)
        assert odd.status_code == 400


async def test_mutations_over_get_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    """OWASP CSRF: a GET (a link, an <img>) never writes."""
    world = await build_world(db)
    before = await counts(db)
    document = mutation_document("createTarget")
    for token in (None, world.tokens["alice"]):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.get(
            "/graphql",
            params={
                "query": document,
                "variables": '{"input": {"symbol": "GETX", "name": "x", "kind": "gene"}}',
            },
            headers=headers,
        )
        assert_clean(response)
        assert response.status_code in (400, 405), response.text
        assert "mutations are not allowed" in response.text
    assert await counts(db) == before


SIMPLE_CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "text/plain",
    "text/plain; charset=utf-8",
    "text/plain;application/json",
    "multipart/form-data; boundary=x",
    "",
)


@pytest.mark.parametrize("content_type", SIMPLE_CONTENT_TYPES)
async def test_posts_a_browser_sends_without_preflight_run_nothing(
    client: httpx.AsyncClient, db: Database, content_type: str
) -> None:
    """OWASP CSRF: a cross-site form or fetch without preflight can only send these content
    types; none of them runs a query or a mutation (only application/json does, which forces a
    CORS preflight)."""
    world = await build_world(db)
    before = await counts(db)
    document = mutation_document("createTarget")
    variables = {"input": {"symbol": "CSRF", "name": "x", "kind": "gene"}}
    payload = json.dumps({"query": document, "variables": variables})
    if content_type.startswith("application/x-www-form-urlencoded"):
        content = httpx.QueryParams({"query": document}).__str__().encode()
    elif content_type.startswith("multipart"):
        content = (
            b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            + payload.encode()
            + b'\r\n--x\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--x--\r\n'
        )
    else:
        content = payload.encode()
    headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/graphql", content=content, headers=headers)
    assert_clean(response)
    assert response.status_code == 400, f"{content_type!r}: {response.status_code} {response.text[:300]}"
    assert "data" not in response.text
    # Queries are not run either.
    query = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"Content-Type": content_type or "text/plain"},
    )
    assert query.status_code == 400 and "Query" not in query.text
    assert await counts(db) == before


# --- malformed requests -----------------------------------------------------------------------

MALFORMED = {
    "number": b"3",
    "string": b'"{ __typename }"',
    "null": b"null",
    "not json": b'{"query": ',
    "query not a string": b'{"query": 3}',
    "query missing": b'{"variables": {}}',
    "operationName not a string": b'{"query": "{ __typename }", "operationName": 3}',
    "operationName a list": b'{"query": "{ __typename }", "operationName": []}',
    "variables not an object": b'{"query": "{ __typename }", "variables": "x"}',
    "extensions not an object": b'{"query": "{ __typename }", "extensions": 3}',
    "unknown operation": b'{"query": "query A { __typename }", "operationName": "B"}',
    "nul in document": b'{"query": "{ __typename \\u0000 }"}',
    "invalid utf-8": b'{"query": "\xff\xfe"}',
}


@pytest.mark.parametrize("probe", sorted(MALFORMED))
async def test_malformed_bodies_get_a_clean_400(client: httpx.AsyncClient, probe: str) -> None:
    """Rule 10: a body a client got wrong is its error (4xx), never a 500. (A JSON number, string
    or null body and a non-string operationName were 500s in Strawberry.)"""
    response = await client.post(
        "/graphql", content=MALFORMED[probe], headers={"Content-Type": "application/json"}
    )
    assert_clean(response)
    assert response.status_code in (200, 400), f"{probe}: {response.status_code} {response.text[:300]}"
    if response.status_code == 200:
        assert response.json().get("errors"), f"{probe}: {response.text[:300]}"


# --- leaks -------------------------------------------------------------------------------------


async def test_unexpected_errors_leak_nothing(
    client: httpx.AsyncClient, seeded_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OWASP "error handling": an unexpected exception is masked, with no trace and no path."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError('secret File "/work/main/api/store/x.py", line 1 in sqlalchemy')

    monkeypatch.setattr(api.store.queries.batch, "rows_by_id", broken)
    body = await post(client, '{ target(symbol: "MIF") { symbol } }')
    assert messages(body) == [MASKED]
    assert "secret" not in str(body)
    error = body["errors"][0]
    assert set(error) <= {"message", "locations", "path", "extensions"}
    assert not (error.get("extensions") or {}).get("exception")


# --- authorisation ------------------------------------------------------------------------------


async def test_another_users_draft_is_null(settings: Settings, db: Database) -> None:
    """OWASP "object-level authorisation" (IDOR): node(id) of another user's draft."""
    world = await build_world(db)
    async with open_api(production_settings(settings), db) as api_:
        draft = await create_claim(api_, world, "alice")
        query = "query($id: ID!) { node(id: $id) { id ... on Claim { statement } } }"
        assert (await api_.data(query, {"id": draft["id"]}, token=world.tokens["alice"]))["node"] is not None
        for viewer in ("bob", "ray", None):
            token = world.tokens[viewer] if viewer else None
            node = (await api_.data(query, {"id": draft["id"]}, token=token))["node"]
            assert node is None, f"{viewer or 'anonymous'} read alice's draft: {node}"
            nodes = await api_.data(
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [draft["id"]]}, token=token
            )
            assert nodes["nodes"] == [None], f"{viewer or 'anonymous'} read alice's draft via nodes"


async def test_revoked_tokens_are_unauthenticated(settings: Settings, db: Database) -> None:
    world = await build_world(db)
    async with db.write(ADMIN) as w:
        await revoke_user(w, "bob")
    async with open_api(production_settings(settings), db) as api_:
        before = await counts(db)
        body = await api_.request("{ viewer { name } }", token=world.tokens["bob"])
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
        codes = await api_.top_level("createClaim", claim_input(world), token=world.tokens["bob"])
        assert codes == ["UNAUTHENTICATED"]
        assert await counts(db) == before


# --- injection ---------------------------------------------------------------------------------

HOSTILE = [
    "' OR 1=1 --",
    '"; DROP TABLE claim; --',
    "'); DELETE FROM claim WHERE ('1'='1",
    "NEAR(a b)",
    "*",
    '"',
    "AND OR NOT",
    "a AND (b OR",
    "foo:* & !bar | (baz",
    "%_\\",
    "nul\x00byte",
    "\x00",
    "ünïcödé ☃ \U0001f9ec",
    "a b " * 5_000,
]
# Longer than SQLite's LIKE pattern limit (50,000 bytes).
VERY_LONG = "x" * 100_000

# (document, variables builder): every string argument a reader can send.
STRING_ARGUMENTS: list[tuple[str, str]] = [
    *(
        (
            f"claims.filter.{field}",
            f"query($v: String) {{ claims(filter: {{{field}: $v}}) {{ totalCount nodes {{ id }} }} }}",
        )
        for field in ("target", "intervention", "condition", "organism", "outcome", "source", "text")
    ),
    ("claims.after", "query($v: String) { claims(after: $v) { totalCount } }"),
    ("claims.before", "query($v: String) { claims(last: 2, before: $v) { totalCount } }"),
    ("target.symbol", "query($v: String!) { target(symbol: $v) { symbol } }"),
    ("intervention.name", "query($v: String!) { intervention(name: $v) { name } }"),
    ("targets.search", "query($v: String) { targets(search: $v) { totalCount nodes { symbol } } }"),
    ("interventions.search", "query($v: String) { interventions(search: $v) { totalCount } }"),
    ("conditions.search", "query($v: String) { conditions(search: $v) { totalCount } }"),
    ("outcomes.search", "query($v: String) { outcomes(search: $v) { totalCount } }"),
    ("source.doi", "query($v: String) { source(doi: $v) { title } }"),
    ("source.pmid", "query($v: String) { source(pmid: $v) { title } }"),
    ("sources.filter.text", "query($v: String) { sources(filter: {text: $v}) { totalCount } }"),
    ("sources.filter.derivedFrom", "query($v: String) { sources(filter: {derivedFrom: $v}) { totalCount } }"),
    *(
        (
            f"conflicts.filter.{field}",
            f"query($v: String) {{ conflicts(filter: {{{field}: $v}}) {{ totalCount }} }}",
        )
        for field in ("target", "condition", "organism", "outcome")
    ),
    ("auditLog.filter.actor", "query($v: String) { auditLog(filter: {actor: $v}) { totalCount } }"),
    ("auditLog.filter.action", "query($v: String!) { auditLog(filter: {action: [$v]}) { totalCount } }"),
    ("auditLog.filter.entity", "query($v: ID) { auditLog(filter: {entity: $v}) { totalCount } }"),
    ("evidenceSummary.target", "query($v: String!) { evidenceSummary(target: $v) { __typename } }"),
    ("node.id", "query($v: ID!) { node(id: $v) { id } }"),
    ("nodes.ids", "query($v: ID!) { nodes(ids: [$v]) { id } }"),
]


async def _play(
    client: httpx.AsyncClient, headers: dict[str, str], values: list[str], where_only: set[str] | None = None
) -> list[str]:
    problems: list[str] = []
    for where, document in STRING_ARGUMENTS:
        if where_only is not None and where not in where_only:
            continue
        for value in values:
            response = await client.post(
                "/graphql", json={"query": document, "variables": {"v": value}}, headers=headers
            )
            label = f"{where} <- {value[:30]!r}"
            try:
                assert_clean(response)
                assert response.status_code == 200, f"HTTP {response.status_code}"
                body = response.json()
                assert MASKED not in messages(body), f"masked internal error {messages(body)}"
                assert body.get("data") is not None or body.get("errors"), body
            except AssertionError as exc:
                problems.append(f"{label}: {str(exc)[:300]}")
    return problems


async def test_injection_strings_in_every_string_argument(settings: Settings, seeded_db: Database) -> None:
    """OWASP "injection": SQL, full-text-search syntax, NUL characters and long strings in every
    string argument are answered 200 with data or a clean GraphQL error, and change nothing.
    (A NUL character was an internal error on PostgreSQL in every argument that reaches SQL;
    it is now refused up front with BAD_USER_INPUT.)"""
    async with prod_client(settings, seeded_db) as client:
        # The audit log is for admins; ask as one so its filters reach the SQL.
        _, token = await add_user(seeded_db, "security-admin", Role.ADMIN)
        before = await counts(seeded_db)
        problems = await _play(client, {"Authorization": f"Bearer {token}"}, HOSTILE)
        assert not problems, "\n".join(problems)
        assert await counts(seeded_db) == before
        # The seeded data still answers as before.
        body = await post(client, '{ claims(filter: {target: "il6r"}) { totalCount } }')
        assert body == {"data": {"claims": {"totalCount": 10}}}


# Arguments matched with LIKE '%...%' in the store (api/store/queries/vocabulary.py).
LIKE_ARGUMENTS = {
    "targets.search",
    "interventions.search",
    "conditions.search",
    "outcomes.search",
    "sources.filter.text",
}


async def test_very_long_strings_in_every_string_argument(settings: Settings, seeded_db: Database) -> None:
    """A 100,000-character string everywhere except the LIKE searches (see the next test)."""
    async with prod_client(settings, seeded_db) as client:
        _, token = await add_user(seeded_db, "security-admin", Role.ADMIN)
        where = {w for w, _ in STRING_ARGUMENTS} - LIKE_ARGUMENTS
        problems = await _play(client, {"Authorization": f"Bearer {token}"}, [VERY_LONG], where)
        assert not problems, "\n".join(problems)


async def test_very_long_search_strings(settings: Settings, seeded_db: Database) -> None:
    """A search string of 100,000 characters: on SQLite a LIKE pattern that long fails ("LIKE or
    GLOB pattern too complex") and was masked as an internal error; search text is now capped
    (200 characters) with BAD_USER_INPUT before any SQL runs."""
    async with prod_client(settings, seeded_db) as client:
        problems = await _play(client, {}, [VERY_LONG], LIKE_ARGUMENTS)
        assert not problems, "\n".join(problems)


async def test_nul_characters_are_refused_cleanly(settings: Settings, db: Database) -> None:
    """Regression (was an internal error on PostgreSQL): a NUL in variables, in a document
    literal, or in a GET query string is refused with BAD_USER_INPUT naming where it is."""
    async with prod_client(settings, db) as client:
        cases = [
            (
                {
                    "query": "query($v: String!) { target(symbol: $v) { symbol } }",
                    "variables": {"v": "a\x00"},
                },
                "variables.v",
            ),
            ({"query": '{ target(symbol: "a\\u0000") { symbol } }'}, "query"),
            ({"query": '{ claims(filter: {text: "\\u{0}"}) { totalCount } }'}, "query"),
            (
                {
                    "query": "query($f: ClaimFilter) { claims(filter: $f) { totalCount } }",
                    "variables": {"f": {"target": "x", "text": "\x00"}},
                },
                "variables.f.text",
            ),
        ]
        for payload, where in cases:
            response = await client.post("/graphql", json=payload)
            assert_clean(response)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
            assert f"`{where}`" in body["errors"][0]["message"]
        got = await client.get(
            "/graphql",
            params={
                "query": "query($v: String!) { target(symbol: $v) { symbol } }",
                "variables": '{"v": "\\u0000"}',
            },
        )
        assert got.status_code == 200 and got.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        # A backslash followed by "u0000" is text, not a NUL, and passes.
        fine = await post(client, "query($v: String!) { target(symbol: $v) { symbol } }", {"v": "\\u0000"})
        assert fine == {"data": {"target": None}}


async def test_injection_strings_in_writes_are_stored_verbatim(settings: Settings, db: Database) -> None:
    """The same strings in a write are data: stored as sent (or refused with userErrors)."""
    world = await build_world(db)
    async with open_api(production_settings(settings), db) as api_:
        hostile = ("' OR 1=1 --", '"; DROP TABLE claim; --', "NEAR(a b) AND OR NOT *")
        for value, direction in zip(hostile, ("INCREASES", "DECREASES", "NO_EFFECT"), strict=True):
            statement = f"{value} lowers relapses."
            claim = await create_claim(api_, world, "alice", statement=statement, direction=direction)
            assert claim["statement"] == statement
        before = await counts(db)
        body = await api_.request(
            mutation_document("createClaim"),
            {"input": claim_input(world, statement="nul\x00byte", direction="MIXED")},
            token=world.tokens["alice"],
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        assert "`variables.input.statement`" in body["errors"][0]["message"]
        assert await counts(db) == before
