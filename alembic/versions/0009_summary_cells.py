"""maintained summary cells and question counts; context groups by first claim

claim_summary (schema.tables.ClaimSummary) counts claim_target ⋈ claim by target, status,
outcome, condition and target-level direction, kept by the same triggers as claim_cell and
claim_group (api/store/aggregate_triggers.py, which now describe three aggregates) and filled
from the existing claims. An evidence summary filtered by neither organism nor modality reads
it: a hot target's summary in as many rows as its cells, in key order.

claim_question (schema.tables.ClaimQuestion) counts them by target, outcome, status, modality
and direction: a target's conflict questions, counted without reading claim_cell's rows.

And an index on claim_group by first claim (ix_claim_group_first), through which a question's
first DIRECT conflict pairs are found without reading every context group of the question.

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
NEW = (triggers.SUMMARY, triggers.QUESTIONS)
AFTER = (*BEFORE, *NEW)


def _replace_triggers(aggregates: tuple[triggers.Aggregate, ...]) -> None:
    dialect = op.get_bind().dialect.name
    for table in triggers.TABLES:
        for statement in [*triggers.drops(dialect, table), *triggers.triggers(dialect, table, aggregates)]:
            op.execute(statement)


def upgrade() -> None:
    for agg in NEW:
        triggers.create_table(op, agg)
        op.execute(triggers.backfill(agg))
    _replace_triggers(AFTER)
    op.create_index("ix_claim_group_first", "claim_group", ["target_id", "outcome_id", "status", "first_id"])


def downgrade() -> None:
    op.drop_index("ix_claim_group_first", table_name="claim_group")
    _replace_triggers(BEFORE)
    for agg in NEW:
        op.drop_table(agg.table)
