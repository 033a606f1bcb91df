"""The triggers that keep `search_term` (schema.tables.SearchTerm) in step with every table that
holds names: the five alias tables, the three cross-reference tables, organisms and sources.

Made by migration 0004; kept here because a later migration that rebuilds one of these tables
on SQLite (batch mode copies the table, and the copy has no triggers) must make its triggers
again (`sqlite_triggers`).
"""

from __future__ import annotations

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


TABLES = [t for t, _, _ in ALIASES + XREFS] + ["organism", "source"]


def sqlite_triggers(table: str) -> list[str]:
    """CREATE TRIGGER statements of one table (SQLite)."""
    inserts = "; ".join(_inserts("new", table))
    return [
        f"CREATE TRIGGER {table}_terms_ai AFTER INSERT ON {table} BEGIN {inserts}; END",
        f"CREATE TRIGGER {table}_terms_ad AFTER DELETE ON {table} BEGIN {_delete('old', table)}; END",
        f"CREATE TRIGGER {table}_terms_au AFTER UPDATE{_watched(table)} ON {table} BEGIN "
        f"{_delete('old', table)}; {inserts}; END",
    ]


def sqlite_drops(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_terms_{suffix}" for suffix in ("ai", "ad", "au")]


def postgresql_triggers(table: str) -> list[str]:
    """The trigger function and trigger of one table (PostgreSQL)."""
    inserts = ";\n    ".join(_inserts("NEW", table))
    return [
        f"CREATE FUNCTION {table}_terms() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        f"  IF TG_OP IN ('DELETE', 'UPDATE') THEN {_delete('OLD', table)}; END IF;\n"
        f"  IF TG_OP IN ('INSERT', 'UPDATE') THEN {inserts}; END IF;\n"
        "  RETURN NULL;\n"
        "END $$",
        f"CREATE TRIGGER {table}_terms AFTER INSERT OR DELETE OR UPDATE{_watched(table)} "
        f"ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_terms()",
    ]


def postgresql_drops(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_terms ON {table}", f"DROP FUNCTION IF EXISTS {table}_terms()"]


def backfill(table: str) -> list[str]:
    """INSERT ... SELECT statements copying the names a table holds now."""
    return [insert.replace(" WHERE ", f" FROM {table} WHERE ") for insert in _inserts(table, table)]
