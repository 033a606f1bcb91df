"""Claim records as JSON Lines written by the database, for `claimsdb export --format jsonl` and
a release's claims.jsonl.

The lines are the records api/store/export.py builds (docs/records.md), byte for byte what orjson
writes of them (tests/test_export_lines.py holds the two routes to that on both databases). A
Python dict per claim and per quote cost most of an export's time, so here the database writes
each claim's line as text, and a whole chunk of lines as ONE text (group_concat / string_agg):
Python only writes bytes.

Each line is concatenated text rather than documents.py's json_object / json_build_object: a
record leaves out unset fields (those functions write null), and PostgreSQL's json_build_object
puts spaces after colons and commas, where orjson writes none. Text values are quoted by
json_quote (SQLite) or to_json (PostgreSQL), which escape exactly the characters orjson escapes,
the same way (the control characters, '"' and '\\'; everything else as UTF-8). Keys and enum
values are written into the SQL already quoted, as orjson quotes them.

Floats (a claim's statistics) are the exception: SQLite 3.40 writes 15 significant digits and
PostgreSQL its own exponent form, neither orjson's shortest round-trip text. The database writes
a marker byte (\\x01, which JSON text never holds unescaped) for each set float; a second
statement reads the chunk's floats as numbers, and orjson's text of them replaces the markers.

Chunks are id ranges, found by one scan of the ids, so that they can be read in any order: on
PostgreSQL a second connection reads every other chunk from the same snapshot
(snapshot_readers.py), and every reader reads ahead while the chunk before is written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.store.export import CHUNK, STATISTICS, VocabularyNames
from api.store.snapshot_readers import sharing_readers
from api.store.vocabularies import VOCABULARIES
from schema.enums import ClaimStatus, EvidenceType, Modality, Stance, VocabularyKind
from schema.tables import Claim

MARKER = b"\x01"
# Connections reading an export's snapshot besides the session's own (PostgreSQL only): two
# readers keep two server processes busy while this process writes.
HELPERS = 1
# The statistics' float columns, in record order: the database leaves their text to orjson.
_COLUMNS = Claim.__table__.c
_FLOATS = tuple(_COLUMNS[column] for column, _ in STATISTICS if isinstance(_COLUMNS[column].type, sa.Float))


class ExportError(RuntimeError):
    """The database holds a value a record cannot carry (a claim whose line came out NULL)."""


# The vocabularies a claim names, and the bound parameter that carries each one's names on
# PostgreSQL (see _Sql.name).
_NAMED = (VocabularyKind.TARGET, VocabularyKind.INTERVENTION, VocabularyKind.OUTCOME,
          VocabularyKind.ORGANISM, VocabularyKind.CONDITION)  # fmt: skip


def _parameter(kind: VocabularyKind) -> str:
    return f"{kind.value.lower()}_names"


@dataclass(frozen=True)
class _Sql:
    """SQL text for one dialect. A piece of a line is text, or NULL where the record leaves a
    field out; `concat` joins pieces skipping the NULLs."""

    sqlite: bool

    def quote(self, expression: str, nullable: bool = False) -> str:
        """`expression` (text) as a JSON string; NULL stays NULL (SQLite's json_quote would
        write null)."""
        if not self.sqlite:
            return f"to_json({expression})::text"
        if nullable:
            return f"(CASE WHEN {expression} IS NOT NULL THEN json_quote({expression}) END)"
        return f"json_quote({expression})"

    @staticmethod
    def number(expression: str) -> str:
        """`expression` (an integer) as a JSON number."""
        return f"CAST({expression} AS TEXT)"

    def char(self, code: int) -> str:
        return f"char({code})" if self.sqlite else f"chr({code})"

    def concat(self, pieces: Sequence[str]) -> str:
        """The pieces in order, NULLs skipped: PostgreSQL's concat() does that in one call
        (cheaper than a chain of ||); SQLite 3.40 has no concat()."""
        if self.sqlite:
            return "(" + " || ".join(f"coalesce({piece}, '')" for piece in pieces) + ")"
        return "concat(" + ", ".join(pieces) + ")"

    def name(self, kind: VocabularyKind, alias: str, key: str) -> str:
        """The name (JSON-quoted) of the `kind` row `key` refers to, NULL where `key` is NULL.
        SQLite joins the vocabulary table as `alias` (by rowid: cheap). PostgreSQL reads it from
        an array bound to the statement (Python quotes the names once, with orjson; the index
        is the id): a join per vocabulary made PostgreSQL plan for ~100 ms per chunk and
        probe a table per claim."""
        if self.sqlite:
            return self.quote(f"{alias}.{VOCABULARIES[kind].label_column}", nullable=True)
        return f"(CAST(:{_parameter(kind)} AS TEXT[]))[{key}]"

    def join_name(self, kind: VocabularyKind, alias: str, key: str) -> str:
        """The LEFT JOIN that `name` reads on SQLite (none on PostgreSQL)."""
        if not self.sqlite:
            return ""
        return f" LEFT JOIN {VOCABULARIES[kind].table.__tablename__} {alias} ON {alias}.id = {key}"


def _key(name: str, first: bool = False) -> str:
    """'"name":' as orjson writes it, preceded by a comma unless it opens the object."""
    return ("" if first else ",") + orjson.dumps(name).decode() + ":"


def _literal(text: str) -> str:
    if "'" in text:  # keys and enum values are identifiers; a quote would end the SQL literal
        raise ValueError(f"{text!r} cannot be written into SQL")
    return f"'{text}'"


def _field(name: str, value: str) -> str:
    """`,"name":value`; NULL where `value` is NULL (a record leaves unset fields out)."""
    return f"{_literal(_key(name))} || {value}"


def _enum(column: str, enum: type[Enum]) -> str:
    """The stored enum (its member's name) as the JSON string of its value, as records write it."""
    whens = " ".join(f"WHEN {_literal(m.name)} THEN {_literal(orjson.dumps(m.value).decode())}" for m in enum)
    return f"(CASE {column} {whens} END)"


def _reference(sql: _Sql, source: str) -> str:
    """api.store.export.source_reference: the DOI, else the PMID, else the id (empty text counts
    as unset, as Python's `or` has it)."""
    return (
        f"(CASE WHEN {source}.doi <> '' THEN {sql.quote(f'{source}.doi')}"
        f" WHEN {source}.pmid <> '' THEN {sql.quote(f'{source}.pmid')}"
        f" ELSE {sql.number(f'{source}.id')} END)"
    )


# (alias of the cohort, alias of its condition on SQLite), by record field
_COHORTS = {"cohort": ("co", "cod"), "comparator": ("cp", "cpd")}


def _cohort(sql: _Sql, name: str) -> str:
    """A cohort or comparator object (api.store.export._cohort_record), NULL without one. Every
    field is optional, so each begins with a comma and the first comma is cut off."""
    alias, condition = _COHORTS[name]
    fields = sql.concat([
        _field("label", sql.quote(f"{alias}.label", nullable=True)),
        _field("size", sql.number(f"{alias}.size")),
        _field("femaleCount", sql.number(f"{alias}.female_count")),
        _field("condition", sql.name(VocabularyKind.CONDITION, condition, f"{alias}.condition_id")),
        _field("treatmentStatus", sql.quote(f"{alias}.treatment_status", nullable=True)),
        _field("sampleType", sql.quote(f"{alias}.sample_type", nullable=True)),
    ])  # fmt: skip
    # No cohort: every field NULL, so nullif makes the whole piece NULL.
    return f"({_literal(_key(name) + '{')} || substr(nullif({fields}, ''), 2) || '}}')"


def _evidence(sql: _Sql) -> str:
    """The claim's quotes, comma-separated, in position order. A quote names its source only
    when it is not the claim's; that source is looked up only then."""
    other = f"(SELECT {_reference(sql, 'es')} FROM source es WHERE es.id = e.source_id)"
    item = sql.concat([
        _literal("{" + _key("quote", first=True)) + f" || {sql.quote('e.quote')}",
        _field("locator", sql.quote("e.locator", nullable=True)),
        _field("stance", _enum("e.stance", Stance)),
        f"(CASE WHEN e.source_id <> c.source_id THEN {_field('source', other)} END)",
        "'}'",
    ])  # fmt: skip
    if sql.sqlite:
        # SQLite 3.40 has no ORDER BY inside an aggregate; it keeps an ordered subquery's order
        # (documents.py relies on the same).
        return (
            f"coalesce((SELECT group_concat(item, ',') FROM (SELECT {item} AS item FROM evidence e"
            " WHERE e.claim_id = c.id ORDER BY e.position)), '')"
        )
    # ARRAY(... ORDER BY) keeps the order the index gives; string_agg(... ORDER BY) would sort
    # each claim's quotes on its own (a sort set up per claim).
    items = f"ARRAY(SELECT {item} FROM evidence e WHERE e.claim_id = c.id ORDER BY e.position)"
    return f"array_to_string({items}, ',')"


def _statistics_object(sql: _Sql) -> str:
    """The statistics object (api.store.export.statistics_record), NULL when none is set; each
    set float is a marker byte that _with_floats replaces by orjson's text of it."""
    floats = {column.key for column in _FLOATS}
    fields = sql.concat([
        _field(name, f"(CASE WHEN c.{column} IS NOT NULL THEN {sql.char(MARKER[0])} END)")
        if column in floats
        else _field(name, sql.quote(f"c.{column}", nullable=True))
        for column, name in STATISTICS
    ])  # fmt: skip
    return f"({_literal(_key('statistics') + '{')} || substr(nullif({fields}, ''), 2) || '}}')"


def _line(sql: _Sql) -> str:
    """One claim's record (api.store.export._claim_record, key for key), from the FROM of _lines."""
    return sql.concat([
        _literal("{" + _key("statement", first=True)) + f" || {sql.quote('c.statement')}",
        _field("source", _reference(sql, "s")),
        _field("target", sql.name(VocabularyKind.TARGET, "t", "c.subject_target_id")),
        _field("intervention", sql.name(VocabularyKind.INTERVENTION, "i", "c.subject_intervention_id")),
        _field("outcome", sql.name(VocabularyKind.OUTCOME, "o", "c.outcome_id")),
        _field("direction", sql.quote("c.direction")),
        _field("modality", _enum("c.modality", Modality)),
        _field("evidenceType", _enum("c.evidence_type", EvidenceType)),
        _field("organism", sql.name(VocabularyKind.ORGANISM, "g", "c.organism_id")),
        _field("condition", sql.name(VocabularyKind.CONDITION, "d", "c.condition_id")),
        _cohort(sql, "cohort"),
        _cohort(sql, "comparator"),
        _field("sampleType", sql.quote("c.sample_type", nullable=True)),
        _statistics_object(sql),
        f"{_literal(_key('evidence') + '[')} || {_evidence(sql)} || ']}}'",
    ])  # fmt: skip


def _from(sql: _Sql) -> str:
    out = "FROM claim c JOIN source s ON s.id = c.source_id"
    for kind, alias, key in (
        (VocabularyKind.TARGET, "t", "c.subject_target_id"),
        (VocabularyKind.INTERVENTION, "i", "c.subject_intervention_id"),
        (VocabularyKind.OUTCOME, "o", "c.outcome_id"),
        (VocabularyKind.ORGANISM, "g", "c.organism_id"),
        (VocabularyKind.CONDITION, "d", "c.condition_id"),
    ):
        out += sql.join_name(kind, alias, key)
    for alias, condition in _COHORTS.values():
        field = "cohort_id" if alias == "co" else "comparator_id"
        out += f" LEFT JOIN cohort {alias} ON {alias}.id = c.{field}"
        out += sql.join_name(VocabularyKind.CONDITION, condition, f"{alias}.condition_id")
    return out


@lru_cache(maxsize=2)
def _lines(dialect: str) -> sa.TextClause:
    """The claims with a status in :statuses and an id in (:after, :through], as one text: how
    many claims, how many lines (fewer when a line came out NULL), the lines in id order."""
    sql = _Sql(sqlite=dialect == "sqlite")
    page = (
        f"SELECT c.id AS id, {_line(sql)} AS line {_from(sql)}"
        " WHERE c.status IN :statuses AND c.id > :after AND c.id <= :through ORDER BY c.id"
    )
    newline = sql.char(ord("\n"))
    # Each line with its newline, so that Python need not copy the chunk to add the last one.
    joined = (
        f"CAST(group_concat(line || {newline}, '') AS BLOB)"
        if sql.sqlite
        else f"convert_to(string_agg(line || {newline}, '' ORDER BY id), 'UTF8')"
    )
    text = f"SELECT count(*), count(line), {joined} FROM ({page}) AS page"
    return sa.text(text).bindparams(sa.bindparam("statuses", expanding=True))


_BOUNDS = sa.text(
    "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM claim"
    " WHERE status IN :statuses) AS numbered WHERE n % :chunk = 0 ORDER BY id"
).bindparams(sa.bindparam("statuses", expanding=True))
_LAST = sa.text("SELECT max(id) FROM claim WHERE status IN :statuses").bindparams(
    sa.bindparam("statuses", expanding=True)
)


async def _chunks(connection: AsyncConnection, stored: list[str], chunk: int) -> list[tuple[int, int]]:
    """The id ranges (after, through] of `chunk` claims each (the last one fewer), from one
    scan of the ids: the ranges can then be read in any order, by several connections. (A
    range's two ints per `chunk` claims are all that grows with the claims.)"""
    parameters = {"statuses": stored, "chunk": chunk}
    ends = list((await connection.execute(_BOUNDS, parameters)).scalars())
    last = await connection.scalar(_LAST, {"statuses": stored})
    if last is not None and (not ends or ends[-1] < last):
        ends.append(last)
    return list(zip([0, *ends], ends, strict=False))


async def _name_arrays(session: AsyncSession) -> dict[str, list[str | None]]:
    """PostgreSQL's parameters for _Sql.name: per vocabulary, its names quoted by orjson at
    their id (PostgreSQL arrays count from 1)."""
    names = await VocabularyNames.read(session)
    out: dict[str, list[str | None]] = {}
    for kind in _NAMED:
        by_id = names.by_kind[kind]
        array: list[str | None] = [None] * max(by_id, default=0)
        for id_, name in by_id.items():
            array[id_ - 1] = orjson.dumps(name).decode()
        out[_parameter(kind)] = array
    return out


def _floats(statuses: Sequence[ClaimStatus], after: int, last: int) -> sa.Select[Any]:
    """The statistics' floats of a chunk's claims that have any, in claim id order."""
    return (
        sa.select(*_FLOATS)
        .where(Claim.id > after, Claim.id <= last, Claim.status.in_(list(statuses)))
        .where(sa.or_(*(column.is_not(None) for column in _FLOATS)))
        .order_by(Claim.id)
    )


async def claim_lines(
    session: AsyncSession,
    statuses: Sequence[ClaimStatus] = (ClaimStatus.ACCEPTED,),
    chunk: int = CHUNK,
    helpers: int = HELPERS,
) -> AsyncIterator[tuple[bytes, int]]:
    """The claims in `statuses` as JSON Lines, in claim id order, a chunk at a time: the chunk's
    lines (each ending in a newline) and how many. Read through `session` (a snapshot keeps every
    chunk consistent) and, on PostgreSQL, `helpers` more connections reading its snapshot."""
    connection = await session.connection()
    statement = _lines(connection.dialect.name)
    names: dict[str, list[str | None]] = {}
    stored = [s.name for s in statuses]  # str_enum stores the member's name
    ranges = await _chunks(connection, stored, chunk)
    if connection.dialect.name != "sqlite":
        names = await _name_arrays(session)

    async def read(reader: AsyncConnection, after: int, through: int) -> tuple[int, bytes, list[Any]]:
        """The claims in (after, through]: how many, their lines, the floats the lines' markers
        stand for."""
        parameters = {"statuses": stored, "after": after, "through": through, **names}
        count, written, text = (await reader.execute(statement, parameters)).one()
        if written != count:
            raise ExportError(f"{count - written} claims after id {after} hold a value a record cannot carry")
        text = bytes(text or b"")
        floats = _floats(statuses, after, through)
        rows = list((await reader.execute(floats)).all()) if MARKER in text else []
        return count, text, rows

    async with sharing_readers(connection, helpers if len(ranges) > 1 else 0) as readers:
        for reader in readers if connection.dialect.name != "sqlite" else ():
            # The statement's estimated cost is high enough for JIT, whose compiling (~85 ms a
            # chunk) cost more than it saved. For this read transaction only.
            await reader.exec_driver_sql("SET LOCAL jit = off")
        # Chunk i is read by reader i mod len(readers), each reader one chunk ahead of the
        # chunk being finished and written: the database reads while Python writes (on SQLite
        # aiosqlite's thread runs the statement outside the GIL).
        pending: deque[asyncio.Future[tuple[int, bytes, list[Any]]]] = deque()
        upcoming = iter(enumerate(ranges))

        def start_next() -> None:
            for index, (after, through) in upcoming:
                pending.append(asyncio.ensure_future(read(readers[index % len(readers)], after, through)))
                return

        try:
            for _ in readers:
                start_next()
            while pending:
                count, text, rows = await pending.popleft()
                start_next()
                if count:
                    yield _with_floats(text, rows), count
        finally:
            for future in pending:  # the caller stopped early (or a read failed): stop reading too
                future.cancel()
            for future in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await future


def _with_floats(text: bytes, rows: Sequence[Sequence[Any]]) -> bytes:
    """`text` with each marker replaced by the next float of `rows` (claim by claim, column by
    column, unset ones skipped: the order the markers stand in), as orjson writes it. One
    orjson call for the chunk's floats; their texts hold no comma."""
    if not rows and MARKER not in text:
        return text
    floats = [value for row in rows for value in row if value is not None]
    parts = text.split(MARKER)
    if len(parts) != len(floats) + 1:  # one snapshot reads both; only a bug gets here
        raise ExportError(f"{len(parts) - 1} floats in a chunk's lines, {len(floats)} read")
    pieces = [b""] * (2 * len(parts) - 1)
    pieces[0::2] = parts
    pieces[1::2] = orjson.dumps(floats)[1:-1].split(b",") if floats else []
    return b"".join(pieces)
