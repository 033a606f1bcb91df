"""search terms for typeahead

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00

Every name something can be found by, in one table (`search_term`), written by triggers on the
tables that hold names: the five alias tables (labels and aliases), the three cross-reference
tables (CURIEs), organisms (their NCBITaxon CURIE) and sources (title, DOI, PMID). Indexed for
substring and similarity matches: an external-content FTS5 table with the trigram tokenizer on
SQLite, a pg_trgm GIN index on PostgreSQL (the extension is created if missing). Existing names
are copied in on upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from api.store import search_triggers as triggers

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLE = "search_term_fts"
PG_INDEX = "ix_search_term_trgm"
# Prefix look-ups compare keys byte by byte (COLLATE "C"), whatever the database's collation.
PG_KEY_INDEX = "ix_search_term_key_c"


def upgrade() -> None:
    op.create_table(
        "search_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=1000), nullable=False),
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_term")),
    )
    op.create_index("ix_search_term_key", "search_term", ["key"], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
            "term, content='search_term', content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            f"CREATE TRIGGER search_term_ai AFTER INSERT ON search_term BEGIN "
            f"INSERT INTO {FTS_TABLE}(rowid, term) VALUES (new.id, new.term); END"
        )
        op.execute(
            f"CREATE TRIGGER search_term_ad AFTER DELETE ON search_term BEGIN "
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, term) VALUES ('delete', old.id, old.term); END"
        )
        for table in triggers.TABLES:
            for statement in triggers.sqlite_triggers(table):
                op.execute(statement)
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX {PG_INDEX} ON search_term USING gin (term gin_trgm_ops)")
        op.execute(f'CREATE INDEX {PG_KEY_INDEX} ON search_term (key COLLATE "C")')
        for table in triggers.TABLES:
            for statement in triggers.postgresql_triggers(table):
                op.execute(statement)
    for table in triggers.TABLES:
        for statement in triggers.backfill(table):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in triggers.TABLES:
            for statement in triggers.sqlite_drops(table):
                op.execute(statement)
        for trigger in ("search_term_ai", "search_term_ad"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif dialect == "postgresql":
        for table in triggers.TABLES:
            for statement in triggers.postgresql_drops(table):
                op.execute(statement)
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute(f"DROP INDEX IF EXISTS {PG_KEY_INDEX}")
    op.drop_index("ix_search_term_key", table_name="search_term")
    op.drop_table("search_term")
