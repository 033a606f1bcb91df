"""an evidence summary's cells in answer order

ix_claim_summary_order covers claim_summary (schema.tables.ClaimSummary) in the order a summary
answers its cells: by count, largest first, then outcome, condition and direction. A hot target's
summary (5,861 cells for IL-6R at 1,000,000 claims) is then read in order from the index instead
of being sorted on every request; each write that changes a count moves one index entry.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_claim_summary_order",
        "claim_summary",
        ["target_id", "status", sa.text("n DESC"), "outcome_id", "condition_id", "direction"],
    )


def downgrade() -> None:
    op.drop_index("ix_claim_summary_order", table_name="claim_summary")
