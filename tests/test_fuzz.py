"""Property-based fuzzing of the whole GraphQL schema (issue 7, item 2), over HTTP in-process
against the app built with PRODUCTION settings (introspection and GraphiQL off, every limit on),
on a seeded database of each backend.

Operations come from hypothesis-graphql, generated from the committed SDL (api/schema.graphql,
which a test keeps equal to the served schema):
- valid queries and valid mutations, whose IDs and names are drawn partly from the rows that
  exist (seeded claims, targets, conditions, sources, cursors, ...) so they reach real data;
- the same operations with every argument moved into variables, some of them then replaced by
  JSON of the wrong shape;
- invalid operations (hypothesis-graphql's negative mode: wrong types, missing arguments, nulls,
  out-of-range integers, unknown enum values);
- garbage: random text, valid documents cut and spliced, random JSON bodies.
Each is sent as an anonymous reader, as a curator or a reviewer with a real API token (created
through the store), or with a token that is not valid; queries go over GET too.

The properties, for every answer: no 5xx; a JSON body of the GraphQL shape (`data` and/or
`errors`, each error with a string `message`); no masked unexpected error ("Internal server
error.") and no traceback, file path, driver or exception class name anywhere in it; a valid
operation is never answered with an error that is not the client's (it may be refused by a
limit or a rule, with a message); an invalid one is refused without data.

Budget: CI runs a fixed number of examples per test, derandomized (the same inputs on every run,
so CI cannot flake): 30 per test and database, about 30 s of cases for both databases (plus the
seeded template databases, which the rest of the suite shares). A longer,
randomised run for nightly use: `CLAIMSDB_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py`
(README, Development). The write rate limits are off in the fuzzed app: with them on, most
generated mutations would be answered 429 without running (the limits have their own tests).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any

import graphql
import httpx
import orjson
import pytest
import sqlalchemy as sa
from graphql_client import create_user_with_token
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis_graphql import Mode, mutations, nodes, queries

from api.app import create_app
from api.graphql.ids import to_global_id
from api.settings import Settings
from api.store.db import Database
from api.store.queries.aggregates import aggregate_differences
from schema import tables
from schema.enums import Role

SDL = (Path(__file__).resolve().parent.parent / "api" / "schema.graphql").read_text()
SCHEMA = graphql.build_schema(SDL)
assert SCHEMA.mutation_type is not None
MUTATIONS = frozenset(SCHEMA.mutation_type.fields)

# --- budget ------------------------------------------------------------------------------------

# Examples per test function and database. The CI default keeps the module near a minute on both
# databases; CLAIMSDB_FUZZ_EXAMPLES raises it for a long (nightly) run, which is also randomised
# so each night explores new inputs (a failure prints the @reproduce_failure blob to replay it).
CI_EXAMPLES = 30
LONG_EXAMPLES = int(os.environ.get("CLAIMSDB_FUZZ_EXAMPLES", "0") or 0)
EXAMPLES = LONG_EXAMPLES or CI_EXAMPLES

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=not LONG_EXAMPLES,
    database=None,  # no example database: a CI run depends on nothing but the code
    deadline=None,  # timing on a shared machine is no property of the API
    print_blob=True,
    # One seeded database per test, shared by its examples: mutations change it as they go, which
    # is the point (later examples meet the rows earlier ones wrote).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the properties ----------------------------------------------------------------------------

MASKED = "Internal server error."
# What no answer may contain: internals of the server.
LEAKS = (
    "Traceback",
    'File "',
    "site-packages",
    "/work/",
    '.py"',
    ".py:",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "sqlite3",
    "psycopg",
    "strawberry.",
    "graphql.error",
)
# Python exception class names (builtin ones, SQLAlchemy's and the drivers'), which would mean an
# exception's text reached the client.
EXCEPTION_NAME = re.compile(
    r"\b(?:[A-Z][A-Za-z]*(?:Error|Exception)|KeyError|StopIteration|RecursionError)\b(?:\s*:|\()"
)
ERROR_KEYS = {"message", "locations", "path", "extensions"}


def check_answer(response: httpx.Response, sent: str) -> dict[str, Any]:
    """The properties every answer must have; returns the decoded body."""
    where = f"\nrequest: {sent[:2000]}\nanswer: HTTP {response.status_code} {response.text[:2000]}"
    assert response.status_code < 500, f"a 5xx answer{where}"
    assert response.headers.get("content-type", "").startswith("application/json"), f"not JSON{where}"
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise AssertionError(f"the body is not valid JSON{where}") from None
    assert isinstance(body, dict), f"the body is not a JSON object{where}"
    assert body.keys() <= {"data", "errors", "extensions"} and body.keys() & {"data", "errors"}, (
        f"not the GraphQL response shape{where}"
    )
    if "data" in body:
        assert body["data"] is None or isinstance(body["data"], dict), f"`data` is not an object{where}"
    errors = body.get("errors")
    if errors is not None:
        assert isinstance(errors, list) and errors, f"`errors` is not a non-empty list{where}"
        for error in errors:
            assert isinstance(error, dict) and error.keys() <= ERROR_KEYS, f"an error of bad shape{where}"
            message = error.get("message")
            assert isinstance(message, str) and message, f"an error without a message{where}"
            assert message != MASKED, f"an unexpected (masked) error{where}"
            extensions = error.get("extensions") or {}
            assert isinstance(extensions, dict), f"`extensions` is not an object{where}"
            assert not extensions.keys() & {"exception", "stacktrace", "traceback"}, f"internals{where}"
            found = EXCEPTION_NAME.search(message)
            assert found is None, f"an exception class name ({found.group(0)!r}) in an error{where}"
    text = response.text
    for leak in LEAKS:
        assert leak not in text, f"the answer leaks {leak!r}{where}"
    if response.status_code != 200:
        assert errors, f"HTTP {response.status_code} without errors{where}"
    if currently_in_test_context():  # the `world` fixture checks an answer too
        _count(body)
    return body


def _count(body: dict[str, Any]) -> None:
    """What the answer was, for `--hypothesis-show-statistics`: whether operations reached the
    data, and each mutation the database, or were refused (and with which code)."""
    for error in body.get("errors") or []:
        event(f"error: {(error.get('extensions') or {}).get('code') or 'invalid document'}")
    data = body.get("data") or {}
    for name, value in data.items():
        if name not in MUTATIONS or not isinstance(value, dict):
            continue
        if value.get("userErrors"):
            event("mutation refused with userErrors")
        elif any(v is not None for k, v in value.items() if k != "userErrors"):
            event("mutation stored")
        else:
            event("mutation answered (its selection does not tell whether it stored)")
    if data and not data.keys() & MUTATIONS:
        event("query answered with data")


# --- the world: real rows the generated operations can name ------------------------------------

# Who sends an operation: mostly a curator (who may write), then an anonymous reader, a
# reviewer (who may review and retract), and a token that is not valid.
ACTORS = st.sampled_from(["curator"] * 4 + ["anonymous"] * 2 + ["reviewer", "bad-token"])


@dataclass(repr=False)  # the default repr would fill a failure report with every name
class World:
    client: httpx.AsyncClient
    tokens: dict[str, str]

    def __repr__(self) -> str:
        return "World(...)"

    def headers(self, actor: str) -> dict[str, str]:
        if actor in self.tokens:
            return {"Authorization": f"Bearer {self.tokens[actor]}"}
        if actor == "bad-token":
            return {"Authorization": "Bearer not-a-token"}
        return {}

    async def post(self, body: Any, actor: str) -> tuple[httpx.Response, str]:
        # The standard library's encoder, which (unlike orjson) writes integers of any size and
        # lone surrogates (as \u escapes: they cannot be UTF-8).
        try:
            content = json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            content = json.dumps(body).encode()
        response = await self.client.post(
            "/graphql",
            content=content,
            headers={"content-type": "application/json", **self.headers(actor)},
        )
        return response, content.decode()

    async def get(
        self, query: str, variables: dict[str, Any] | None, actor: str
    ) -> tuple[httpx.Response, str]:
        params = {"query": query}
        if variables:
            params["variables"] = json.dumps(variables)  # lone surrogates as \u escapes
        try:
            query.encode()
        except UnicodeEncodeError:  # a lone surrogate in a literal cannot go into a URL
            return await self.post({"query": query, "variables": variables}, actor)
        response = await self.client.get("/graphql", params=params, headers=self.headers(actor))
        return response, f"GET {params}"


def production(settings: Settings) -> Settings:
    return Settings(
        database_url=settings.database_url,
        pool_size=settings.pool_size,
        introspection=False,
        graphiql=False,
        write_rate_per_minute=0,
        anonymous_write_rate_per_minute=0,
    )


async def _real_ids(db: Database) -> list[str]:
    ids: list[str] = []
    async with db.read() as session:
        for type_name, table in (
            ("Claim", tables.Claim),
            ("Target", tables.Target),
            ("Intervention", tables.Intervention),
            ("Condition", tables.Condition),
            ("Organism", tables.Organism),
            ("Outcome", tables.Outcome),
            ("Cohort", tables.Cohort),
            ("Source", tables.Source),
            ("User", tables.User),
            ("AuditEvent", tables.AuditEvent),
        ):
            keys = (await session.scalars(sa.select(table.id).order_by(table.id).limit(40))).all()
            ids.extend(to_global_id(type_name, key) for key in keys)
    return ids


async def _real_names(db: Database) -> list[str]:
    names: set[str] = set()
    async with db.read() as session:
        for table in (
            tables.TargetAlias,
            tables.InterventionAlias,
            tables.ConditionAlias,
            tables.OrganismAlias,
            tables.OutcomeAlias,
        ):
            names.update((await session.scalars(sa.select(table.alias))).all())
        names.update(d for d in (await session.scalars(sa.select(tables.Source.doi))).all() if d)
        names.update(p for p in (await session.scalars(sa.select(tables.Source.pmid))).all() if p)
        names.update((await session.scalars(sa.select(tables.User.name))).all())
        names.update((await session.scalars(sa.select(tables.AuditEvent.action).distinct())).all())
        names.update(str(v) for v in (await session.scalars(sa.select(tables.Cohort.label))).all() if v)
    return sorted(names)


@pytest.fixture
async def world(settings: Settings, seeded_db: Database) -> AsyncIterator[World]:
    app = create_app(production(settings), database=seeded_db)
    app.state.db = seeded_db  # what the lifespan does; ASGITransport does not run it
    tokens = {
        "curator": (await create_user_with_token(seeded_db, "fuzz-curator", Role.CURATOR))[1],
        "reviewer": (await create_user_with_token(seeded_db, "fuzz-reviewer", Role.REVIEWER))[1],
    }
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as client:
        value = World(client, tokens)
        ids, cursors = await _real_ids(seeded_db), []
        # Real cursors (keyset positions of real pages) and conflict IDs, read through the API.
        response, _ = await value.post(
            {
                "query": "{ claims(first: 5) { edges { cursor } } targets(first: 3) { edges { cursor } }"
                " conflicts(first: 5) { edges { cursor node { id } } } }"
            },
            "anonymous",
        )
        data = check_answer(response, "world")["data"]
        for connection in data.values():
            for edge in connection["edges"]:
                cursors.append(edge["cursor"])
                if "node" in edge:
                    ids.append(edge["node"]["id"])
        Pools.ids, Pools.names, Pools.cursors = ids, await _real_names(seeded_db), cursors
        yield value
    # Whatever the fuzzed mutations did, the maintained aggregates agree with the claims (what
    # `claimsdb db check` runs).
    async with seeded_db.read() as session:
        differences = [d.describe() for d in await aggregate_differences(session)]
    assert differences == [], f"the maintained aggregates differ from the claims: {differences}"


# --- strategies --------------------------------------------------------------------------------

# Text as a client might send it: any character but NUL (test_garbage sends those), printable
# ones, strings that look like injections or wildcards, and lone surrogates.
TEXT = st.one_of(
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=30),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=30),
    st.sampled_from(["", " ", "'; DROP TABLE claim; --", "%", "_", "\\", "IL-6R", "10.1/x", "null"]),
    # Lone surrogates: JSON can carry them (as escapes), no database can store them.
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
)


class Pools:
    """Real IDs, names and cursors, filled by the `world` fixture from the test's database. The
    strategies below are built once (hypothesis-graphql needs about a second per build) and draw
    an index into these lists, so they see whatever database the running test uses. The seeds
    are loaded the same way on both backends, so the pools (and with them the examples) are the
    same on SQLite and PostgreSQL."""

    ids: list[str] = ["x"]
    names: list[str] = ["x"]
    cursors: list[str] = ["x"]


def _pick(pool: str) -> st.SearchStrategy[str]:
    return st.integers(0, 10**6).map(lambda i: (items := getattr(Pools, pool))[i % len(items)])


def scalars() -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Strategies for the schema's scalars: IDs and strings that name real rows half of the time,
    and dates and times that parse (their malformed forms are the negative mode's job)."""
    ids = st.one_of(_pick("ids"), _pick("ids"), _pick("cursors"), TEXT)
    strings = st.one_of(_pick("names"), _pick("names"), _pick("cursors"), TEXT)
    return {
        "ID": ids.map(nodes.String),
        "String": strings.map(nodes.String),
        "Date": st.dates().map(lambda d: nodes.String(d.isoformat())),
        "DateTime": st.datetimes(timezones=st.just(UTC) | st.none()).map(
            lambda t: nodes.String(t.isoformat())
        ),
    }


def _as_is(document: graphql.DocumentNode) -> graphql.DocumentNode:
    return document


@cache
def operation_documents(mode: Mode = Mode.POSITIVE) -> st.SearchStrategy[graphql.DocumentNode]:
    """Queries (any root fields together) half of the time, else a mutation of one root field:
    with several, one refused at the top (a curator reviewing, say) nulls the whole answer and
    hides what the others did. As syntax trees: a literal may hold a lone surrogate, which no
    GraphQL parser reads back, so `hoist` works on the tree."""
    custom = scalars()
    # No NUL in generated strings: the HTTP layer refuses a NUL before anything runs, which would
    # hide the rest of the document from the fuzzer (the garbage test sends NULs).
    options: dict[str, Any] = {
        "custom_scalars": custom,
        "allow_x00": False,
        "mode": mode,
        "print_ast": _as_is,
    }
    one_mutation = st.one_of([mutations(SCHEMA, fields=[name], **options) for name in sorted(MUTATIONS)])
    query = queries(SCHEMA, **options)
    # Not `query | one_mutation`: one_of flattens, which would make a query one case in fourteen.
    return st.booleans().flatmap(lambda is_query: query if is_query else one_mutation)


def operations(mode: Mode = Mode.POSITIVE) -> st.SearchStrategy[str]:
    """The same operations as text."""
    return operation_documents(mode).map(graphql.print_ast)


def json_values() -> st.SearchStrategy[Any]:
    scalar = (
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
    )
    return st.recursive(
        scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
    )


class _Hoist(graphql.Visitor):
    """Moves every argument's literal value into a variable of the argument's declared type."""

    def __init__(self, type_info: graphql.TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.definitions: list[graphql.VariableDefinitionNode] = []
        self.values: dict[str, Any] = {}

    def leave_argument(self, node: graphql.ArgumentNode, *_: Any) -> graphql.ArgumentNode:
        argument = self.type_info.get_argument()
        assert argument is not None
        name = f"v{len(self.definitions)}"
        variable = graphql.VariableNode(name=graphql.NameNode(value=name))
        self.definitions.append(
            graphql.VariableDefinitionNode(variable=variable, type=graphql.parse_type(str(argument.type)))
        )
        self.values[name] = graphql.value_from_ast_untyped(node.value)
        return graphql.ArgumentNode(name=node.name, value=variable)


def hoist(document: graphql.DocumentNode) -> tuple[str, dict[str, Any]]:
    """The operation as text with its arguments as variables, and the variables' values."""
    type_info = graphql.TypeInfo(SCHEMA)
    hoister = _Hoist(type_info)
    parsed = graphql.visit(document, graphql.TypeInfoVisitor(type_info, hoister))
    operation = parsed.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    # AST nodes are frozen: a new operation with the variables declared.
    operation = replace(operation, variable_definitions=tuple(hoister.definitions))
    return graphql.print_ast(replace(parsed, definitions=(operation,))), hoister.values


def is_mutation(document: str) -> bool:
    return document.lstrip().startswith("mutation")


# --- the tests ---------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_valid_operations(world: World, data: st.DataObject) -> None:
    """Valid queries and mutations, literal arguments, every actor; queries over GET too."""
    document = data.draw(operations(), label="document")
    note(document)
    actor = data.draw(ACTORS, label="actor")
    if not is_mutation(document) and data.draw(st.booleans(), label="over GET"):
        response, sent = await world.get(document, None, actor)
    else:
        response, sent = await world.post({"query": document}, actor)
    body = check_answer(response, sent)
    if is_mutation(document) and actor in ("anonymous", "bad-token"):
        # Refused (by the role check, or earlier by a limit), and nothing came back as written.
        payloads = [v for v in (body.get("data") or {}).values() if v is not None]
        assert body.get("errors") and not payloads, f"a write without a valid token ran: {sent[:500]}"


@FUZZ
@given(data=st.data())
async def test_operations_with_variables(world: World, data: st.DataObject) -> None:
    """Valid operations with their arguments in variables; some variables replaced by JSON of any
    shape, some unknown ones added."""
    document, variables = hoist(data.draw(operation_documents(), label="document"))
    note(document)
    if variables and data.draw(st.booleans(), label="spoil"):
        for name in data.draw(st.lists(st.sampled_from(sorted(variables)), max_size=3, unique=True)):
            variables[name] = data.draw(json_values(), label=f"${name}")
    if data.draw(st.booleans(), label="extra variables"):
        variables.update(data.draw(st.dictionaries(TEXT, json_values(), max_size=2), label="extra"))
    actor = data.draw(ACTORS, label="actor")
    if not is_mutation(document) and data.draw(st.booleans(), label="over GET"):
        response, sent = await world.get(document, variables, actor)
    else:
        response, sent = await world.post({"query": document, "variables": variables}, actor)
    check_answer(response, sent)


@FUZZ
@given(data=st.data())
async def test_invalid_operations(world: World, data: st.DataObject) -> None:
    """Operations that break the schema in one place: refused with errors and no data."""
    document = data.draw(operations(Mode.NEGATIVE), label="document")
    note(document)
    actor = data.draw(ACTORS, label="actor")
    response, sent = await world.post({"query": document}, actor)
    body = check_answer(response, sent)
    assert body.get("errors") and body.get("data") is None, f"an invalid operation ran: {sent[:1000]}"


def _splice(document: str, cut: tuple[int, int], insert: str) -> str:
    start, end = sorted(cut)
    return document[: start % (len(document) + 1)] + insert + document[end % (len(document) + 1) :]


@FUZZ
@given(data=st.data())
async def test_garbage(world: World, data: st.DataObject) -> None:
    """Random text as a document, valid documents cut and spliced, NULs, and request bodies of any
    JSON shape: every answer is a clean client error."""
    kind = data.draw(st.sampled_from(["text", "spliced", "body", "variables"]), label="kind")
    actor = data.draw(ACTORS, label="actor")
    if kind == "text":
        document = data.draw(
            st.text(max_size=200) | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
        )
        body: Any = {"query": document}
    elif kind == "spliced":
        document = data.draw(operations(), label="document")
        cut = data.draw(st.tuples(st.integers(0, 2000), st.integers(0, 2000)), label="cut")
        insert = data.draw(
            st.sampled_from(["{", "}", "(", ")", "$", "...", "@skip", "\\u0000", '"', "#", "\x00", ":", ""])
            | st.text(max_size=5),
            label="insert",
        )
        body = {"query": _splice(document, cut, insert)}
    elif kind == "variables":
        document, _ = hoist(data.draw(operation_documents(), label="document"))
        body = {
            "query": document,
            "variables": data.draw(json_values(), label="variables"),
            "operationName": data.draw(st.none() | TEXT, label="operationName"),
        }
    else:
        body = data.draw(json_values(), label="body")
    response, sent = await world.post(body, actor)
    check_answer(response, sent)
