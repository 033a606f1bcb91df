"""The safety limits of build_schema (engineering.md rule 4): every abusive or malformed request
gets a GraphQL error a client can act on, never a crash, a 500 or a leak of internals."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from graphql_client import describe_errors, execute, global_id, gql, gql_error

import api.store.queries.batch
from api.settings import Settings
from api.store.db import Database


def depth_bomb(levels: int) -> str:
    inner = "symbol"
    for _ in range(levels):
        inner = f"interventions {{ intervention {{ actions {{ target {{ {inner} }} }} }} }}"
    return f'{{ target(symbol: "IL-6R") {{ {inner} }} }}'


NESTED_CONNECTIONS = """query($n: Int, $m: Int) {
  claims(first: $n) { nodes { source { claims(first: $m) { nodes { id statement } } } } }
}"""


def cursor(*payload: Any) -> str:
    """A cursor as the API encodes them (base64 of a JSON list), for tampering."""
    return base64.urlsafe_b64encode(orjson.dumps(list(payload))).decode().rstrip("=")


def messages(errors: list[Any]) -> str:
    return " | ".join(e.message for e in errors)


async def test_each_limit_is_a_graphql_error(seeded_db: Database, settings: Settings) -> None:
    db = seeded_db
    # Within the limits, these queries work (so the refusals below are about the limits).
    assert (await gql(db, settings, depth_bomb(2)))["target"]["interventions"]
    assert len(await gql(db, settings, "{ " + " ".join(f"a{i}: __typename" for i in range(20)) + " }")) == 20
    small = await gql(db, settings, NESTED_CONNECTIONS, {"n": 5, "m": 5})
    assert len(small["claims"]["nodes"]) == 5

    # A depth bomb.
    errors = await gql_error(db, settings, depth_bomb(8))
    assert "depth" in messages(errors), f"expected a depth error, got {messages(errors)}"

    # 200 aliases, of a cheap field and of a real one.
    for field in ("__typename", 'target(symbol: "MIF") { symbol }'):
        aliases = "{ " + " ".join(f"a{i}: {field}" for i in range(200)) + " }"
        errors = await gql_error(db, settings, aliases)
        assert "alias" in messages(errors).lower(), f"expected an alias-limit error, got {messages(errors)}"

    # Too many tokens.
    errors = await gql_error(db, settings, "{ claims { nodes { " + "id " * 6000 + "} } }")
    assert "token" in messages(errors).lower(), f"expected a token-limit error, got {messages(errors)}"

    # Over-cost: nested connections, with literals and with variables (the same text that passed
    # above with small pages must be refused with big ones).
    literal = """{ claims(first: 100) { nodes { source { claims(first: 100) {
                   nodes { id statement outcome { name } } } } } } }"""
    for query, variables in ((literal, None), (NESTED_CONNECTIONS, {"n": 100, "m": 100})):
        errors = await gql_error(db, settings, query, variables)
        assert any((e.extensions or {}).get("code") == "QUERY_TOO_COSTLY" for e in errors), messages(errors)
        assert "cost" in messages(errors)

    # Page sizes out of range.
    for arguments in ("first: 1000", "first: -1", "last: 1000", "last: -1", "first: 101"):
        for field in ("claims", "targets", "sources") if "last" not in arguments else ("claims",):
            errors = await gql_error(db, settings, f"{{ {field}({arguments}) {{ nodes {{ id }} }} }}")
            text = messages(errors)
            assert ("first" in text or "last" in text) and "100" in text, f"{field}({arguments}): {text}"
            assert errors[0].extensions == {"code": "BAD_USER_INPUT"}, errors[0].extensions
    errors = await gql_error(db, settings, "{ claims(first: 99999999999) { totalCount } }")  # not an Int
    assert "Int" in messages(errors)
    errors = await gql_error(db, settings, "{ claims(first: 2, last: 2) { totalCount } }")
    assert "first" in messages(errors) and "last" in messages(errors)

    # Invalid cursors.
    page = """query($order: ClaimOrder, $after: String, $before: String) {
      claims(orderBy: $order, after: $after, before: $before, first: 2) { nodes { id } }
    }"""
    for bad in ("!!!", "not-a-cursor", base64.b64encode(b"{not json").decode(), cursor(), cursor("claims")):
        errors = await gql_error(db, settings, page, {"after": bad})
        assert "cursor" in messages(errors), (
            f"after: {bad!r} should be refused as a cursor: {messages(errors)}"
        )
    errors = await gql_error(db, settings, page.replace("first: 2", "last: 2"), {"before": "!!!"})
    assert "cursor" in messages(errors)

    # Cursors from another ordering or another list.
    newest = await gql(db, settings, "{ claims(first: 2) { pageInfo { endCursor } } }")
    claims_cursor = newest["claims"]["pageInfo"]["endCursor"]
    for order in (
        {"field": "CREATED_AT", "direction": "ASC"},
        {"field": "PUBLISHED", "direction": "DESC"},
        {"field": "COHORT_SIZE", "direction": "DESC"},
    ):
        errors = await gql_error(db, settings, page, {"after": claims_cursor, "order": order})
        assert "cursor" in messages(errors) and "ordering" in messages(errors), messages(errors)
    targets = await gql(db, settings, "{ targets(first: 2) { pageInfo { endCursor } } }")
    errors = await gql_error(db, settings, page, {"after": targets["targets"]["pageInfo"]["endCursor"]})
    assert "cursor" in messages(errors)
    errors = await gql_error(db, settings, f'{{ targets(after: "{claims_cursor}") {{ nodes {{ id }} }} }}')
    assert "cursor" in messages(errors)

    # nodes() is capped too.
    ids = [global_id("Claim", i) for i in range(1, 102)]
    errors = await gql_error(db, settings, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert "100" in messages(errors)


async def test_misspelt_fields_get_no_suggestions(seeded_db: Database, settings: Settings) -> None:
    for query in (
        "{ claims { totalCont } }",
        "{ clams { totalCount } }",
        '{ target(symbol: "MIF") { symbl } }',
        "{ claims { nodes { statment } } }",
    ):
        errors = await gql_error(seeded_db, settings, query)
        text = messages(errors)
        assert "Cannot query field" in text, text
        assert "Did you mean" not in text, f"a field suggestion leaks the schema: {text}"


async def test_no_suggestions_for_misspelt_arguments_inputs_enums_or_types(
    seeded_db: Database, settings: Settings
) -> None:
    leaks = []
    for query, variables in (
        ('{ claims(filtr: {target: "x"}) { totalCount } }', None),
        ('{ claims(filter: {targt: "x"}) { totalCount } }', None),
        ("{ claims(filter: {direction: [INCREASE]}) { totalCount } }", None),
        (
            "query($d: [EffectDirection!]) { claims(filter: {direction: $d}) { totalCount } }",
            {"d": ["INCREASE"]},
        ),
        ('{ node(id: "x") { ... on Claimm { id } } }', None),
    ):
        result = await execute(seeded_db, settings, query, variables)
        assert result.errors, f"expected an error for {query}"
        leaks += [e.message for e in result.errors if "Did you mean" in e.message]
    assert not leaks, "suggestions leak the schema:\n" + "\n".join(leaks)


async def test_tampered_cursors_are_refused_as_cursors(seeded_db: Database, settings: Settings) -> None:
    page = """query($order: ClaimOrder, $after: String) {
      claims(orderBy: $order, after: $after, first: 2) { nodes { id } }
    }"""
    failures = []
    for order, bad in (
        (None, cursor("claims:CREATED_AT:d", "2020-01-01T00:00:00", 1)),  # no time zone
        (None, cursor("claims:CREATED_AT:d", "2020-01-01T00:00:00+00:00", 2**63)),
        ({"field": "COHORT_SIZE", "direction": "ASC"}, cursor("claims:COHORT_SIZE:a", 2**63, 1)),
        ({"field": "PUBLISHED", "direction": "ASC"}, cursor("claims:PUBLISHED:a", 2**63, "2020-01-01", 1)),
    ):
        result = await execute(seeded_db, settings, page, {"order": order, "after": bad})
        if not result.errors or "cursor" not in result.errors[0].message:
            failures.append(f"{order} {bad}: {describe_errors(result) or result.data}")
    assert not failures, "tampered cursors not refused as cursors:\n" + "\n".join(failures)


async def test_unexpected_errors_are_masked(
    seeded_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection to secret-host:5432 failed, password=hunter2")

    monkeypatch.setattr(api.store.queries.batch, "rows_by_id", broken)
    result = await execute(
        seeded_db, settings, '{ target(symbol: "MIF") { symbol } organisms { totalCount } }'
    )
    assert result.errors, "the broken loader should surface as an error"
    assert [e.message for e in result.errors] == ["Internal server error."], describe_errors(result)
    assert "secret" not in str([e.formatted for e in result.errors])
    assert result.data is not None and result.data["target"] is None, result.data

    # Errors a client can fix are not masked.
    result = await execute(seeded_db, settings, "{ claims(first: 1000) { totalCount } }")
    assert result.errors and "first must be between 0 and 100" in result.errors[0].message
