"""The evidence summary of a target: how many visible claims say each direction, by condition
and outcome, read at target level (an inhibitor's effect turned over, schema.bearing)."""

from __future__ import annotations

from dataclasses import fields
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.queries.claims import ClaimFilterSpec, filter_conditions, resolve_filter_name
from api.store.queries.maintained import corrections, counted_statuses, none_if, retracted_source_ids
from api.store.queries.standing import from_retracted_source
from schema.enums import VocabularyKind
from schema.tables import Claim, ClaimCell, ClaimSummary, ClaimTarget, ConditionLineage
from schema.visibility import ClaimVisibility


class SummaryCell(NamedTuple):
    """One cell, for the resolvers. The store hands cells over as plain tuples in these fields'
    order (`PackedCell`): a hot target's summary has thousands, and the compiled path reads them
    by position without making an object of each."""

    condition_id: int | None
    outcome_id: int
    direction: str
    count: int


# (condition_id, outcome_id, direction, count), as SummaryCell names them.
PackedCell = tuple[Any, ...]


async def evidence_summary(
    session: AsyncSession, target_id: int, spec: ClaimFilterSpec, vis: ClaimVisibility
) -> tuple[list[PackedCell], int]:
    """Cells of (condition, outcome, target-level direction) with counts, and the total number
    of matching claims bearing on the target. Claims whose intervention only binds or modulates
    the target have no target-level direction: they count in the total, in no cell."""
    if _counted_in_cells(spec):
        return await _summary_from_cells(session, target_id, spec, vis)
    where = await filter_conditions(session, spec, vis)
    if not spec.include_retracted:  # a retracted source's claims leave summaries
        where.append(sa.not_(from_retracted_source(Claim.source_id)))
    bearing = sa.select(ClaimTarget.claim_id, ClaimTarget.target_direction).where(
        ClaimTarget.target_id == target_id
    )
    bearing_sq = bearing.subquery()
    joined = sa.select(Claim.condition_id, Claim.outcome_id, bearing_sq.c.target_direction).join(
        bearing_sq, bearing_sq.c.claim_id == Claim.id
    )
    cells_sq = joined.where(*where).subquery()
    statement = (
        sa.select(
            cells_sq.c.condition_id,
            cells_sq.c.outcome_id,
            cells_sq.c.target_direction,
            sa.func.count().label("n"),
        )
        .group_by(cells_sq.c.condition_id, cells_sq.c.outcome_id, cells_sq.c.target_direction)
        # A total order, the same on both databases: ties in count must not come back in
        # whatever order the GROUP BY happened to produce (PostgreSQL and SQLite differ, and so do
        # runs), and NULL (no condition) sorts first on both (PostgreSQL would put it last).
        .order_by(
            sa.func.count().desc(),
            cells_sq.c.outcome_id,
            cells_sq.c.condition_id.asc().nulls_first(),
            cells_sq.c.target_direction,
        )
    )
    return await _packed(session, statement)


# The filter fields claim_cell is keyed by: a summary filtered by these alone is read from it.
_CELL_FIELDS = frozenset({"condition", "organism", "outcome", "modality", "status", "include_retracted"})


def _counted_in_cells(spec: ClaimFilterSpec) -> bool:
    return all(getattr(spec, f.name) is None for f in fields(spec) if f.name not in _CELL_FIELDS)


async def _summary_from_cells(
    session: AsyncSession, target_id: int, spec: ClaimFilterSpec, vis: ClaimVisibility
) -> tuple[list[PackedCell], int]:
    """The summary from the maintained cells (about as many rows as the answer has cells,
    whatever the target's claims): the viewer's statuses, plus their own unpublished claims, less
    retracted sources' claims."""
    ids: dict[str, int] = {}
    for name, kind in (
        ("condition", VocabularyKind.CONDITION),
        ("organism", VocabularyKind.ORGANISM),
        ("outcome", VocabularyKind.OUTCOME),
    ):
        if getattr(spec, name) is not None:
            ids[name] = await resolve_filter_name(session, kind, getattr(spec, name), ("filter", name))
    statuses = [s.value for s in spec.status] if spec.status is not None else None
    modalities = [m.value for m in spec.modality] if spec.modality is not None else None

    # The summary's own grain unless it is narrowed by what only claim_cell keeps.
    cell: Any = ClaimCell if "organism" in ids or modalities is not None else ClaimSummary
    counted = counted_statuses(vis, live_only=False)
    # Key columns as stored (0 / '' for none; schema.tables), so that a summary read from one
    # status is grouped in the primary key's order, without sorting; NULL again only at the end.
    aggregated = sa.select(cell.condition_id, cell.outcome_id, cell.direction, cell.n).where(
        cell.target_id == target_id, cell.status.in_(counted)
    )
    claims = (
        sa.select(
            sa.func.coalesce(Claim.condition_id, 0).label("condition_id"),
            Claim.outcome_id.label("outcome_id"),
            sa.func.coalesce(ClaimTarget.target_direction, "").label("direction"),
        )
        .join(ClaimTarget, ClaimTarget.claim_id == Claim.id)
        .where(ClaimTarget.target_id == target_id)
    )
    aggregated = aggregated.where(*_narrowed(cell, ids, statuses, modalities))
    claims = claims.where(*_narrowed(Claim, ids, statuses, modalities))

    parts: list[sa.Select] = [aggregated]
    retracted = await retracted_source_ids(session)
    for seen, weight in corrections(vis, bool(spec.include_retracted), retracted, live_only=False):
        parts.append(claims.add_columns(sa.literal(weight).label("n")).where(seen))
    read = set(counted) & set(statuses if statuses is not None else counted)
    if cell is ClaimSummary and len(parts) == 1 and len(read) == 1:
        # Rows of one status of claim_summary are the cells already: nothing to add up.
        grouped = aggregated.where(cell.n > 0).subquery("grouped")
    else:
        u = (sa.union_all(*parts) if len(parts) > 1 else aggregated).subquery("cells")
        n = sa.func.sum(u.c.n)
        grouped = (
            sa.select(u.c.condition_id, u.c.outcome_id, u.c.direction, n.label("n"))
            .group_by(u.c.outcome_id, u.c.condition_id, u.c.direction)
            .having(n > 0)
            .subquery("grouped")
        )
    g = grouped.c
    statement = sa.select(
        none_if(g.condition_id, 0, "condition_id"), g.outcome_id, none_if(g.direction, "", "direction"), g.n
    ).order_by(
        # The order of the claim-by-claim summary above (its comment says why); 0, no
        # condition, sorts first as NULL does there. It is ix_claim_summary_order's: rows of one
        # status come out of that index in this order, unsorted.
        g.n.desc(),
        g.outcome_id,
        g.condition_id,
        g.direction,
    )
    return await _packed(session, statement)


def _narrowed(
    table: Any, ids: dict[str, int], statuses: list[str] | None, modalities: list[str] | None
) -> list[sa.ColumnElement[bool]]:
    """The filter's conditions over claim_cell or claim (both name these columns alike)."""
    out = []
    if "condition" in ids:
        out.append(table.condition_id.in_(_within(ids["condition"])))
    if "organism" in ids:
        out.append(table.organism_id == ids["organism"])
    if "outcome" in ids:
        out.append(table.outcome_id == ids["outcome"])
    if statuses is not None:
        out.append(table.status.in_(statuses))
    if modalities is not None:
        out.append(table.modality.in_(modalities))
    return out


def _within(condition_id: int) -> sa.Select:
    lineage = ConditionLineage
    return sa.select(lineage.descendant_id).where(lineage.ancestor_id == condition_id)


async def _packed(session: AsyncSession, statement: sa.Select) -> tuple[list[PackedCell], int]:
    """The cells of `statement` (condition, outcome, direction, count; ordered), and the total
    of all its counts. Rows without a target-level direction count in the total only.

    Read as one row holding a column of each field (an array the database builds), not as a row
    per cell: fetching 5,861 rows through the driver and SQLAlchemy cost about a microsecond each,
    and making them into objects as much again (bench Q3). PostgreSQL's arrays come back as
    lists (asyncpg decodes them); SQLite builds JSON arrays, which orjson reads.

    Both databases aggregate the subquery's rows in the order it returns them: a subquery with
    ORDER BY is not flattened into an aggregate query (SQLite runs it as a co-routine, row by
    row; PostgreSQL reads it from ix_claim_summary_order or sorts it, then aggregates), and
    separate ORDER BYs inside four aggregates would sort the cells four times.
    tests/test_aggregates.py compares the order with the claim-by-claim summary's on both."""
    rows = statement.subquery("ordered")
    column = sa.func.array_agg if session.bind.dialect.name == "postgresql" else sa.func.json_group_array
    # Every row, the few without a direction too: they are dropped below, in Python, because
    # a FILTER on the aggregates made SQLite's statement half as slow again.
    # Untyped (NullType): SQLAlchemy would otherwise copy each array element by element in
    # Python (its ARRAY result processing); the drivers' values are what is wanted.
    packed = sa.select(*(column(field, type_=sa.types.NullType()) for field in rows.c))
    # On the connection: one row, without the ORM's loading.
    columns = (await (await session.connection()).execute(packed)).one()
    if columns[0] is None:  # PostgreSQL: no rows (SQLite's arrays are then "[]")
        return [], 0
    if isinstance(columns[0], str):
        columns = tuple(orjson.loads(text) for text in columns)
    # Rows with a direction (a name, never empty), kept in C: no Python loop over the cells.
    return list(filter(_DIRECTED, zip(*columns, strict=True))), int(sum(columns[3]))


_DIRECTED = itemgetter(2)
