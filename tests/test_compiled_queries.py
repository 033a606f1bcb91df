"""The compiled read path (api/graphql/compiled): query operations answered by SQL that builds the
JSON, on SQLite and PostgreSQL.

Every operation here runs through graphql_client.execute, which runs it a second time with the
compiled path switched off and requires the same bytes; these tests add that the compiled path
really answered (so that comparison is not vacuous), what it costs in SQL statements, that what
it does not build falls back whole, that errors are the resolvers' own, and that HTTP responses
are identical to the byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import orjson
import pytest
from graphql import ExecutionResult
from graphql_client import (
    ClaimRow,
    ClaimSpec,
    all_claims,
    count_statements,
    create_claims,
    create_source,
    create_user_with_token,
    execute,
    global_id,
    schema_for,
)

from api.app import create_app
from api.graphql.compiled import Outcome
from api.graphql.context import build_context
from api.settings import Settings
from api.store.db import Database
from bench.scenarios import CLAIM_PAGE  # the benchmark's Q1/Q5: what is measured must compile
from bench.scenarios import SUMMARY as Q3_SUMMARY  # and its Q3
from schema.enums import EffectDirection, EvidenceType, Modality, Role, SourceKind
from schema.users import Actor

# --- data --------------------------------------------------------------------------------------

HOT = "IL-6R"  # many claims bear on it here (the seeds' 10 and ADDED more)
# With the 68 seeded claims, the oracle (graphql_client.all_claims) still sees every claim on a page of 100.
ADDED = 26


@dataclass
class World:
    curator: Actor
    curator_token: str
    other_curator: Actor
    reviewer: Actor
    paper: str  # the paper's global ID
    draft_ids: list[int]


@pytest.fixture
async def world(seeded_db: Database) -> World:
    """The seeds plus ADDED accepted claims on IL-6R (half through tocilizumab), with cohorts,
    comparators, conditions, several quotes, two sources (a dated paper and a blog post derived
    from it), and drafts of one curator."""
    db = seeded_db
    curator, token = await create_user_with_token(db, "cleo", Role.CURATOR)
    other, _ = await create_user_with_token(db, "otto", Role.CURATOR)
    reviewer, _ = await create_user_with_token(db, "rita", Role.REVIEWER)
    paper = await create_source(
        db, "A compiled paper", doi="10.5555/compiled.1", year=2021, published=date(2021, 3, 4)
    )
    blog = await create_source(
        db, "A blog post on it", kind=SourceKind.BLOG_POST, derived_from=global_id("Source", paper), year=2022
    )
    directions = list(EffectDirection)
    specs = [
        ClaimSpec(
            f'Compiled finding {i}: "quoted" text, ünïcödé and a backslash \\ {i}.',
            source=global_id("Source", paper if i % 3 else blog),
            target=HOT if i % 2 == 0 else None,
            intervention="tocilizumab" if i % 2 else None,
            outcome="disease activity" if i % 4 else "disease progression",
            direction=directions[i % len(directions)],
            modality=list(Modality)[i % 3],
            evidence_type=[EvidenceType.OBSERVATIONAL, EvidenceType.ANIMAL_MODEL, EvidenceType.REVIEW][i % 3],
            organism="mouse" if i % 5 == 0 else "human",
            condition=["RRMS", "NMOSD", None][i % 3],
            sample_type=None if i % 6 == 0 else f"sample {i}",  # (unique: no two claims alike)
            cohort=(f"cohort {i}", None if i % 7 == 0 else 10 + i) if i % 3 != 2 else None,
            comparator=(f"healthy controls{' (mice)' if i % 5 == 0 else ''}", 40) if i % 4 == 1 else None,
            quotes=[f"Quote {i} one.", f"Quote {i} two."][: 1 + i % 2],
        )
        for i in range(ADDED)
    ]
    await create_claims(db, specs)
    drafts = [
        ClaimSpec(
            "A draft about IL-6R.", source=global_id("Source", paper), target=HOT, outcome="remyelination"
        ),
        ClaimSpec(
            "A draft about MIF.", source=global_id("Source", paper), target="MIF", outcome="inflammation"
        ),
    ]
    draft_ids = await create_claims(db, drafts, actor=curator, status=None)
    return World(curator, token, other, reviewer, global_id("Source", paper), draft_ids)


# --- running --------------------------------------------------------------------------------


async def compiled(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Data of an operation the compiled path must answer (graphql_client.execute compares it
    with the resolvers' answer)."""
    seen: list[Outcome] = []
    result = await execute(db, settings, query, variables, actor=actor, outcome=seen)
    assert seen and all(o.compiled for o in seen), f"expected the compiled path to answer, got {seen}"
    assert not result.errors, result.errors
    assert result.data is not None
    return result.data


async def fell_back(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    because: str = "",
) -> ExecutionResult:
    """An operation the compiled path must leave to the resolvers (saying why); its answer must
    be what the resolvers give with the compiled path switched off."""
    seen: list[Outcome] = []
    result = await execute(db, settings, query, variables, actor=actor, outcome=seen)
    assert seen and not any(o.compiled for o in seen), f"expected a fallback, got {seen}"
    assert because in seen[0].reason, f"fell back because {seen[0].reason!r}, expected {because!r}"
    resolvers = schema_for(settings.model_copy(update={"compiled_queries": False}))
    context = await build_context(db, settings, None)
    if actor is not None:
        context._actor = actor
    alone = await resolvers.execute(query, variable_values=variables, context_value=context)
    assert orjson.dumps(result.data) == orjson.dumps(alone.data)
    assert [e.formatted for e in result.errors or []] == [e.formatted for e in alone.errors or []]
    return result


# --- selections: fragments, aliases, variables, directives, __typename -----------------------

EVERYTHING = """
query Everything($first: Int, $withContext: Boolean!, $skipEvidence: Boolean = false) {
  __typename
  all: claims(first: $first) {
    __typename
    totalCount
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      __typename
      cursor
      node { ...Core ...Context @include(if: $withContext) }
    }
    nodes { ...Core statement }
  }
  drafts: claims(first: 5, filter: {status: [DRAFT]}) { totalCount nodes { id status } }
  again: claims(first: 2) { nodes { id theId: id, created: createdAt updated: updatedAt version } }
}

fragment Core on Claim {
  __typename
  id
  createdAt
  subject {
    __typename
    ... on Target { symbol name kind aliases xrefs interventions { action intervention { name } } }
    ... on Intervention {
      name kind aliases xrefs
      actions { action target { symbol id } intervention { id } }
    }
  }
}

fragment Context on Claim {
  statement direction modality evidenceType sampleType status version updatedAt
  targets { __typename id symbol name kind }
  outcome { id name kind aliases }
  organism { id taxonId scientificName commonName }
  condition { id name aliases xrefs parent { name } children { name parent { name } } }
  cohort { id label size femaleCount treatmentStatus sampleType organism { id } condition { name } }
  comparator { id label size source { title } }
  source {
    __typename id kind title authors venue year published doi pmid url peerReviewed aiGenerated
    derivedFrom { id title derivedFrom { id } }
    cohorts { label size }
  }
  evidence @skip(if: $skipEvidence) { quote locator stance source { id title } }
  createdBy { id name role orcid }
}
"""


def test_stored_timestamps_become_what_the_datetime_scalar_serialises() -> None:
    """values.utc_datetime rewrites the stored text without parsing it; it must give what
    Strawberry's DateTime gives for the aware UTC datetime (isoformat leaves out a zero fraction)."""
    from datetime import UTC

    from api.graphql.compiled.values import utc_datetime

    for moment in (
        datetime(2026, 12, 2, 0, 40, 1, 345155, tzinfo=UTC),
        datetime(2026, 12, 2, 0, 40, 1, 0, tzinfo=UTC),
        datetime(1999, 1, 31, 23, 59, 59, 10, tzinfo=UTC),
        datetime(2024, 2, 29, 0, 0, 0, 500000, tzinfo=UTC),
    ):
        stored = moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLite's text; PostgreSQL's to_char alike
        assert utc_datetime(stored) == moment.isoformat(), stored
        # Other shapes go through datetime.
        assert utc_datetime(moment.strftime("%Y-%m-%dT%H:%M:%S")) == moment.replace(microsecond=0).isoformat()
        assert (
            utc_datetime(moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:23])
            == moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat()
        )


async def test_fragments_aliases_variables_directives_and_typename(
    world: World, seeded_db: Database, settings: Settings
) -> None:
    db = seeded_db
    for with_context, skip in ((True, False), (True, True), (False, False)):
        variables = {"first": 30, "withContext": with_context, "skipEvidence": skip}
        data = await compiled(db, settings, EVERYTHING, variables, actor=world.reviewer)
        assert data["__typename"] == "Query"
        edges = data["all"]["edges"]
        assert len(edges) == 30 and data["all"]["totalCount"] > 30
        node = edges[0]["node"]
        assert ("evidence" in node) == (with_context and not skip)
        assert ("outcome" in node) == with_context
        assert {e["node"]["subject"]["__typename"] for e in edges} == {"Target", "Intervention"}
        assert data["drafts"]["totalCount"] == 2  # a reviewer sees every draft
        assert list(data["again"]["nodes"][0]) == ["id", "theId", "created", "updated", "version"]


async def test_a_page_of_a_hot_target_with_its_context(
    world: World, seeded_db: Database, settings: Settings, backend: str
) -> None:
    db = seeded_db
    rows = [r for r in await all_claims(db, settings) if r.bears_on(HOT)]
    expected = [r.id for r in sorted(rows, key=_newest_first)]
    seen: list[str] = []
    after = None
    while True:
        with count_statements(db) as log:
            data = await compiled(db, settings, CLAIM_PAGE, {"target": "il6r", "first": 7, "after": after})
        # The target's id; whether the target is common enough to walk the claim index for
        # (SQLite; then kept a while) or the join order fixed (PostgreSQL, SET LOCAL); the page
        # with its documents: one read session, whatever the page holds.
        assert log.count <= 3, str(log)
        page = data["claims"]
        seen += [n["id"] for n in page["nodes"]]
        assert all(any(t["symbol"] == HOT for t in n["targets"]) for n in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected


def _newest_first(row: ClaimRow) -> tuple[Any, ...]:
    return (-datetime.fromisoformat(row.created_at).timestamp(), -row.int_id)


# --- every filter and ordering, paging both ways ----------------------------------------------

LIST = """
query List(
  $filter: ClaimFilter, $order: ClaimOrder, $first: Int, $after: String, $last: Int, $before: String
) {
  claims(filter: $filter, orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id createdAt source { year published } cohort { size } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

FILTERS: list[dict[str, Any]] = [
    {},
    {"target": HOT},
    {"target": "HGNC:6019"},
    {"intervention": "tocilizumab"},
    {"condition": "MS"},
    {"condition": "NMOSD", "organism": "human"},
    {"organism": "mouse"},
    {"outcome": "disease progression"},
    {"direction": ["INCREASES", "NO_EFFECT"]},
    {"modality": ["HEDGED"]},
    {"evidenceType": ["ANIMAL_MODEL", "REVIEW"]},
    {"sourceKind": ["BLOG_POST"]},
    {"status": ["DRAFT", "ACCEPTED"]},
    {"source": "10.5555/compiled.1"},
    {"hasConflict": True},
    {"hasConflict": False, "target": HOT},
    {"text": "quoted backslash"},
    {"minCohortSize": 30},
    {"publishedFrom": "2021-01-01", "publishedTo": "2021-12-31"},
    {"target": HOT, "direction": ["DECREASES"], "organism": "human", "condition": "RRMS"},
]
ORDERS: list[dict[str, str] | None] = [
    None,
    {"field": "CREATED_AT", "direction": "ASC"},
    {"field": "PUBLISHED", "direction": "DESC"},
    {"field": "PUBLISHED", "direction": "ASC"},
    {"field": "COHORT_SIZE", "direction": "DESC"},
    {"field": "COHORT_SIZE", "direction": "ASC"},
]


async def test_every_filter_and_order_pages_the_same_both_ways(
    world: World, seeded_db: Database, settings: Settings
) -> None:
    db = seeded_db
    for actor in (None, world.curator):
        for filter_ in FILTERS:
            for order in ORDERS if filter_ in ({}, {"target": HOT}) else [None]:
                forward = await _walk(db, settings, filter_, order, actor, backward=False)
                backward = await _walk(db, settings, filter_, order, actor, backward=True)
                assert forward == backward, f"{filter_} {order}: paging back gives another order"
                whole = await compiled(
                    db, settings, LIST, {"filter": filter_, "order": order, "first": 100}, actor=actor
                )
                ids = [e["node"]["id"] for e in whole["claims"]["edges"]]
                assert ids == forward and whole["claims"]["totalCount"] == len(ids), filter_


async def _walk(
    db: Database,
    settings: Settings,
    filter_: dict[str, Any],
    order: dict[str, str] | None,
    actor: Actor | None,
    backward: bool,
) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        variables: dict[str, Any] = {"filter": filter_, "order": order}
        variables.update({"last": 9, "before": cursor} if backward else {"first": 9, "after": cursor})
        page = (await compiled(db, settings, LIST, variables, actor=actor))["claims"]
        got = [e["node"]["id"] for e in page["edges"]]
        ids = got + ids if backward else ids + got
        info = page["pageInfo"]
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        if not more:
            return ids
        cursor = info["startCursor"] if backward else info["endCursor"]
    raise AssertionError("paging did not end")


async def test_drafts_are_their_curators_alone(world: World, seeded_db: Database, settings: Settings) -> None:
    db = seeded_db
    query = "query($f: ClaimFilter) { claims(filter: $f, first: 100) { totalCount nodes { id status } } }"
    drafts = {global_id("Claim", i) for i in world.draft_ids}

    def ids(data: dict[str, Any]) -> set[str]:
        return {n["id"] for n in data["claims"]["nodes"]}

    anonymous = await compiled(db, settings, query, {"f": {"target": HOT}})
    mine = await compiled(db, settings, query, {"f": {"target": HOT}}, actor=world.curator)
    theirs = await compiled(db, settings, query, {"f": {"target": HOT}}, actor=world.other_curator)
    everyone = await compiled(db, settings, query, {"f": {"status": ["DRAFT"]}}, actor=world.reviewer)
    assert not ids(anonymous) & drafts and not ids(theirs) & drafts
    assert global_id("Claim", world.draft_ids[0]) in ids(mine)  # the IL-6R draft
    assert ids(everyone) == drafts
    only_mine = await compiled(db, settings, query, {"f": {"status": ["DRAFT"]}}, actor=world.curator)
    assert ids(only_mine) == drafts
    assert (await compiled(db, settings, query, {"f": {"status": ["DRAFT"]}}))["claims"]["totalCount"] == 0


# --- errors: the resolvers' own ------------------------------------------------------------


async def test_errors_are_the_resolvers_own(world: World, seeded_db: Database, settings: Settings) -> None:
    db = seeded_db
    page = "query($first: Int, $last: Int, $after: String, $before: String) { claims(first: $first, " \
        "last: $last, after: $after, before: $before) { nodes { id } } }"  # fmt: skip
    bad = [
        ({"first": 101}, "first must be between 0 and 100"),
        ({"first": -1}, "first must be between 0 and 100"),
        ({"first": 2, "last": 2}, "either first or last"),
        ({"first": 2, "after": "not a cursor!"}, "is not a cursor from this API"),
        ({"last": 2, "after": "x"}, "last pages back"),
        ({"first": 2, "after": global_id("Claim", 1)}, "cursor"),
    ]
    for variables, message in bad:
        result = await fell_back(db, settings, page, variables, because="")
        assert result.errors and message in result.errors[0].message, (variables, result.errors)

    # A cursor of another ordering is refused the same way.
    other = await compiled(
        db, settings, LIST, {"order": {"field": "PUBLISHED", "direction": "ASC"}, "first": 1}
    )
    cursor = other["claims"]["pageInfo"]["endCursor"]
    result = await fell_back(db, settings, page, {"first": 1, "after": cursor})
    assert result.errors and "another list or ordering" in result.errors[0].message

    # Variables of the wrong type never reach the compiled path's planning.
    result = await fell_back(db, settings, page, {"first": "ten"}, because="cannot run as given")
    assert result.errors

    # An invalid token: the resolvers raise UNAUTHENTICATED for claims, so does the fallback.
    context = await build_context(db, settings, None)
    context._actor = None
    context.auth_problem = "the API token is not valid"
    schemas = schema_for(settings), schema_for(settings.model_copy(update={"compiled_queries": False}))
    answers = []
    for schema in schemas:
        answers.append(await schema.execute("{ claims { totalCount } }", context_value=context))
    assert answers[0].errors and answers[0].errors[0].extensions == {"code": "UNAUTHENTICATED"}
    first, second = ([answer.data, [e.formatted for e in answer.errors or []]] for answer in answers)
    assert orjson.dumps(first) == orjson.dumps(second)


# --- what falls back ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "because"),
    [
        ("{ claims(first: 2) { nodes { id conflicts { totalCount } } } }", "Claim.conflicts"),
        ("{ claims(first: 2) { nodes { id statistics { pValue } } } }", "Claim.statistics"),
        ("{ claims(first: 2) { nodes { id history { totalCount } } } }", "Claim.history"),
        (
            "{ claims(first: 2) { nodes { subject { ... on Target { claims { totalCount } } } } } }",
            "Target.claims",
        ),
        ("{ claims(first: 2) { nodes { source { claims { totalCount } } } } }", "Source.claims"),
        # One unsupported root field makes the whole operation fall back, the claims with it.
        ("{ claims(first: 2) { nodes { id } } targets { totalCount } }", "root field targets"),
        ('{ target(symbol: "IL-6R") { symbol } }', "root field target"),
        ('{ node(id: "Q2xhaW06MQ") { id } }', "root field node"),
        ("{ __schema { queryType { name } } }", "root field __schema"),
        ('{ __type(name: "Claim") { name } }', "root field __type"),
        ("{ __typename }", "nothing to compile"),
        (
            '{ evidenceSummary(target: "IL-6R") { cells { count claims { totalCount } } } }',
            "field EvidenceCell.claims",
        ),
    ],
)
async def test_unsupported_selections_fall_back_whole(
    world: World, seeded_db: Database, settings: Settings, query: str, because: str
) -> None:
    result = await fell_back(seeded_db, settings, query, actor=world.reviewer, because=because)
    assert result.data is not None and not result.errors, (query, result.errors)


SUMMARY = """
query Summary($target: String!, $filter: ClaimFilter) {
  __typename
  evidenceSummary(target: $target, filter: $filter) {
    __typename total
    target { id symbol aliases __typename }
    cells { __typename direction count condition { id name parent { name } } outcome { id name } }
    again: cells { count outcome { kind } conditionAgain: condition { xrefs } }
  }
  s2: evidenceSummary(target: "MIF") { total cells { count } }
}
"""


async def test_evidence_summaries_are_compiled(world: World, seeded_db: Database, settings: Settings) -> None:
    """A summary's thousands of cells are what made Q3 slow through the resolvers; compiled, the
    cells come from the resolver's own read and each distinct object's document is built once.
    Aliases selecting the same object differently, filters, and unknown names (no target, no
    cells) answer as the resolvers do (execute compares the bytes)."""
    db = seeded_db
    data = await compiled(db, settings, SUMMARY, {"target": HOT})
    summary = data["evidenceSummary"]
    assert summary["target"]["symbol"] == HOT and summary["cells"], summary
    assert sum(c["count"] for c in summary["cells"]) <= summary["total"]
    assert {c["outcome"]["kind"] for c in summary["again"]}
    for variables in (
        {"target": "HGNC:6019"},  # a CURIE
        {"target": HOT, "filter": {"organism": "Homo sapiens"}},
        {"target": HOT, "filter": {"status": ["ACCEPTED", "DRAFT"], "modality": ["HEDGED"]}},
        {"target": HOT, "filter": {"text": "interleukin"}},  # not from the maintained cells
    ):
        await compiled(db, settings, SUMMARY, variables, actor=world.reviewer)
    nothing = await compiled(db, settings, SUMMARY, {"target": "no such target"})
    assert nothing["evidenceSummary"] == {
        "__typename": "EvidenceSummary", "total": 0, "target": None, "cells": [], "again": []
    }  # fmt: skip
    with count_statements(db) as log:
        await compiled(db, settings, Q3_SUMMARY, {"target": HOT})
    # The target's id, the retracted sources, the cells; the target, conditions and outcomes.
    assert len(log.statements) <= 7, log.statements


async def test_every_declared_relation_field_is_compiled(
    world: World, seeded_db: Database, settings: Settings
) -> None:
    """Reviews with their reviewers, and cohorts with their sources: fields declared once with
    related()/listed() are built by the database like the rest, with the resolvers' bytes."""
    query = """{ claims(first: 30) { nodes { id reviews { decision comment at reviewer { name } }
                 cohort { label source { title cohorts { label size } } } } } }"""
    await compiled(seeded_db, settings, query, actor=world.reviewer)


async def test_mutations_never_take_the_compiled_path(
    world: World, seeded_db: Database, settings: Settings
) -> None:
    seen: list[Outcome] = []
    mutation = """
      mutation { createSource(input: {kind: PREPRINT, title: "T", authors: ["A"]}) { userErrors { code } } }
    """
    await execute(seeded_db, settings, mutation, actor=world.curator, outcome=seen)
    assert seen == []  # not even asked


async def test_switched_off_it_never_answers(world: World, seeded_db: Database, settings: Settings) -> None:
    seen: list[Outcome] = []
    off = settings.model_copy(update={"compiled_queries": False})
    result = await execute(seeded_db, off, CLAIM_PAGE, {"target": HOT, "first": 3}, outcome=seen)
    assert seen == [] and not result.errors


# --- the SQLite plan for a common target -----------------------------------------------------


async def test_sqlite_walks_the_claim_index_for_a_common_target(
    world: World, seeded_db: Database, settings: Settings, backend: str
) -> None:
    """For a target holding a large share of the claims, a page walks ix_claim_created_at_id
    (SQLite); for a rare one, or with a filter that may leave few claims, it reads the target's
    claims. Both give what the plain plan gives (PostgreSQL always gets the plain one)."""
    db = seeded_db
    query = "query($f: ClaimFilter, $n: Int) { claims(filter: $f, first: $n) { totalCount nodes { id } } }"
    rows = await all_claims(db, settings)
    for filter_, size, walks in (
        ({"target": HOT}, 3, True),  # 36 of ~96 claims: 36² > 4 · 96
        ({"target": HOT}, 100, False),  # 36² < 101 · 96: a page this large reads the target's claims
        ({"target": "LIF"}, 3, False),  # a rare target
        ({"target": HOT, "source": "10.5555/compiled.1"}, 3, False),  # a narrow filter
        ({"target": HOT, "organism": "human"}, 3, True),
    ):
        with count_statements(db) as log:
            data = await compiled(db, settings, query, {"f": filter_, "n": size})
        page_sql = next(s for s in log.statements if "json" in s)
        assert ("INDEXED BY" in page_sql) == (walks and backend == "sqlite"), (filter_, size, page_sql[-600:])
        symbol = filter_["target"]
        expected = [
            r.id
            for r in sorted(rows, key=_newest_first)
            if r.bears_on(symbol) and ("organism" not in filter_ or r.organism[1] == "human")
            and ("source" not in filter_ or r.source_doi == filter_["source"])
        ]  # fmt: skip
        assert [n["id"] for n in data["claims"]["nodes"]] == expected[:size]
        assert data["claims"]["totalCount"] == len(expected)


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
async def clients(
    world: World, seeded_db: Database, settings: Settings
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two apps on the same database: the compiled path on, and off."""
    out: list[httpx.AsyncClient] = []
    for on in (True, False):
        app = create_app(settings.model_copy(update={"compiled_queries": on}), database=seeded_db)
        app.state.db = seeded_db  # what the lifespan does; ASGITransport does not run it
        out.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"))
    try:
        yield out
    finally:
        for client in out:
            await client.aclose()


async def test_http_responses_are_identical_to_the_byte(
    world: World, clients: list[httpx.AsyncClient]
) -> None:
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("POST", {"query": CLAIM_PAGE, "variables": {"target": HOT, "first": 20}}, {}),
        ("POST", {"query": EVERYTHING, "variables": {"first": 10, "withContext": True}}, {}),
        ("POST", {"query": LIST, "variables": {"filter": {"target": HOT}, "last": 5}}, {}),
        ("GET", {"query": "{ claims(first: 3) { nodes { id statement } } }"}, {}),
        ("POST", {"query": "{ claims(first: 101) { totalCount } }"}, {}),  # an error
        ("POST", {"query": LIST, "variables": {"filter": {"status": ["DRAFT"]}}},
         {"Authorization": f"Bearer {world.curator_token}"}),
        ("POST", {"query": "{ claims { totalCount } }"}, {"Authorization": "Bearer not-a-token"}),
    ]  # fmt: skip
    for method, payload, headers in requests:
        bodies = []
        for client in clients:
            if method == "GET":
                response = await client.get("/graphql", params=payload, headers=headers)
            else:
                response = await client.post("/graphql", json=payload, headers=headers)
            bodies.append((response.status_code, response.headers.get("content-type"), response.content))
        assert bodies[0] == bodies[1], (payload, bodies)
        assert bodies[0][0] < 500, bodies[0]


# --- validation, once per document ---------------------------------------------------------


async def test_validation_is_kept_per_document_but_the_cost_limit_is_per_request(
    seeded_db: Database, settings: Settings
) -> None:
    """api/graphql/validation.py: a document's verdict is kept (the cost limit apart, whose page
    sizes may be variables), and the errors are what one full validation pass reports."""
    db = seeded_db
    nested = (
        "query($n: Int) { claims(first: $n) { nodes { source { claims(first: $n) { nodes { id } } } } } }"
    )
    for n, refused in ((5, False), (100, True), (5, False), (100, True)):
        result = await execute(db, settings, nested, {"n": n})
        codes = [(e.extensions or {}).get("code") for e in result.errors or []]
        assert (codes == ["QUERY_TOO_COSTLY"]) == refused, (n, result.errors)

    # A document with errors of its own, and too costly: all its errors, the same every time.
    broken = (
        "query($n: Int) { claims(first: $n) { nodes { nope source { claims(first: $n) { totalCount } } } } }"
    )
    runs = []
    for _ in range(2):
        result = await execute(db, settings, broken, {"n": 100})
        runs.append([e.formatted for e in result.errors or []])
    assert runs[0] == runs[1]
    assert any("nope" in e["message"] for e in runs[0])
    assert any((e.get("extensions") or {}).get("code") == "QUERY_TOO_COSTLY" for e in runs[0])


async def test_documents_without_sqlites_json_subtypes_through_subqueries(
    world: World, seeded_db: Database, settings: Settings, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where SQLite does not keep a subquery's JSON as JSON, the documents wrap it in json()
    (documents._subtypes_pass): the same answers that way too."""
    if backend != "sqlite":
        pytest.skip("SQLite only")
    from api.caches import clear_caches
    from api.store.queries import documents

    def forget() -> None:  # the SQL made so far, and the plans that keep it
        clear_caches()

    forget()
    monkeypatch.setattr(documents, "_subtypes_pass", lambda: False)
    try:
        with count_statements(seeded_db) as log:
            await compiled(
                seeded_db, settings, EVERYTHING, {"first": 20, "withContext": True}, actor=world.reviewer
            )
        assert any("json((SELECT" in s for s in log.statements)
    finally:
        monkeypatch.undo()
        forget()
