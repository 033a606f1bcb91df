"""The triggers that keep the maintained aggregates (schema.tables.ClaimCell, ClaimGroup) equal to
counts over claim_target ⋈ claim, on SQLite and PostgreSQL, from one description.

An aggregate row counts the (claim, target) rows whose key expressions (AGGREGATES below) give its
key. Every change to either side moves rows between keys, so each trigger takes the changed rows
out of the keys they had (SUBTRACT) and adds them to the keys they have now (ADD):
- claim_target INSERT / DELETE / UPDATE: the row, with its claim as it is now;
- claim UPDATE of a key column: each of its claim_target rows, with the claim's old values out
  and its new values in.
Claims are never deleted (a claim is rejected or retracted instead), so claim DELETE needs no
trigger; `claimsdb db check` would report it if one were.

A group's smallest claim id is kept too: min() on the way in; when the claim leaving a group was
its smallest, the next one is found among the group's claims (an indexed walk of the target's
claim_target rows from that id on; it happens only to a group's oldest claim).

Made by migrations 0008 (cells, groups) and 0009 (summary cells, question counts); kept here because a later
migration that rebuilds claim or claim_target on SQLite (batch mode copies the table, without its
triggers) must make them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class Aggregate:
    table: str
    # (column, SQL over {ct} (a claim_target row) and {c} (its claim)), the primary key in order.
    keys: tuple[tuple[str, str], ...]
    # Which (claim, target) rows it counts (SQL over {ct}, {c}), or None: all of them.
    only: str | None = None
    # Whether it keeps the smallest claim id of each key (`first_id`).
    first_id: bool = False


_TARGET = ("target_id", "{ct}.target_id")
_OUTCOME = ("outcome_id", "{c}.outcome_id")
_CONDITION = ("condition_id", "coalesce({c}.condition_id, 0)")
_ORGANISM = ("organism_id", "{c}.organism_id")
_MODALITY = ("modality", "{c}.modality")
_DIRECTION = ("direction", "coalesce({ct}.target_direction, '')")
_STATUS = ("status", "{c}.status")

# Key order is read order: a target's rows of one status are together (a reader sees a few
# statuses), and a group's question (target, outcome) comes first.
CELLS = Aggregate("claim_cell", (_TARGET, _STATUS, _OUTCOME, _CONDITION, _ORGANISM, _MODALITY, _DIRECTION))
GROUPS = Aggregate(
    "claim_group",
    (
        _TARGET,
        _OUTCOME,
        _STATUS,
        _DIRECTION,
        _ORGANISM,
        _CONDITION,
        ("cohort_id", "coalesce({c}.cohort_id, 0)"),
        ("sample_type", "coalesce({c}.sample_type, '')"),
        ("evidence_type", "{c}.evidence_type"),
        ("intervention_id", "coalesce({c}.subject_intervention_id, 0)"),
        _MODALITY,
    ),
    only="{ct}.target_direction IS NOT NULL",
    first_id=True,
)
# The evidence summary's own grain (what a summary without organism or modality filters counts):
# a hot target's cells in a few thousand rows, read in key order without regrouping claim_cell's
# several organisms and modalities per cell (made by migration 0009).
SUMMARY = Aggregate("claim_summary", (_TARGET, _STATUS, _OUTCOME, _CONDITION, _DIRECTION))
# A conflict question's direction counts (per status and modality): the questions of a target
# counted in a dozen rows each instead of claim_cell's hundreds (migration 0009).
QUESTIONS = Aggregate(
    "claim_question",
    (_TARGET, _OUTCOME, _STATUS, _MODALITY, _DIRECTION),
    only="{ct}.target_direction IS NOT NULL",
)
AGGREGATES = (CELLS, GROUPS, SUMMARY, QUESTIONS)

# The text key columns' lengths, as in schema.tables (the claim columns they copy).
_LENGTHS = {"modality": 32, "direction": 16, "status": 32, "sample_type": 100, "evidence_type": 32}


def table_columns(agg: Aggregate) -> list[sa.Column]:
    """The aggregate table's columns as its migration creates them (schema.tables declares the
    same): the key, NOT NULL, then n and first_id."""
    keys = [
        sa.Column(name, sa.String(_LENGTHS[name]) if name in _LENGTHS else sa.Integer(), nullable=False,
                  autoincrement=False)
        for name, _ in agg.keys
    ]  # fmt: skip
    extra = [sa.Column("first_id", sa.Integer(), nullable=False)] if agg.first_id else []
    return [*keys, sa.Column("n", sa.Integer(), nullable=False), *extra]


def create_table(operations: Any, agg: Aggregate) -> None:
    """Create the aggregate's table (`operations`: alembic's op, in a migration)."""
    operations.create_table(
        agg.table,
        *table_columns(agg),
        sa.PrimaryKeyConstraint(*[name for name, _ in agg.keys], name=operations.f(f"pk_{agg.table}")),
        # SQLite stores the rows in key order: a target's rows of one status are read together.
        sqlite_with_rowid=False,
    )


# The claim columns some key reads: an UPDATE of another column moves nothing.
CLAIM_KEY_COLUMNS = (
    "outcome_id",
    "condition_id",
    "organism_id",
    "modality",
    "status",
    "cohort_id",
    "sample_type",
    "evidence_type",
    "subject_intervention_id",
)


@dataclass(frozen=True)
class Rows:
    """Where the moved (claim, target) rows come from: a FROM clause and WHERE condition in which
    `ct` and `c` name the claim_target row and the claim (a table alias, or NEW / OLD)."""

    ct: str
    c: str
    from_: str
    where: str


def _exprs(agg: Aggregate, rows: Rows) -> list[str]:
    return [expr.format(ct=rows.ct, c=rows.c) for _, expr in agg.keys]


def _condition(agg: Aggregate, rows: Rows) -> str:
    only = f" AND {agg.only.format(ct=rows.ct, c=rows.c)}" if agg.only else ""
    return f"{rows.where}{only}"


def _min(dialect: str) -> str:
    return "min" if dialect == "sqlite" else "LEAST"  # SQLite's two-argument min() is LEAST


def add(agg: Aggregate, rows: Rows, dialect: str) -> str:
    """INSERT the rows' keys, or count them in where the key is there already."""
    columns = [name for name, _ in agg.keys]
    values = _exprs(agg, rows)
    extra_columns, extra_values, extra_set = "", "", ""
    if agg.first_id:
        extra_columns, extra_values = ", first_id", f", {rows.ct}.claim_id"
        extra_set = f", first_id = {_min(dialect)}({agg.table}.first_id, excluded.first_id)"
    return (
        f"INSERT INTO {agg.table} ({', '.join(columns)}, n{extra_columns}) "
        f"SELECT {', '.join(values)}, 1{extra_values} FROM {rows.from_} WHERE {_condition(agg, rows)} "
        f"ON CONFLICT ({', '.join(columns)}) DO UPDATE SET n = {agg.table}.n + excluded.n{extra_set}"
    )


def _next_first_id(agg: Aggregate) -> str:
    """The smallest claim id still counted in the aggregate row being updated (0 if none)."""
    row = Rows("nct", "nc", "", "")
    matches = " AND ".join(
        f"{expr} = {agg.table}.{name}" for (name, _), expr in zip(agg.keys, _exprs(agg, row), strict=True)
    )
    return (
        "coalesce((SELECT min(nct.claim_id) FROM claim_target nct JOIN claim nc ON nc.id = nct.claim_id "
        f"WHERE nct.target_id = {agg.table}.target_id AND nct.claim_id > {agg.table}.first_id "
        f"AND {_condition(agg, row).removeprefix(' AND ')} AND {matches}), 0)"
    )


def subtract(agg: Aggregate, rows: Rows) -> list[str]:
    """Count the rows out of their keys, and drop the keys that count nothing any more."""
    columns = [name for name, _ in agg.keys]
    moved = (
        f"SELECT {', '.join(f'{e} AS {n}' for n, e in zip(columns, _exprs(agg, rows), strict=True))}"
        f"{f', {rows.ct}.claim_id AS claim_id' if agg.first_id else ''} "
        f"FROM {rows.from_} WHERE {_condition(agg, rows)}"
    )
    first = ""
    if agg.first_id:
        first = (
            f", first_id = CASE WHEN {agg.table}.first_id = moved.claim_id "
            f"THEN {_next_first_id(agg)} ELSE {agg.table}.first_id END"
        )
    same_key = " AND ".join(f"{agg.table}.{n} = moved.{n}" for n in columns)
    return [
        f"UPDATE {agg.table} SET n = {agg.table}.n - 1{first} FROM ({moved}) AS moved WHERE {same_key}",
        # A row that counts nothing may go whatever its key, so each key column is matched on
        # its own (a superset of the moved keys): every column then narrows the primary key
        # search, where a row-value IN was searched on its first columns only (SQLite).
        f"DELETE FROM {agg.table} WHERE n <= 0 AND "
        + " AND ".join(
            f"{name} IN (SELECT {expr} FROM {rows.from_} WHERE {_condition(agg, rows)})"
            for name, expr in zip(columns, _exprs(agg, rows), strict=True)
        ),
    ]


# --- the triggers ---------------------------------------------------------------------------


def _target_row(row: str) -> Rows:
    """A claim_target row (NEW or OLD) with its claim as it is now."""
    return Rows(row, "c", "claim c", f"c.id = {row}.claim_id")


def _claim_rows(row: str) -> Rows:
    """A claim's claim_target rows, with the claim's values in `row` (NEW or OLD)."""
    return Rows("ct", row, "claim_target ct", f"ct.claim_id = {row}.id")


def _statements(dialect: str, aggregates: tuple[Aggregate, ...]) -> dict[str, list[str]]:
    """Per event, the statements its trigger runs, in order."""
    out: dict[str, list[str]] = {"ct_insert": [], "ct_delete": [], "ct_update": [], "claim_update": []}
    for agg in aggregates:
        out["ct_insert"].append(add(agg, _target_row("NEW"), dialect))
        out["ct_delete"].extend(subtract(agg, _target_row("OLD")))
        out["ct_update"].extend([*subtract(agg, _target_row("OLD")), add(agg, _target_row("NEW"), dialect)])
        out["claim_update"].extend(
            [*subtract(agg, _claim_rows("OLD")), add(agg, _claim_rows("NEW"), dialect)]
        )
    return out


def _changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


_CT_COLUMNS = ("target_id", "target_direction")
# (trigger name, event, table, WHEN condition or None, statements key)
_TRIGGERS = [
    ("claim_target_aggregates_ai", "INSERT", "claim_target", None, "ct_insert"),
    ("claim_target_aggregates_ad", "DELETE", "claim_target", None, "ct_delete"),
    ("claim_target_aggregates_au", "UPDATE", "claim_target", _CT_COLUMNS, "ct_update"),
    ("claim_aggregates_au", "UPDATE", "claim", CLAIM_KEY_COLUMNS, "claim_update"),
]
TABLES = ("claim", "claim_target")


def sqlite_triggers(table: str, aggregates: tuple[Aggregate, ...] = AGGREGATES) -> list[str]:
    """CREATE TRIGGER statements of one table (SQLite)."""
    statements = _statements("sqlite", aggregates)
    out = []
    for name, event, on, watched, key in _TRIGGERS:
        if on != table:
            continue
        of = f" OF {', '.join(watched)}" if watched else ""
        # SQLite has IS NOT where PostgreSQL has IS DISTINCT FROM.
        when = f" WHEN {_changed(watched).replace('IS DISTINCT FROM', 'IS NOT')}" if watched else ""
        body = "; ".join(statements[key])
        out.append(f"CREATE TRIGGER {name} AFTER {event}{of} ON {on} FOR EACH ROW{when} BEGIN {body}; END")
    return out


def sqlite_drops(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name, _, on, _, _ in _TRIGGERS if on == table]


def postgresql_triggers(table: str, aggregates: tuple[Aggregate, ...] = AGGREGATES) -> list[str]:
    """The trigger functions and triggers of one table (PostgreSQL)."""
    statements = _statements("postgresql", aggregates)
    out = []
    for name, event, on, watched, key in _TRIGGERS:
        if on != table:
            continue
        body = ";\n  ".join(statements[key])
        out.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n  {body};\n  RETURN NULL;\nEND $$"
        )
        of = f" OF {', '.join(watched)}" if watched else ""
        when = f" WHEN ({_changed(watched)})" if watched else ""
        out.append(
            f"CREATE TRIGGER {name} AFTER {event}{of} ON {on} FOR EACH ROW{when} EXECUTE FUNCTION {name}()"
        )
    return out


def postgresql_drops(table: str) -> list[str]:
    out = []
    for name, _, on, _, _ in _TRIGGERS:
        if on == table:
            out += [f"DROP TRIGGER IF EXISTS {name} ON {on}", f"DROP FUNCTION IF EXISTS {name}()"]
    return out


def triggers(dialect: str, table: str, aggregates: tuple[Aggregate, ...] = AGGREGATES) -> list[str]:
    """`aggregates`: the ones to keep (a migration names those of its own revision)."""
    if dialect == "sqlite":
        return sqlite_triggers(table, aggregates)
    return postgresql_triggers(table, aggregates)


def drops(dialect: str, table: str) -> list[str]:
    return sqlite_drops(table) if dialect == "sqlite" else postgresql_drops(table)


def recount(agg: Aggregate, where: str = "1 = 1") -> str:
    """SELECT of every aggregate row as counted from the claims now (columns: keys, n[, first_id]),
    or from the (claim, target) rows `where` (over `ct` and `c`) picks."""
    rows = Rows("ct", "c", "claim_target ct JOIN claim c ON c.id = ct.claim_id", where)
    exprs = _exprs(agg, rows)
    named = ", ".join(f"{e} AS {n}" for (n, _), e in zip(agg.keys, exprs, strict=True))
    first = ", min(ct.claim_id) AS first_id" if agg.first_id else ""
    return (
        f"SELECT {named}, count(*) AS n{first} FROM {rows.from_} WHERE {_condition(agg, rows)} "
        f"GROUP BY {', '.join(exprs)}"
    )


def add_counted(agg: Aggregate, where: str, dialect: str) -> str:
    """Count the (claim, target) rows `where` picks into the aggregate in one statement, as the
    insert trigger would row by row (for a bulk insert that bypasses it)."""
    columns = [n for n, _ in agg.keys]
    first = f", first_id = {_min(dialect)}({agg.table}.first_id, excluded.first_id)" if agg.first_id else ""
    return (
        f"INSERT INTO {agg.table} ({', '.join(columns + ['n'] + (['first_id'] if agg.first_id else []))}) "
        f"{recount(agg, where)} "
        f"ON CONFLICT ({', '.join(columns)}) DO UPDATE SET n = {agg.table}.n + excluded.n{first}"
    )


def backfill(agg: Aggregate) -> str:
    """INSERT ... SELECT filling an empty aggregate table from the claims."""
    columns = [n for n, _ in agg.keys] + ["n"] + (["first_id"] if agg.first_id else [])
    return f"INSERT INTO {agg.table} ({', '.join(columns)}) {recount(agg)}"
