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

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLE = "search_term_fts"
PG_INDEX = "ix_search_term_trgm"
# Prefix look-ups compare keys byte by byte (COLLATE "C"), whatever the database's collation.
PG_KEY_INDEX = "ix_search_term_key_c"

# (table, kind, owner column, name column, key expression over NEW/OLD as `{row}`)
ALIASES = [
    ("target_alias", "TARGET", "target_id"),
    ("intervention_alias", "INTERVENTION", "intervention_id"),
    ("condition_alias", "CONDITION", "condition_id"),
    ("organism_alias", "ORGANISM", "organism_id"),
    ("outcome_alias", "OUTCOME", "outcome_id"),
]
XREFS = [
    ("target_xref", "TARGET", "target_id"),
    ("intervention_xref", "INTERVENTION", "intervention_id"),
    ("condition_xref", "CONDITION", "condition_id"),
]


def _terms(row: str) -> dict[str, list[tuple[str, str, str, str]]]:
    """Per table, the (kind, entity id, term, key) rows one of its rows gives, as SQL over
    `row` (NEW or OLD); a NULL term gives no row."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for table, kind, owner in ALIASES:
        out[table] = [(kind, f"{row}.{owner}", f"{row}.alias", f"{row}.normalized")]
    for table, kind, owner in XREFS:
        out[table] = [(kind, f"{row}.{owner}", f"{row}.curie", f"lower({row}.curie)")]
    taxon = f"'NCBITaxon:' || {row}.taxon_id"
    out["organism"] = [("ORGANISM", f"{row}.id", taxon, f"lower({taxon})")]
    out["source"] = [
        ("SOURCE", f"{row}.id", f"{row}.title", f"lower({row}.title)"),
        ("SOURCE", f"{row}.id", f"{row}.doi", f"{row}.doi"),
        ("SOURCE", f"{row}.id", f"{row}.pmid", f"{row}.pmid"),
    ]
    return out


def _inserts(row: str, table: str) -> list[str]:
    return [
        "INSERT INTO search_term (kind, entity_id, term, key) "
        f"SELECT '{kind}', {entity}, {term}, {key} WHERE {term} IS NOT NULL"
        for kind, entity, term, key in _terms(row)[table]
    ]


def _delete(row: str, table: str) -> str:
    kind, entity, _, _ = _terms(row)[table][0]
    if table == "source" or table == "organism":
        return f"DELETE FROM search_term WHERE kind = '{kind}' AND entity_id = {entity}"
    _, _, term, _ = _terms(row)[table][0]
    return f"DELETE FROM search_term WHERE kind = '{kind}' AND entity_id = {entity} AND term = {term}"


def _watched(table: str) -> str:
    """The columns whose change rewrites a row's terms (sources: not their standing)."""
    return {"source": " OF title, doi, pmid", "organism": " OF taxon_id"}.get(table, "")


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
    tables = [t for t, _, _ in ALIASES + XREFS] + ["organism", "source"]
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
        for table in tables:
            inserts = "; ".join(_inserts("new", table))
            op.execute(f"CREATE TRIGGER {table}_terms_ai AFTER INSERT ON {table} BEGIN {inserts}; END")
            op.execute(
                f"CREATE TRIGGER {table}_terms_ad AFTER DELETE ON {table} BEGIN {_delete('old', table)}; END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_terms_au AFTER UPDATE{_watched(table)} ON {table} BEGIN "
                f"{_delete('old', table)}; {inserts}; END"
            )
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX {PG_INDEX} ON search_term USING gin (term gin_trgm_ops)")
        op.execute(f'CREATE INDEX {PG_KEY_INDEX} ON search_term (key COLLATE "C")')
        for table in tables:
            inserts = ";\n    ".join(_inserts("NEW", table))
            op.execute(
                f"CREATE FUNCTION {table}_terms() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                "BEGIN\n"
                f"  IF TG_OP IN ('DELETE', 'UPDATE') THEN {_delete('OLD', table)}; END IF;\n"
                f"  IF TG_OP IN ('INSERT', 'UPDATE') THEN {inserts}; END IF;\n"
                "  RETURN NULL;\n"
                "END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_terms AFTER INSERT OR DELETE OR UPDATE{_watched(table)} "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_terms()"
            )
    for table in tables:
        for insert in _inserts(table, table):
            op.execute(insert.replace(" WHERE ", f" FROM {table} WHERE "))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    tables = [t for t, _, _ in ALIASES + XREFS] + ["organism", "source"]
    if dialect == "sqlite":
        for table in tables:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_terms_{suffix}")
        for trigger in ("search_term_ai", "search_term_ad"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif dialect == "postgresql":
        for table in tables:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_terms ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_terms()")
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute(f"DROP INDEX IF EXISTS {PG_KEY_INDEX}")
    op.drop_index("ix_search_term_key", table_name="search_term")
    op.drop_table("search_term")
