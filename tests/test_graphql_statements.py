"""A nested page of claims costs a fixed number of SQL statements whatever its size
(engineering.md rule 1): DataLoaders batch every nested lookup, so there is no per-row query."""

from __future__ import annotations

from graphql_client import (
    ClaimSpec,
    StatementLog,
    count_statements,
    create_claims,
    create_source,
    global_id,
    gql,
)

from api.settings import Settings
from api.store.db import Database

MAX_STATEMENTS = 12
ADDED = 110  # with the 68 seeded claims, a page of 100 is a real, full page of new claims

NESTED_PAGE = """
query NestedPage($n: Int!) {
  claims(first: $n) {
    nodes {
      id statement
      subject {
        __typename
        ... on Target { id symbol }
        ... on Intervention { id name }
      }
      targets { id symbol }
      outcome { id name }
      organism { id scientificName }
      condition { id name }
      cohort { id label size }
      comparator { id label }
      source { id title derivedFrom { id title } }
      evidence { quote source { id title } }
    }
  }
}
"""


async def add_claims(db: Database) -> None:
    """ADDED claims shaped alike, so any page of them needs the same loaders: every one has a
    condition, a cohort and a comparator, comes from a source derived from another, and is about
    IL-6R or tocilizumab (which acts on IL-6R), alternately. The newest, which a page of one
    holds, is about tocilizumab, so that page still loads a target (through `targets`) as well as
    an intervention; in a mixed page IL-6R is loaded once, as a subject, and `targets` finds it
    in the loader's cache."""
    paper = await create_source(db, "The primary paper", doi="10.5555/primary.1", year=2020)
    retelling = await create_source(
        db, "A blog post retelling it", derived_from=global_id("Source", paper), year=2021
    )
    source = global_id("Source", retelling)
    specs = [
        ClaimSpec(
            f"Finding number {i}.",
            source=source,
            target="IL-6R" if i % 2 == 0 else None,
            intervention="tocilizumab" if i % 2 == 1 else None,
            outcome="disease activity",
            condition="NMOSD",
            cohort=(f"cohort {i}", 10 + i),
            comparator=("healthy controls", 30),
            quotes=[f"Quote {i}a.", f"Quote {i}b."],
        )
        for i in range(ADDED)
    ]
    await create_claims(db, specs)


async def run_counted(db: Database, settings: Settings, size: int) -> tuple[StatementLog, dict]:
    with count_statements(db) as log:
        data = await gql(db, settings, NESTED_PAGE, {"n": size})
    return log, data


async def test_a_nested_page_costs_the_same_statements_whatever_its_size(
    seeded_db: Database, settings: Settings
) -> None:
    db = seeded_db
    await add_claims(db)
    await gql(db, settings, NESTED_PAGE, {"n": 2})  # warm up: connections, dialect initialisation

    counts: dict[str, StatementLog] = {}
    for label, size in (("first 1", 1), ("first 10", 10), ("first 100", 100), ("first 100 again", 100)):
        log, data = await run_counted(db, settings, size)
        nodes = data["claims"]["nodes"]
        assert len(nodes) == size, f"expected a full page of {size}"
        assert all(n["cohort"] and n["comparator"] and n["source"]["derivedFrom"] for n in nodes)
        kinds = {n["subject"]["__typename"] for n in nodes}
        assert kinds == ({"Intervention"} if size == 1 else {"Target", "Intervention"})
        counts[label] = log

    for label, log in counts.items():
        assert log.count <= MAX_STATEMENTS, (
            f"{label} ran {log.count} statements (at most {MAX_STATEMENTS}):\n{log}"
        )
    summary = ", ".join(f"{label}: {log.count}" for label, log in counts.items())
    assert len({log.count for log in counts.values()}) == 1, (
        f"the statement count must not depend on the page size ({summary}):\n"
        + "\n".join(f"{label}:\n{log}" for label, log in counts.items())
    )


async def test_a_query_runs_its_loader_batches_on_one_connection(seeded_db: Database) -> None:
    """Batches dispatched together share the request's one read session while sharing is on, and
    go back to a session each after release (what mutations use, to see their own writes)."""
    from asyncio import gather

    from sqlalchemy import event

    from api.graphql.loaders import Loaders
    from api.store.queries.relations import ToMany, relation

    checkouts: list[object] = []

    def on_checkout(*_args: object) -> None:
        checkouts.append(_args[0])

    pool = seeded_db.engine.sync_engine.pool
    event.listen(pool, "checkout", on_checkout)
    try:
        loaders = Loaders(seeded_db)
        loaders.share_session()
        evidence = relation("claim", "evidence")
        assert isinstance(evidence, ToMany)
        found = await gather(
            loaders.claim.load(1),
            loaders.outcome.load(1),
            loaders.rows("source").load(1),
            loaders.listed(evidence).load(1),
        )
        assert all(found), "every loader found its row"
        assert len(checkouts) == 1, f"sharing: {len(checkouts)} connections checked out for 4 batches"
        await loaders.release()

        checkouts.clear()
        fresh = Loaders(seeded_db)
        await gather(fresh.claim.load(2), fresh.outcome.load(2), fresh.rows("source").load(2))
        assert len(checkouts) == 3, "without sharing, each batch has its own session"
    finally:
        event.remove(pool, "checkout", on_checkout)


async def test_create_claim_costs_few_statements(seeded_db: Database, settings: Settings) -> None:
    """Names and the source (by DOI) resolved in one statement, nothing read back or deleted for a
    new claim: 9 statements besides BEGIN (look-ups, duplicate check, claim, evidence,
    claim_target, search, and the audit head read, event and head update). It was 17 (bench M1)."""
    from graphql_client import create_source, create_user

    from schema.enums import Role

    await create_source(seeded_db, "Statement count source", doi="10.5555/count.1")
    curator = await create_user(seeded_db, "counting-curator", Role.CURATOR)
    mutation = """mutation($input: CreateClaimInput!) { createClaim(input: $input) {
      claim { id status } userErrors { field message } } }"""
    claim_input = {
        "statement": "IL-6R signalling may raise disease activity.",
        "target": "IL-6R",
        "outcome": "disease activity",
        "direction": "INCREASES",
        "modality": "HEDGED",
        "evidenceType": "OBSERVATIONAL",
        "organism": "human",
        "condition": "RRMS",
        "source": "10.5555/count.1",
        "evidence": [{"quote": "IL-6R signalling may raise disease activity."}],
    }
    with count_statements(seeded_db) as log:
        data = await gql(seeded_db, settings, mutation, {"input": claim_input}, actor=curator)
    assert data["createClaim"]["userErrors"] == [] and data["createClaim"]["claim"]["status"] == "DRAFT"
    assert log.count <= 9, f"createClaim ran {log.count} statements:\n{log}"


async def test_resolved_query_loaders_share_a_connection(seeded_db: Database, settings: Settings) -> None:
    """Through the schema (a root field the compiled path leaves to the resolvers): the loaders'
    batches of a query share one session, so the request checks out at most two connections (the
    root resolver's and the loaders' one), however many loaders it wakes."""
    from sqlalchemy import event

    checkouts: list[object] = []
    pool = seeded_db.engine.sync_engine.pool
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Claim {
      id outcome { name } organism { scientificName } condition { name } source { title }
      evidence { quote } targets { symbol } } } }"""
    ids = [global_id("Claim", i) for i in range(1, 11)]
    await gql(seeded_db, settings, query, {"ids": ids})  # warm up
    event.listen(pool, "checkout", lambda *args: checkouts.append(args[0]))
    data = await gql(seeded_db, settings, query, {"ids": ids})
    assert len([n for n in data["nodes"] if n]) == 10
    assert len(checkouts) <= 2, f"{len(checkouts)} connections checked out for one query"
