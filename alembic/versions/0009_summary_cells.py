"""maintained summary cells: the evidence summary's own grain

claim_summary (schema.tables.ClaimSummary) counts claim_target ⋈ claim by target, status,
outcome, condition and target-level direction, kept by the same triggers as claim_cell and
claim_group (api/store/aggregate_triggers.py, which now describe three aggregates) and filled
from the existing claims. An evidence summary filtered by neither organism nor modality reads
it: a hot target's summary in as many rows as its cells, in key order.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from api.store import aggregate_triggers as triggers

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The aggregates kept before and after this revision.
BEFORE = (triggers.CELLS, triggers.GROUPS)
AFTER = (*BEFORE, triggers.SUMMARY)


def _replace_triggers(aggregates: tuple[triggers.Aggregate, ...]) -> None:
    dialect = op.get_bind().dialect.name
    for table in triggers.TABLES:
        for statement in [*triggers.drops(dialect, table), *triggers.triggers(dialect, table, aggregates)]:
            op.execute(statement)


def upgrade() -> None:
    triggers.create_table(op, triggers.SUMMARY)
    op.execute(triggers.backfill(triggers.SUMMARY))
    _replace_triggers(AFTER)


def downgrade() -> None:
    _replace_triggers(BEFORE)
    op.drop_table(triggers.SUMMARY.table)
