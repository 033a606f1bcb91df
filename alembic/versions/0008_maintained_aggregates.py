"""maintained aggregates for conflicts and evidence summaries

Two tables counting claim_target ⋈ claim (schema.tables.ClaimCell, ClaimGroup), kept by
triggers on claim and claim_target (api/store/aggregate_triggers.py) in the transaction of every
write, and filled from the existing claims on upgrade; and an index on claim by context, through which
conflict pairs find a context group's claims.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from api.store import aggregate_triggers as triggers

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A context group's claims are found through this index (schema.tables.Claim).
CONTEXT_COLUMNS = (
    "outcome_id", "organism_id", "condition_id", "cohort_id", "sample_type", "evidence_type",
    "subject_intervention_id",
)  # fmt: skip
# This revision's aggregates (a later one adds to triggers.AGGREGATES).
AGGREGATES = (triggers.CELLS, triggers.GROUPS)


def upgrade() -> None:
    for agg in AGGREGATES:
        triggers.create_table(op, agg)
    op.create_index("ix_claim_context", "claim", list(CONTEXT_COLUMNS), unique=False)
    dialect = op.get_bind().dialect.name
    for agg in AGGREGATES:
        op.execute(triggers.backfill(agg))
    for table in triggers.TABLES:
        for statement in triggers.triggers(dialect, table, AGGREGATES):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in triggers.TABLES:
        for statement in triggers.drops(dialect, table):
            op.execute(statement)
    for agg in AGGREGATES:
        op.drop_table(agg.table)
    op.drop_index("ix_claim_context", table_name="claim")
