"""The evidence summary of a target: how many visible claims say each direction, by condition
and outcome, read at target level (an inhibitor's effect turned over, schema.bearing)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.queries.claims import ClaimFilterSpec, filter_conditions
from api.store.queries.standing import from_retracted_source
from schema.tables import Claim, ClaimTarget
from schema.visibility import ClaimVisibility


@dataclass(frozen=True)
class SummaryCell:
    condition_id: int | None
    outcome_id: int
    direction: str
    count: int


async def evidence_summary(
    session: AsyncSession, target_id: int, spec: ClaimFilterSpec, vis: ClaimVisibility
) -> tuple[list[SummaryCell], int]:
    """Cells of (condition, outcome, target-level direction) with counts, and the total number
    of matching claims bearing on the target. Claims whose intervention only binds or modulates
    the target have no target-level direction: they count in the total, in no cell."""
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
    cells: list[SummaryCell] = []
    total = 0
    for condition_id, outcome_id, direction, n in (await session.execute(statement)).all():
        total += n
        if direction is not None:
            cells.append(SummaryCell(condition_id, outcome_id, direction, n))
    return cells, total
