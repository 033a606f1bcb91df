"""claim text search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:45:00

The searchable text of each claim (statement and quotes) in `claim_search`, indexed natively:
an external-content FTS5 table with sync triggers on SQLite, a GIN index over the English
tsvector on PostgreSQL. Existing claims are indexed on upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Names the autogenerate comparison must leave alone (see alembic/env.py).
FTS_TABLE = "claim_fts"
PG_INDEX = "ix_claim_search_tsv"


def upgrade() -> None:
    op.create_table(
        "claim_search",
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_claim_search_claim_id_claim"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claim_search")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
            "document, content='claim_search', content_rowid='claim_id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            f"CREATE TRIGGER claim_search_ai AFTER INSERT ON claim_search BEGIN "
            f"INSERT INTO {FTS_TABLE}(rowid, document) VALUES (new.claim_id, new.document); END"
        )
        op.execute(
            f"CREATE TRIGGER claim_search_ad AFTER DELETE ON claim_search BEGIN "
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, document) "
            f"VALUES ('delete', old.claim_id, old.document); END"
        )
        op.execute(
            f"CREATE TRIGGER claim_search_au AFTER UPDATE ON claim_search BEGIN "
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, document) "
            f"VALUES ('delete', old.claim_id, old.document); "
            f"INSERT INTO {FTS_TABLE}(rowid, document) VALUES (new.claim_id, new.document); END"
        )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE INDEX {PG_INDEX} ON claim_search USING gin (to_tsvector('english'::regconfig, document))"
        )
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    claims = bind.execute(sa.text("SELECT id, statement FROM claim ORDER BY id")).all()
    if not claims:
        return
    quotes: dict[int, list[str]] = {}
    for claim_id, quote in bind.execute(
        sa.text("SELECT claim_id, quote FROM evidence ORDER BY claim_id, position")
    ):
        quotes.setdefault(claim_id, []).append(quote)
    rows = [
        {"claim_id": cid, "document": "\n".join([statement, *quotes.get(cid, [])])}
        for cid, statement in claims
    ]
    bind.execute(sa.text("INSERT INTO claim_search (claim_id, document) VALUES (:claim_id, :document)"), rows)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("claim_search_ai", "claim_search_ad", "claim_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    op.drop_table("claim_search")
