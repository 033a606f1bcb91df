"""Query plans the benchmark found slow at a million claims, checked on SQLite's planner.

SQLite chooses plans from the statement text: a bound parameter where a partial index's WHERE
clause has a literal makes the index unusable. These tests run the store's own statements
(captured as the commands send them) through EXPLAIN QUERY PLAN, so a change that reintroduces
the slow plan fails here rather than only in bench/.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from graphql_client import ClaimSpec, create_claims, create_source
from sqlalchemy import event
from sqlalchemy.dialects import sqlite

from api.store.db import Database
from schema.enums import ClaimStatus


@contextmanager
def captured(db: Database, needle: str) -> Iterator[list[tuple[str, Any]]]:
    """The (statement, parameters) pairs whose SQL contains `needle`, sent while the block runs."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if needle in statement:
            seen.append((statement, parameters))

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


async def plan_of(db: Database, statement: str, parameters: Any) -> str:
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        cursor = await raw.driver_connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        rows = await cursor.fetchall()
    return " | ".join(str(row[-1]) for row in rows)


async def test_duplicate_checks_use_the_live_fingerprint_index(seeded_db: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the plan depends on SQLite's partial-index rule; PostgreSQL plans on statistics")
    await create_source(seeded_db, "Plan test source", doi="10.1234/plan-test")
    with captured(seeded_db, "fingerprint") as seen:
        await create_claims(
            seeded_db,
            [
                ClaimSpec(
                    statement="IL-6R blockade lowers relapse rate.",
                    source="10.1234/plan-test",
                    target="IL-6R",
                )
            ],
            status=ClaimStatus.DRAFT,
        )
    checks = [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
    assert checks, "createClaim sent no duplicate check on fingerprint"
    for sql, params in checks:
        plan = await plan_of(seeded_db, sql, params)
        assert "uq_claim_live_fingerprint" in plan, (
            f"duplicate check does not use the partial index: {plan}\n{sql}"
        )


async def test_claim_is_live_writes_the_statuses_into_the_sql() -> None:
    from schema.tables import Claim, claim_is_live

    compiled = (
        sa.select(Claim.id)
        .where(claim_is_live())
        .compile(dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True})
    )
    assert "claim.status IN ('DRAFT', 'SUBMITTED', 'ACCEPTED')" in str(compiled)
    assert not compiled.params


def test_the_questions_page_reads_the_participating_claims_once_on_postgresql() -> None:
    """The questions page aggregates the participating claims three times (direction counts, the
    direct groups on either side): inlined, PostgreSQL read and joined a hot target's 200,000
    claims for each (Q2: 3.1 s instead of 0.85 s at 1M). The pair statements keep it inlined, for
    their index look-ups."""
    from sqlalchemy.dialects import postgresql

    from api.store.queries.conflicts import Scope, _questions_statement, participating
    from schema.enums import ClaimStatus as Status
    from schema.visibility import ClaimVisibility

    vis = ClaimVisibility(frozenset({Status.ACCEPTED}), frozenset(), None)  # an anonymous reader
    scope = Scope(target_id=1)

    def sql(statement: Any) -> str:
        if not isinstance(statement, sa.Select):
            statement = sa.select(statement)
        return str(statement.compile(dialect=postgresql.dialect()))

    assert "participating AS MATERIALIZED" in sql(_questions_statement(vis, scope, None))
    # Counting the questions reads them once: no need to store them.
    assert "participating AS NOT MATERIALIZED" in sql(_questions_statement(vis, scope, None, count_only=True))
    pairs_source = participating(vis, scope, [(1, 2)])
    assert "participating AS NOT MATERIALIZED" in sql(sa.select(pairs_source.c.claim_id))


async def test_a_summary_reads_its_cells_in_answer_order_without_a_sort(
    seeded_db: Database, backend: str
) -> None:
    """A hot target's summary has thousands of cells (5,861 for IL-6R at 1M); sorting them by
    count on every request was a third of its SQL. ix_claim_summary_order (migration 0010) hands
    them over in the answer's order."""
    if backend != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans on statistics")
    from api.store.queries.claims import ClaimFilterSpec
    from api.store.queries.summary import evidence_summary
    from api.store.resolve import lookup_id
    from schema.enums import Role, VocabularyKind
    from schema.users import Actor
    from schema.visibility import claim_visibility

    vis = claim_visibility(Actor(None, "anonymous", Role.READER))
    with captured(seeded_db, "claim_summary") as seen:
        async with seeded_db.read() as session:
            target_id = await lookup_id(session, VocabularyKind.TARGET, "IL-6R")
            cells, _total = await evidence_summary(session, target_id, ClaimFilterSpec(), vis)
    assert cells, "the seeds give IL-6R a summary"
    assert len(seen) == 1, f"one statement reads the summary: {seen}"
    plan = await plan_of(seeded_db, *seen[0])
    assert "ix_claim_summary_order" in plan and "TEMP B-TREE" not in plan, plan


async def test_the_walks_planner_settings_hold_for_it_and_are_put_back(db: Database, backend: str) -> None:
    """The direct pairs' walk sets three planner settings for itself and restores them after,
    two statements in all (api/store/queries/conflicts.py): within the transaction they must be
    what the walk wants, then what they were before."""
    if backend != "postgresql":
        pytest.skip("planner settings are PostgreSQL's")
    from api.store.queries.conflicts import _PLAN_AS_BEFORE, _PLAN_FOR_THE_WALK, _WALK_SETTINGS

    names = list(_WALK_SETTINGS)
    show = "SELECT " + ", ".join(f"current_setting('{name}')" for name in names)
    async with db.read() as session:
        connection = await session.connection()
        await connection.exec_driver_sql("SET LOCAL join_collapse_limit = 5")  # not the default
        original = tuple((await connection.exec_driver_sql(show)).one())
        before = (await connection.exec_driver_sql(_PLAN_FOR_THE_WALK)).one()[: len(names)]
        assert tuple(before) == original
        assert tuple((await connection.exec_driver_sql(show)).one()) == tuple(_WALK_SETTINGS.values())
        await connection.exec_driver_sql(_PLAN_AS_BEFORE, tuple(before))
        assert tuple((await connection.exec_driver_sql(show)).one()) == original
        assert original[names.index("join_collapse_limit")] == "5"
