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
PostgreSQL its own exponent form, neither orjson's shortest round-trip text. A claim with
statistics gets a marker byte (\\x01, which JSON text never holds unescaped) where they go; a
second statement reads the chunk's statistics as numbers, and orjson writes them there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.export import CHUNK, statistics_record
from api.store.vocabularies import VOCABULARIES
from schema.enums import ClaimStatus, EvidenceType, Modality, Stance, VocabularyKind
from schema.tables import Claim

MARKER = b"\x01"
_STATISTICS_COLUMNS = (Claim.effect_size, Claim.effect_measure, Claim.p_value, Claim.ci_low, Claim.ci_high)


class ExportError(RuntimeError):
    """The database holds a value a record cannot carry (a claim whose line came out NULL)."""


@dataclass(frozen=True)
class _Sql:
    """SQL text for one dialect."""

    sqlite: bool

    def quote(self, expression: str) -> str:
        """`expression` (text) as a JSON string."""
        return f"json_quote({expression})" if self.sqlite else f"to_json({expression})::text"

    @staticmethod
    def number(expression: str) -> str:
        """`expression` (an integer) as a JSON number."""
        return f"CAST({expression} AS TEXT)"

    def char(self, code: int) -> str:
        return f"char({code})" if self.sqlite else f"chr({code})"


def _key(name: str, first: bool = False) -> str:
    """'"name":' as orjson writes it, preceded by a comma unless it opens the object."""
    return ("" if first else ",") + orjson.dumps(name).decode() + ":"


def _literal(text: str) -> str:
    if "'" in text:  # keys and enum values are identifiers; a quote would end the SQL literal
        raise ValueError(f"{text!r} cannot be written into SQL")
    return f"'{text}'"


def _field(name: str, value: str, present: str | None = None) -> str:
    """`,"name":value`, or nothing where `present` is NULL (a record leaves unset fields out)."""
    piece = f"{_literal(_key(name))} || {value}"
    return f"(CASE WHEN {present} IS NULL THEN '' ELSE {piece} END)" if present else piece


def _enum(column: str, enum: type[Enum]) -> str:
    """The stored enum (its member's name) as the JSON string of its value, as records write it."""
    whens = " ".join(f"WHEN {_literal(m.name)} THEN {_literal(orjson.dumps(m.value).decode())}" for m in enum)
    return f"(CASE {column} {whens} END)"


def _vocabulary(kind: VocabularyKind) -> tuple[str, str]:
    vocab = VOCABULARIES[kind]
    return vocab.table.__tablename__, vocab.label_column


def _reference(sql: _Sql, source: str) -> str:
    """api.store.export.source_reference: the DOI, else the PMID, else the id (empty text counts
    as unset, as Python's `or` has it)."""
    return (
        f"(CASE WHEN {source}.doi <> '' THEN {sql.quote(f'{source}.doi')}"
        f" WHEN {source}.pmid <> '' THEN {sql.quote(f'{source}.pmid')}"
        f" ELSE {sql.number(f'{source}.id')} END)"
    )


def _cohort(sql: _Sql, name: str, alias: str, condition: str) -> str:
    """A cohort or comparator object (api.store.export._cohort_record), nothing without one.
    Every field is optional, so each begins with a comma and the first comma is cut off."""
    fields = " || ".join([
        _field("label", sql.quote(f"{alias}.label"), f"{alias}.label"),
        _field("size", sql.number(f"{alias}.size"), f"{alias}.size"),
        _field("femaleCount", sql.number(f"{alias}.female_count"), f"{alias}.female_count"),
        _field("condition", sql.quote(f"{condition}.{_vocabulary(VocabularyKind.CONDITION)[1]}"),
               f"{alias}.condition_id"),
        _field("treatmentStatus", sql.quote(f"{alias}.treatment_status"), f"{alias}.treatment_status"),
        _field("sampleType", sql.quote(f"{alias}.sample_type"), f"{alias}.sample_type"),
    ])  # fmt: skip
    opening = _literal(_key(name) + "{")
    return f"(CASE WHEN {alias}.id IS NULL THEN '' ELSE {opening} || substr({fields}, 2) || '}}' END)"


def _evidence(sql: _Sql) -> str:
    """The claim's quotes, comma-separated, in position order (NULL when it has none). A quote
    names its source only when it is not the claim's; that source is looked up only then."""
    other_source = f"(SELECT {_reference(sql, 'es')} FROM source es WHERE es.id = e.source_id)"
    named = f"{_literal(_key('source'))} || {other_source}"
    source = f"(CASE WHEN e.source_id = c.source_id THEN '' ELSE {named} END)"
    item = (
        f"{_literal('{' + _key('quote', first=True))} || {sql.quote('e.quote')}"
        f" || {_field('locator', sql.quote('e.locator'), 'e.locator')}"
        f" || {_field('stance', _enum('e.stance', Stance))}"
        f" || {source} || '}}'"
    )
    if sql.sqlite:
        # SQLite 3.40 has no ORDER BY inside an aggregate; it keeps an ordered subquery's order
        # (documents.py relies on the same).
        return (
            f"(SELECT group_concat(item, ',') FROM (SELECT {item} AS item FROM evidence e"
            " WHERE e.claim_id = c.id ORDER BY e.position))"
        )
    return f"(SELECT string_agg({item}, ',' ORDER BY e.position) FROM evidence e WHERE e.claim_id = c.id)"


def _line(sql: _Sql) -> str:
    """One claim's record (api.store.export._claim_record, key for key), from the FROM of _lines."""
    label = {kind: _vocabulary(kind)[1] for kind in VocabularyKind}
    no_statistics = " AND ".join(f"c.{column.key} IS NULL" for column in _STATISTICS_COLUMNS)
    return " || ".join([
        _literal("{" + _key("statement", first=True)) + f" || {sql.quote('c.statement')}",
        _field("source", _reference(sql, "s")),
        _field("target", sql.quote(f"t.{label[VocabularyKind.TARGET]}"), "c.subject_target_id"),
        _field("intervention", sql.quote(f"i.{label[VocabularyKind.INTERVENTION]}"),
               "c.subject_intervention_id"),
        _field("outcome", sql.quote(f"o.{label[VocabularyKind.OUTCOME]}")),
        _field("direction", sql.quote("c.direction")),
        _field("modality", _enum("c.modality", Modality)),
        _field("evidenceType", _enum("c.evidence_type", EvidenceType)),
        _field("organism", sql.quote(f"g.{label[VocabularyKind.ORGANISM]}")),
        _field("condition", sql.quote(f"d.{label[VocabularyKind.CONDITION]}"), "c.condition_id"),
        _cohort(sql, "cohort", "co", "cod"),
        _cohort(sql, "comparator", "cp", "cpd"),
        _field("sampleType", sql.quote("c.sample_type"), "c.sample_type"),
        f"(CASE WHEN {no_statistics} THEN '' ELSE {sql.char(MARKER[0])} END)",
        f"{_literal(_key('evidence') + '[')} || coalesce({_evidence(sql)}, '') || ']}}'",
    ])  # fmt: skip


def _from() -> str:
    table = {kind: _vocabulary(kind)[0] for kind in VocabularyKind}
    return (
        "FROM claim c JOIN source s ON s.id = c.source_id"
        f" JOIN {table[VocabularyKind.OUTCOME]} o ON o.id = c.outcome_id"
        f" JOIN {table[VocabularyKind.ORGANISM]} g ON g.id = c.organism_id"
        f" LEFT JOIN {table[VocabularyKind.TARGET]} t ON t.id = c.subject_target_id"
        f" LEFT JOIN {table[VocabularyKind.INTERVENTION]} i ON i.id = c.subject_intervention_id"
        f" LEFT JOIN {table[VocabularyKind.CONDITION]} d ON d.id = c.condition_id"
        " LEFT JOIN cohort co ON co.id = c.cohort_id"
        f" LEFT JOIN {table[VocabularyKind.CONDITION]} cod ON cod.id = co.condition_id"
        " LEFT JOIN cohort cp ON cp.id = c.comparator_id"
        f" LEFT JOIN {table[VocabularyKind.CONDITION]} cpd ON cpd.id = cp.condition_id"
    )


@lru_cache(maxsize=2)
def _lines(dialect: str) -> sa.TextClause:
    """A chunk of claims (status in :statuses, id after :after, :limit of them) as one text:
    its last id, how many claims, how many lines (fewer when a line came out NULL), the lines."""
    sql = _Sql(sqlite=dialect == "sqlite")
    page = (
        f"SELECT c.id AS id, {_line(sql)} AS line {_from()}"
        " WHERE c.status IN :statuses AND c.id > :after ORDER BY c.id LIMIT :limit"
    )
    newline = sql.char(ord("\n"))
    joined = (
        f"CAST(group_concat(line, {newline}) AS BLOB)"
        if sql.sqlite
        else f"convert_to(string_agg(line, {newline} ORDER BY id), 'UTF8')"
    )
    text = f"SELECT max(id), count(*), count(line), {joined} FROM ({page}) AS page"
    return sa.text(text).bindparams(sa.bindparam("statuses", expanding=True))


def _statistics(statuses: Sequence[ClaimStatus], after: int, last: int) -> sa.Select[Any]:
    """The statistics of a chunk's claims that have any, in claim id order."""
    return (
        sa.select(*_STATISTICS_COLUMNS)
        .where(Claim.id > after, Claim.id <= last, Claim.status.in_(list(statuses)))
        .where(sa.or_(*(column.is_not(None) for column in _STATISTICS_COLUMNS)))
        .order_by(Claim.id)
    )


async def claim_lines(
    session: AsyncSession, statuses: Sequence[ClaimStatus] = (ClaimStatus.ACCEPTED,), chunk: int = CHUNK
) -> AsyncIterator[tuple[bytes, int]]:
    """The claims in `statuses` as JSON Lines, in claim id order, a chunk at a time: the chunk's
    lines (each ending in a newline) and how many. Read through `session` (a snapshot keeps every
    chunk consistent)."""
    connection = await session.connection()
    statement = _lines(connection.dialect.name)
    if connection.dialect.name != "sqlite":
        await connection.exec_driver_sql("SET LOCAL jit = off")
    stored = [s.name for s in statuses]  # str_enum stores the member's name
    after = 0
    while True:
        result = await connection.execute(statement, {"statuses": stored, "after": after, "limit": chunk})
        last, count, written, text = result.one()
        if not count:
            return
        if written != count:
            raise ExportError(f"{count - written} claims after id {after} hold a value a record cannot carry")
        text = bytes(text)
        if MARKER in text:
            rows = (await connection.execute(_statistics(statuses, after, last))).all()
            text = _with_statistics(text, rows)
        yield text + b"\n", count
        after = last
        if count < chunk:
            return


def _with_statistics(text: bytes, rows: Sequence[Sequence[Any]]) -> bytes:
    parts = text.split(MARKER)
    if len(parts) != len(rows) + 1:  # one snapshot reads both; only a bug gets here
        raise ExportError(f"{len(parts) - 1} claims with statistics in a chunk, {len(rows)} read")
    pieces = [parts[0]]
    for row, part in zip(rows, parts[1:], strict=True):
        pieces.append(b',"statistics":' + orjson.dumps(statistics_record(row)))
        pieces.append(part)
    return b"".join(pieces)
