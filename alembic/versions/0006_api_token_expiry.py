"""api token expiry

A token may be issued to expire (`claimsdb users token NAME --expires-in DAYS`); an expired token
is refused like a revoked one. Existing tokens do not expire.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 10:02:11.512306
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import schema.base
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", schema.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
