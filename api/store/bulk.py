"""Bulk import: many already-resolved records in one transaction, validated and audited like the commands.

The store commands (api.store.commands) resolve names and write one claim per transaction; that
is right for a curator and far too slow for loading a corpus. Here the caller resolves names once
and hands over records whose references are ids, in chunks, inside one write transaction:

    async with db.write(actor) as w, bulk_import(w) as load:
        source_ids = (await load.sources(source_records)).ids
        cohort_ids = (await load.cohorts(cohort_records)).ids
        await load.claims(claim_records)          # as many chunks of each as you like

Each record is checked with the rules the commands apply:

- sources (create_source's rules: title, DOI / PMID normalised, year, URL); a DOI or PMID already
  stored names the existing source, so importing twice adds nothing;
- cohorts (label, size, female count; a (source, label) already stored is reused when it agrees);
- claims (create_claim's rules: statement, exactly one subject, statistics, 1-50 quotes, every
  referenced row exists, a cohort belongs to the claim's source and organism, and the fingerprint
  of schema.claims is unique among live claims). A record repeating a live claim, in the database
  or earlier in the import, is skipped (or refused, with on_duplicate="error"), so a repeated
  import adds no claims. Each claim's quotes, its claim_target rows (schema.bearing over its
  intervention's actions) and its claim_search document (as api.store.search writes it) go in
  with it.

All or nothing: the import is one savepoint in the caller's transaction. A refused record raises
a StoreError whose messages name the record (its position among the import's records of that
kind) and the field, and nothing of the import stays, not even the chunks before it (the
savepoint is rolled back; Database.write then rolls back the whole transaction).

Audited like the commands: every source, cohort and claim gets the event its command records
("source.create", "cohort.create", "claim.create", with the same content), so a claim's history
shows who created it. The events are hash-chained here, chunk by chunk (schema.audit's rules),
rather than held in Writer.pending until commit: memory stays bounded by the chunk.
audit="batch" records one event per chunk instead ("claim.bulk_import" naming the id runs and a
digest of the fingerprints): smaller, but a claim's own history then does not show its creation.

Fast because rows bypass the ORM (tuples to the driver: executemany on SQLite, COPY on
PostgreSQL), a chunk's look-ups are one query each, ids are allocated up front, SQLite's text
index is fed once per chunk, and, when a table is empty at the start, its secondary indexes are
built (and on PostgreSQL its foreign keys checked) once at the end instead of row by row (see
_Deferred). Memory is bounded by the chunk.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import time
from array import array
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.audit import append_events
from api.store.commands._common import require_role
from api.store.db import Database, Writer
from api.store.errors import StoreError, UserError, UserErrorCode
from api.store.ids import to_global_id
from schema.audit import EventContent, event_hash
from schema.base import utcnow
from schema.bearing import target_level_direction
from schema.claims import claim_fingerprint
from schema.enums import (
    ClaimStatus,
    EffectDirection,
    EvidenceType,
    Modality,
    Role,
    SourceKind,
    Stance,
    TargetAction,
)
from schema.identifiers import IdentifierError, normalize_doi, normalize_pmid
from schema.normalize import clean_label
from schema.tables import (
    LIVE_STATUSES,
    MAX_LABEL,
    MAX_QUOTE,
    MAX_STATEMENT,
    MAX_TITLE,
    AuditEvent,
    AuditHead,
    Claim,
    Cohort,
    Condition,
    Intervention,
    InterventionAction,
    Organism,
    Outcome,
    Source,
    Target,
)
from schema.users import Actor

DEFAULT_BATCH = 5000
MAX_EVIDENCE = 50  # as api.store.commands.claims
_MAX_SAMPLE_TYPE = 100
_LIVE = tuple(s.value for s in LIVE_STATUSES)
# "Live" written out as literals, as the partial unique index on claim.fingerprint is: with bound
# parameters instead, neither SQLite nor a generic PostgreSQL plan can prove the index applies.
_LIVE_SQL = "status IN (" + ", ".join(f"'{s}'" for s in _LIVE) + ")"
# Statuses a claim may be imported in by a curator; any other needs an admin (as create_claim).
_CURATOR_STATUSES = frozenset({ClaimStatus.DRAFT, ClaimStatus.SUBMITTED})
# SQLite page cache of a bulk writer's connection (KiB). The default 2 MiB makes every index
# insert beyond it a WAL look-up; the fingerprint index alone outgrows it at ~30,000 claims.
SQLITE_BULK_CACHE_KIB = 262_144
# PostgreSQL memory for building the deferred indexes at the end (the default is 64 MB).
PG_INDEX_BUILD_MEMORY = "512MB"

DuplicatePolicy = Literal["skip", "error"]
AuditMode = Literal["entity", "batch"]


# --- records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRecord:
    kind: SourceKind | str
    title: str
    authors: Sequence[str] = ()
    venue: str | None = None
    year: int | None = None
    published: date | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    peer_reviewed: bool = False
    ai_generated: bool = False
    derived_from_id: int | None = None


@dataclass(frozen=True, slots=True)
class CohortRecord:
    source_id: int
    label: str
    organism_id: int
    condition_id: int | None = None
    size: int | None = None
    female_count: int | None = None
    treatment_status: str | None = None
    sample_type: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    quote: str
    locator: str | None = None
    stance: Stance | str = Stance.SUPPORTS
    source_id: int | None = None  # defaults to the claim's source


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    """One claim with every reference resolved to an id (exactly one subject)."""

    statement: str
    outcome_id: int
    direction: EffectDirection | str
    modality: Modality | str
    evidence_type: EvidenceType | str
    organism_id: int
    source_id: int
    evidence: Sequence[EvidenceRecord]
    subject_target_id: int | None = None
    subject_intervention_id: int | None = None
    condition_id: int | None = None
    cohort_id: int | None = None
    comparator_id: int | None = None
    sample_type: str | None = None
    effect_size: float | None = None
    effect_measure: str | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    status: ClaimStatus | str = ClaimStatus.ACCEPTED


@dataclass
class BatchResult:
    """What one chunk did: ids in record order (None where a record was skipped as a duplicate)."""

    ids: list[int | None]
    inserted: int
    duplicates: int


@dataclass
class ImportReport:
    records: int = 0
    inserted: int = 0
    duplicates: int = 0
    batches: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


# --- checks -------------------------------------------------------------------------------


class _Problems:
    """Collects the errors of a chunk; each names the record (its position in the import)."""

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.errors: list[UserError] = []

    def add(self, index: int, message: str, *path: str, code: UserErrorCode = UserErrorCode.INVALID) -> None:
        self.errors.append(UserError(code, f"{self.noun} {index}: {message}", ("records", str(index), *path)))

    def raise_if_any(self) -> None:
        if self.errors:
            raise StoreError(self.errors)


def _label(
    problems: _Problems, index: int, value: str | None, max_len: int, *path: str, required: bool
) -> str | None:
    """clean_label with the commands' limits (api.store.commands._common)."""
    text = clean_label(value) if value is not None else ""
    if not text:
        if required:
            problems.add(index, f"{path[-1]} must not be empty", *path)
        return None
    if len(text) > max_len:
        problems.add(index, f"{path[-1]} is {len(text)} characters; at most {max_len} are allowed", *path)
        return None
    return text


_ENUM_VALUES: dict[type, dict[str, Any]] = {
    enum: {member.value: member for member in enum}
    for enum in (ClaimStatus, EffectDirection, EvidenceType, Modality, SourceKind, Stance)
}


def _enum(problems: _Problems, index: int, enum: type, value: Any, name: str, *path: str) -> Any:
    """The member for a member or its value (a dict look-up: StrEnum members hash as their value)."""
    found = _ENUM_VALUES[enum].get(value) if isinstance(value, str) else None
    if found is None:
        choices = ", ".join(_ENUM_VALUES[enum])
        problems.add(index, f"{name} '{value}' is not one of {choices}", *(path or (name,)))
    return found


def _check_ref(
    problems: _Problems, index: int, value: int | None, known: set[int], noun: str, name: str
) -> None:
    if value is not None and value not in known:
        problems.add(index, f"no {noun} has id {value}", name, code=UserErrorCode.NOT_FOUND)


def _finite(problems: _Problems, i: int, value: float | None, name: str) -> bool:
    """True for a finite number, False (and a problem) for anything else but None."""
    if value is None:
        return False
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.add(i, f"{name} must be a finite number", "statistics", name)
        return False
    return True


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _id_runs(ids: Sequence[int]) -> list[list[int]]:
    """[[first, last], ...] for runs of consecutive ids: a compact list for a batch event."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and runs[-1][1] + 1 == i:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


# --- the database -------------------------------------------------------------------------


def _bind(column: Any, session: AsyncSession) -> Callable[[Any], Any]:
    """The column type's own encoding for this dialect (UTC timestamps and dates as SQLite text,
    JSON as the ORM writes it), so bulk rows read back exactly like the commands' rows."""
    processor = column.type.bind_processor(session.bind.dialect)
    return processor if processor is not None else (lambda value: value)


def _json_text(value: Any) -> str:
    """JSON as stored in a JSON column."""
    return orjson.dumps(value).decode()


class _Sql:
    """Plain SQL on the driver's own connection (aiosqlite or asyncpg), inside the session's
    transaction: tuples in and out, with no ORM objects and no SQL compiled per row or per key.
    A chunk's look-ups pass their keys as one value (a JSON array on SQLite, an array on
    PostgreSQL) rather than as thousands of bound parameters."""

    def __init__(self, driver: Any, sqlite: bool) -> None:
        self.driver = driver
        self.sqlite = sqlite

    @classmethod
    async def open(cls, session: AsyncSession) -> _Sql:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        return cls(raw.driver_connection, session.bind.dialect.name == "sqlite")

    async def fetch(self, sql: str, *params: Any) -> list[tuple]:
        """Rows of `sql` (parameters written `?`; numbered for asyncpg here)."""
        if self.sqlite:
            return list(await self.driver.execute_fetchall(sql, params))
        for n in range(len(params)):
            sql = sql.replace("?", f"${n + 1}", 1)
        return [tuple(r) for r in await self.driver.fetch(sql, *params)]

    async def fetch_in(self, sql: str, keys: Iterable[Any], pg_type: str = "int") -> list[tuple]:
        """Rows of `sql` whose `IN ?` takes the distinct non-null `keys`."""
        values = sorted({k for k in keys if k is not None})
        if not values:
            return []
        if self.sqlite:
            sql = sql.replace("IN ?", "IN (SELECT value FROM json_each(?))")
            return await self.fetch(sql, orjson.dumps(values).decode())
        return await self.fetch(sql.replace("IN ?", f"= ANY(?::{pg_type}[])"), values)

    async def existing_ids(self, table: str, ids: Iterable[int | None]) -> set[int]:
        assert table in _TABLES  # names are interpolated
        return {row[0] for row in await self.fetch_in(f"SELECT id FROM {table} WHERE id IN ?", ids)}

    async def allocate_ids(self, table: str, n: int) -> list[int]:
        """Ids for n new rows. SQLite: after the largest, under the write lock this transaction
        holds (BEGIN IMMEDIATE); PostgreSQL: from the table's id sequence, safe beside concurrent
        writers."""
        assert table in _TABLES
        if self.sqlite:
            top = (await self.fetch(f"SELECT coalesce(max(id), 0) FROM {table}"))[0][0]
            return list(range(top + 1, top + 1 + n))
        rows = await self.fetch(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?::int)", n
        )
        return [int(r[0]) for r in rows]

    async def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """Executemany on SQLite, COPY on PostgreSQL."""
        if not rows:
            return
        if self.sqlite:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
            await self.driver.executemany(sql, rows)
        else:
            await self.driver.copy_records_to_table(table, records=rows, columns=list(columns))


_TABLES = frozenset({"source", "cohort", "claim", "organism", "condition"})


class _Deferred:
    """Work done once at the end of the import instead of row by row.

    Inserting a claim into a table with 14 secondary indexes costs several times what the row
    itself does, most of it in random B-tree updates; CREATE INDEX after the load sorts instead.
    On PostgreSQL each foreign key is also a trigger run per row (a claim has 11: ~0.1 ms a claim
    here), where ADD CONSTRAINT afterwards checks all rows in one join. So when a table is empty
    as the import starts (a new database, the benchmark's generator), its plain secondary
    indexes (and on PostgreSQL its foreign keys) are dropped and recreated from their own
    definitions before the import ends. DDL is transactional in both databases: a failed or
    interrupted import leaves them as they were, and SQLite's readers (WAL snapshots) never see
    them missing. Indexes behind constraints (primary keys, UNIQUE, the cohort's (source, label))
    stay, as does the partial unique fingerprint index: the import looks duplicates up through
    it. SQLite cannot drop a foreign key, but its checks are cheap. On PostgreSQL the dropped
    objects lock their tables, and the tables their foreign keys name (users, vocabularies,
    sources), until commit: a new database's first import keeps readers waiting.

    On SQLite the full-text index is fed per chunk by one INSERT ... SELECT instead of by the
    per-row trigger on claim_search: FTS5 flushes its pending terms at the end of each statement,
    so a statement per row costs about five times as much.
    """

    TABLES = ("source", "cohort", "claim", "evidence", "claim_target", "claim_search")
    KEEP = frozenset({"uq_claim_live_fingerprint"})
    FTS_TRIGGER = "claim_search_ai"  # alembic 0002: claim_search → claim_fts on insert

    def __init__(self, session: AsyncSession, sqlite: bool) -> None:
        self.session = session
        self.sqlite = sqlite
        self.indexes: list[str] = []  # CREATE INDEX statements of the dropped indexes
        self.foreign_keys: list[str] = []  # ALTER TABLE ... ADD CONSTRAINT, PostgreSQL
        self.trigger: str | None = None  # the FTS trigger's CREATE statement while it is dropped

    async def begin(self, enabled: bool | None) -> None:
        if self.sqlite:
            await self._take_fts_trigger()
        if enabled is False:
            return
        for table in self.TABLES:
            if enabled or await self._is_empty(table):
                for name, create in await self._indexes(table):
                    await self._execute(f'DROP INDEX "{name}"')
                    self.indexes.append(create)
                if not self.sqlite:
                    await self._take_foreign_keys(table)

    async def finish(self) -> None:
        if self.indexes and not self.sqlite:
            await self._execute(f"SET LOCAL maintenance_work_mem = '{PG_INDEX_BUILD_MEMORY}'")
        for statement in self.indexes + self.foreign_keys:
            await self._execute(statement)
        self.indexes, self.foreign_keys = [], []
        if self.trigger is not None:
            await self._execute(self.trigger)
            self.trigger = None

    async def _execute(self, statement: str) -> None:
        await self.session.execute(sa.text(statement))

    async def _is_empty(self, table: str) -> bool:
        assert table in self.TABLES  # names are interpolated
        return await self.session.scalar(sa.text(f"SELECT 1 FROM {table} LIMIT 1")) is None

    async def _indexes(self, table: str) -> list[tuple[str, str]]:
        if self.sqlite:
            # sql IS NULL: the automatic indexes of PRIMARY KEY and UNIQUE constraints.
            query = (
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
            )
        else:
            query = (
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                "AND i.tablename = :t AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
                "to_regclass(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname)))"
            )
        rows = (await self.session.execute(sa.text(query), {"t": table})).all()
        return sorted((name, create) for name, create in rows if name not in self.KEEP)

    async def _take_foreign_keys(self, table: str) -> None:
        rows = (
            await self.session.execute(
                sa.text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = to_regclass(:t) AND contype = 'f' ORDER BY conname"
                ),
                {"t": table},
            )
        ).all()
        if rows:
            await self._execute(
                f"ALTER TABLE {table} " + ", ".join(f'DROP CONSTRAINT "{n}"' for n, _ in rows)
            )
            adds = ", ".join(f'ADD CONSTRAINT "{name}" {definition}' for name, definition in rows)
            self.foreign_keys.append(f"ALTER TABLE {table} {adds}")

    async def _take_fts_trigger(self) -> None:
        sql = await self.session.scalar(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
            {"n": self.FTS_TRIGGER},
        )
        if sql is not None:
            await self._execute(f"DROP TRIGGER {self.FTS_TRIGGER}")
            self.trigger = sql

    async def index_text(self, sql: _Sql, first_id: int, last_id: int) -> None:
        """Feed claim_fts the claim_search rows of claims first_id..last_id (SQLite only), as the
        dropped trigger would have, in one statement."""
        if self.trigger is not None:
            await sql.driver.execute(
                "INSERT INTO claim_fts (rowid, document) SELECT claim_id, document FROM claim_search "
                "WHERE claim_id BETWEEN ? AND ?",
                (first_id, last_id),
            )


class _AuditChain:
    """Appends the import's audit events to the hash chain as it goes, chunk by chunk.

    The same chain Database.write() appends at commit (api.store.audit.append_events): ids follow
    the head, each hash covers its event and the previous hash (schema.audit.event_hash). Events
    the writer recorded before the import are chained first; events recorded after it are chained
    after the import's at commit, since the head row is moved here. On PostgreSQL the head row
    stays locked (FOR UPDATE) until commit, so concurrent writers queue behind the import, as
    they must for one chain; SQLite's write lock does the same.
    """

    COLUMNS = (
        "id", "at", "actor_id", "action", "entity_type", "entity_id", "before", "after", "comment",
        "request_id", "previous_hash", "hash",
    )  # fmt: skip

    def __init__(self, w: Writer) -> None:
        self.w = w
        self.next_id = 0
        self.previous = ""
        self.rows: list[tuple] = []
        self.at = utcnow()
        self._at_stored: Any = None
        self._null: Any = _bind(AuditEvent.__table__.c.before, w.session)(None)

    async def open(self) -> None:
        session = self.w.session
        assert not self.w.pending, "bulk_import chains the writer's earlier events first"
        head = (
            await session.execute(
                sa.select(AuditHead.last_event_id, AuditHead.last_hash)
                .where(AuditHead.id == 1)
                .with_for_update()
            )
        ).one()
        self.next_id, self.previous = (head.last_event_id or 0) + 1, head.last_hash

    def stamp(self, at: datetime) -> None:
        """The time of the events that follow (one per chunk: they are written together)."""
        self.at = at
        self._at_stored = _bind(AuditEvent.__table__.c.at, self.w.session)(at)

    def add(self, action: str, entity_type: str, entity_id: int, after: dict[str, Any]) -> None:
        """Chain one event. `after` holds JSON values only (as Writer.record's json_safe makes them)."""
        w = self.w
        content = EventContent(
            id=self.next_id, at=self.at, actor_id=w.actor.user_id, action=action, entity_type=entity_type,
            entity_id=entity_id, before=None, after=after, comment=None, request_id=w.request_id,
        )  # fmt: skip
        digest = event_hash(content, self.previous)
        self.rows.append(
            (self.next_id, self._at_stored, content.actor_id, action, entity_type, entity_id, self._null,
             _json_text(after), None, w.request_id, self.previous, digest)
        )  # fmt: skip
        self.previous, self.next_id = digest, self.next_id + 1

    async def flush(self, sql: _Sql) -> None:
        await sql.insert("audit_event", self.COLUMNS, self.rows)
        self.rows = []

    async def close(self, sql: _Sql) -> None:
        """Write what is left and move the head (through the ORM, so a head row the session
        already holds is updated too and the commit-time append reads the new head)."""
        await self.flush(sql)
        await self.w.session.execute(
            sa.update(AuditHead)
            .where(AuditHead.id == 1)
            .values(last_event_id=self.next_id - 1, last_hash=self.previous)
        )


@dataclass
class _Vocab:
    """The small vocabularies (a few hundred ids each), read once per import and again when a
    record names an id not seen yet (another writer may have added it since)."""

    targets: set[int] = field(default_factory=set)
    interventions: set[int] = field(default_factory=set)
    outcomes: set[int] = field(default_factory=set)
    organisms: set[int] = field(default_factory=set)
    conditions: set[int] = field(default_factory=set)
    actions: dict[int, list[tuple[int, TargetAction]]] = field(default_factory=dict)

    async def load(self, session: AsyncSession) -> None:
        async def ids(table: Any) -> set[int]:
            return set((await session.scalars(sa.select(table.id))).all())

        self.targets = await ids(Target)
        self.interventions = await ids(Intervention)
        self.outcomes = await ids(Outcome)
        self.organisms = await ids(Organism)
        self.conditions = await ids(Condition)
        self.actions = {}
        rows = await session.execute(
            sa.select(
                InterventionAction.intervention_id, InterventionAction.target_id, InterventionAction.action
            ).order_by(InterventionAction.intervention_id, InterventionAction.target_id)
        )
        for intervention_id, target_id, action in rows.all():
            self.actions.setdefault(intervention_id, []).append((target_id, TargetAction(action)))

    def knows_all(self, records: Sequence[ClaimRecord]) -> bool:
        for r in records:
            if (
                (r.subject_target_id is not None and r.subject_target_id not in self.targets)
                or (
                    r.subject_intervention_id is not None
                    and r.subject_intervention_id not in self.interventions
                )
                or r.outcome_id not in self.outcomes
                or r.organism_id not in self.organisms
                or (r.condition_id is not None and r.condition_id not in self.conditions)
            ):
                return False
        return True


# --- the import ---------------------------------------------------------------------------


class BulkImport:
    """One import inside the writer's transaction; use through bulk_import()."""

    def __init__(
        self,
        w: Writer,
        *,
        on_duplicate: DuplicatePolicy = "skip",
        audit: AuditMode = "entity",
        defer: bool | None = None,
    ) -> None:
        self.w = w
        self.session = w.session
        self.sqlite = w.session.bind.dialect.name == "sqlite"
        self.on_duplicate = on_duplicate
        self.audit_mode = audit
        self.defer = defer
        self.vocab = _Vocab()
        self.audit = _AuditChain(w)
        self.deferred = _Deferred(w.session, self.sqlite)
        # Records seen so far, per kind: the position an error names.
        self.seen = {"source": 0, "cohort": 0, "claim": 0}
        # Claim id → record position of this import's claims, to name the record a later record
        # repeats (the claim is not in the database yet, and will not be). Kept only when
        # duplicates are errors: 16 bytes a claim.
        self.claim_ids = array("q")
        self.claim_positions = array("q")
        self.sql: _Sql

    async def begin(self) -> None:
        require_role(self.w.actor, Role.CURATOR, "importing")
        if self.sqlite:
            await _large_page_cache(self.session)
        await self.vocab.load(self.session)
        await self.deferred.begin(self.defer)
        await self.audit.open()
        self.sql = await _Sql.open(self.session)

    async def finish(self) -> None:
        await self.audit.close(self.sql)
        await self.deferred.finish()

    def _start(self, kind: str, n: int, start: int | None) -> int:
        first = self.seen[kind] if start is None else start
        self.seen[kind] = first + n
        return first

    # sources ---------------------------------------------------------------------------

    async def sources(self, records: Sequence[SourceRecord], *, start: int | None = None) -> BatchResult:
        """Insert a chunk of sources; ids come back in record order. A source whose DOI or PMID
        is already stored is not added again: its id is returned."""
        require_role(self.w.actor, Role.CURATOR, "importing sources")
        start = self._start("source", len(records), start)
        problems = _Problems("source")
        known_sources = await self.sql.existing_ids("source", (r.derived_from_id for r in records))
        checked = [_check_source(problems, start + n, rec, known_sources) for n, rec in enumerate(records)]
        _refuse_repeats(problems, start, checked, "doi", "pmid")
        problems.raise_if_any()

        existing = await self._sources_by_identifier(checked)
        ids: list[int | None] = [
            existing.get(("doi", c["doi"])) or existing.get(("pmid", c["pmid"])) for c in checked
        ]
        fresh = [offset for offset, known in enumerate(ids) if known is None]
        if fresh:
            new_ids = await self.sql.allocate_ids("source", len(fresh))
            for offset, new_id in zip(fresh, new_ids, strict=True):
                ids[offset] = new_id
            await self._write_sources([checked[o] for o in fresh], new_ids)
        return BatchResult(ids=ids, inserted=len(fresh), duplicates=len(records) - len(fresh))

    async def _sources_by_identifier(self, checked: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        existing: dict[tuple[str, str], int] = {}
        for name in ("doi", "pmid"):  # both UNIQUE: each look-up is an index search
            found = await self.sql.fetch_in(
                f"SELECT id, {name} FROM source WHERE {name} IN ?", (c[name] for c in checked), "text"
            )
            existing.update({(name, value): sid for sid, value in found})
        return existing

    async def _write_sources(self, checked: list[dict[str, Any]], new_ids: list[int]) -> None:
        now = utcnow()
        stamp = _bind(Source.__table__.c.created_at, self.session)(now)
        authors = _bind(Source.__table__.c.authors, self.session)
        published = _bind(Source.__table__.c.published, self.session)
        actor_id = self.w.actor.user_id
        rows = [
            (i, c["kind"], c["title"], authors(c["authors"]), c["venue"], c["year"],
             published(c["published"]), c["doi"], c["pmid"], c["url"], c["peer_reviewed"], c["ai_generated"],
             c["derived_from_id"], actor_id, stamp)
            for c, i in zip(checked, new_ids, strict=True)
        ]  # fmt: skip
        await self.sql.insert("source", _SOURCE_COLUMNS, rows)
        self.audit.stamp(now)
        if self.audit_mode == "entity":
            for c, i in zip(checked, new_ids, strict=True):
                # As api.store.commands.sources.source_snapshot records it.
                after = {**c, "published": c["published"].isoformat() if c["published"] else None}
                self.audit.add("source.create", "Source", i, after)
        else:
            self.audit.add(
                "source.bulk_import",
                "Source",
                new_ids[0],
                {"sources": len(new_ids), "ids": _id_runs(new_ids)},
            )
        await self.audit.flush(self.sql)

    # cohorts ---------------------------------------------------------------------------

    async def cohorts(self, records: Sequence[CohortRecord], *, start: int | None = None) -> BatchResult:
        """Insert a chunk of cohorts; a (source, label) already stored is reused when it agrees
        with the record (as create_claim reuses a source's cohort by label), else refused."""
        require_role(self.w.actor, Role.CURATOR, "importing cohorts")
        start = self._start("cohort", len(records), start)
        problems = _Problems("cohort")
        known = {
            "source": await self.sql.existing_ids("source", (r.source_id for r in records)),
            "organism": await self.sql.existing_ids("organism", (r.organism_id for r in records)),
            "condition": await self.sql.existing_ids("condition", (r.condition_id for r in records)),
        }
        checked = [_check_cohort(problems, start + n, rec, known) for n, rec in enumerate(records)]
        seen: dict[tuple[int, str], int] = {}
        for offset, c in enumerate(checked):
            if c["label"] is None:
                continue
            key = (c["source_id"], c["label"])
            if key in seen:
                problems.add(
                    start + offset, f"label '{c['label']}' is also given to record {seen[key]}", "label"
                )
            seen[key] = start + offset
        problems.raise_if_any()

        existing = await self._cohorts_by_label(checked)
        ids: list[int | None] = []
        fresh: list[int] = []
        for offset, c in enumerate(checked):
            found = existing.get((c["source_id"], c["label"]))
            if found is None:
                fresh.append(offset)
            else:
                _check_agrees(problems, start + offset, c, found)
            ids.append(None if found is None else found["id"])
        problems.raise_if_any()
        if fresh:
            new_ids = await self.sql.allocate_ids("cohort", len(fresh))
            for offset, new_id in zip(fresh, new_ids, strict=True):
                ids[offset] = new_id
            await self._write_cohorts([checked[o] for o in fresh], new_ids)
        return BatchResult(ids=ids, inserted=len(fresh), duplicates=len(records) - len(fresh))

    async def _cohorts_by_label(self, checked: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
        columns = ("id", "source_id", "label", *_COHORT_FIELDS)
        found = await self.sql.fetch_in(
            f"SELECT {', '.join(columns)} FROM cohort WHERE source_id IN ?", (c["source_id"] for c in checked)
        )
        rows = [dict(zip(columns, row, strict=True)) for row in found]
        return {(row["source_id"], row["label"]): row for row in rows}

    async def _write_cohorts(self, checked: list[dict[str, Any]], new_ids: list[int]) -> None:
        now = utcnow()
        stamp = _bind(Cohort.__table__.c.created_at, self.session)(now)
        rows = [
            (i, c["source_id"], c["label"], c["organism_id"], c["condition_id"], c["size"], c["female_count"],
             c["treatment_status"], c["sample_type"], c["notes"], stamp)
            for c, i in zip(checked, new_ids, strict=True)
        ]  # fmt: skip
        await self.sql.insert("cohort", _COHORT_COLUMNS, rows)
        self.audit.stamp(now)
        if self.audit_mode == "entity":
            for c, i in zip(checked, new_ids, strict=True):
                # As create_claim records a cohort it creates (notes only when given: it cannot).
                after = {k: v for k, v in c.items() if k != "notes" or v is not None}
                self.audit.add("cohort.create", "Cohort", i, after)
        else:
            self.audit.add(
                "cohort.bulk_import",
                "Cohort",
                new_ids[0],
                {"cohorts": len(new_ids), "ids": _id_runs(new_ids)},
            )
        await self.audit.flush(self.sql)

    # claims ----------------------------------------------------------------------------

    async def claims(self, records: Sequence[ClaimRecord], *, start: int | None = None) -> BatchResult:
        """Validate and insert a chunk of claims (see the module doc)."""
        require_role(self.w.actor, Role.CURATOR, "importing claims")
        start = self._start("claim", len(records), start)
        problems = _Problems("claim")
        if not self.vocab.knows_all(records):
            await self.vocab.load(self.session)
        refs = await self._claim_refs(records)
        admin = self.w.actor.can(Role.ADMIN)
        checked = [
            _check_claim(problems, start + n, rec, self.vocab, refs, admin) for n, rec in enumerate(records)
        ]
        problems.raise_if_any()
        keep = await self._new_claims(problems, start, checked)
        problems.raise_if_any()

        ids: list[int | None] = [None] * len(records)
        if keep:
            new_ids = await self.sql.allocate_ids("claim", len(keep))
            for offset, claim_id in zip(keep, new_ids, strict=True):
                ids[offset] = claim_id
            await self._write_claims([checked[o] for o in keep], new_ids)  # type: ignore[misc]
            if self.on_duplicate == "error":
                # Ids only grow (max + 1 under the lock, or a sequence), so the arrays stay sorted.
                self.claim_ids.extend(new_ids)
                self.claim_positions.extend(start + offset for offset in keep)
        return BatchResult(ids=ids, inserted=len(keep), duplicates=len(records) - len(keep))

    async def _claim_refs(self, records: Sequence[ClaimRecord]) -> _ClaimRefs:
        """The sources and cohorts the chunk names, read in one query each."""
        evidence_sources = (e.source_id for r in records for e in r.evidence)
        sources = await self.sql.existing_ids(
            "source", itertools.chain((r.source_id for r in records), evidence_sources)
        )
        cohorts = await self.sql.fetch_in(
            "SELECT id, source_id, organism_id FROM cohort WHERE id IN ?",
            (c for r in records for c in (r.cohort_id, r.comparator_id)),
        )
        return _ClaimRefs(sources, {cid: (sid, oid) for cid, sid, oid in cohorts})

    async def _new_claims(
        self, problems: _Problems, start: int, checked: list[_CheckedClaim | None]
    ) -> list[int]:
        """Offsets of the claims to insert: fingerprints are unique among live claims, in the
        database (including this import's earlier chunks) and within the chunk."""
        # The partial unique index answers this; SQLite must be told to use it (it would rather
        # read ix_claim_status, most of the table), and "live" is spelt as the index's condition.
        indexed = "INDEXED BY uq_claim_live_fingerprint" if self.sql.sqlite else ""
        found = await self.sql.fetch_in(
            f"SELECT fingerprint, id FROM claim {indexed} WHERE fingerprint IN ? AND {_LIVE_SQL}",
            (c.fingerprint for c in checked if c is not None),
            "text",
        )
        live = dict(found)
        keep: list[int] = []
        seen: dict[str, int] = {}
        for offset, c in enumerate(checked):
            assert c is not None  # records with problems were refused before
            fp = c.fingerprint
            if fp in live or fp in seen:
                if self.on_duplicate == "error":
                    other = self._describe(live[fp]) if fp in live else f"record {start + seen[fp]}"
                    problems.add(
                        start + offset,
                        "this source already has a claim with the same subject, outcome, direction and "
                        f"context ({other})",
                        "statement",
                        code=UserErrorCode.DUPLICATE,
                    )
                continue
            if c.status in _LIVE:
                seen[fp] = offset
            keep.append(offset)
        return keep

    def _describe(self, claim_id: int) -> str:
        """A claim a record repeats: an earlier record of this import, or a stored claim."""
        i = bisect.bisect_left(self.claim_ids, claim_id)
        if i < len(self.claim_ids) and self.claim_ids[i] == claim_id:
            return f"record {self.claim_positions[i]}"
        return f"claim {to_global_id('Claim', claim_id)}"

    async def _write_claims(self, checked: list[_CheckedClaim], new_ids: list[int]) -> None:
        now = utcnow()
        stamp = _bind(Claim.__table__.c.created_at, self.session)(now)
        actor_id = self.w.actor.user_id
        claim_rows: list[tuple] = []
        evidence_rows: list[tuple] = []
        target_rows: list[tuple] = []
        search_rows: list[tuple] = []
        for c, claim_id in zip(checked, new_ids, strict=True):
            claim_rows.append(
                (claim_id, *c.values, c.status, 1, c.fingerprint, actor_id, stamp, stamp, actor_id)
            )
            evidence_rows.extend((claim_id, *ev, stamp) for ev in c.evidence)
            target_rows.extend((claim_id, *t) for t in _bearing(c, self.vocab))
            search_rows.append((claim_id, "\n".join([c.values[0], *(ev[2] for ev in c.evidence)])))

        sql = self.sql
        await sql.insert("claim", _CLAIM_COLUMNS, claim_rows)
        await sql.insert("evidence", _EVIDENCE_COLUMNS, evidence_rows)
        await sql.insert("claim_target", _TARGET_COLUMNS, target_rows)
        await sql.insert("claim_search", _SEARCH_COLUMNS, search_rows)
        if sql.sqlite:
            assert new_ids[-1] - new_ids[0] == len(new_ids) - 1  # allocated in one run under the lock
            await self.deferred.index_text(sql, new_ids[0], new_ids[-1])

        self.audit.stamp(now)
        if self.audit_mode == "entity":
            for c, claim_id in zip(checked, new_ids, strict=True):
                self.audit.add("claim.create", "Claim", claim_id, _claim_snapshot(c))
        else:
            digest = hashlib.sha256()
            statuses: dict[str, int] = {}
            for c, claim_id in zip(checked, new_ids, strict=True):
                digest.update(f"{claim_id}:{c.fingerprint}\n".encode())
                statuses[c.status] = statuses.get(c.status, 0) + 1
            self.audit.add(
                "claim.bulk_import",
                "Claim",
                new_ids[0],
                # Commits the event to exactly these claims: sha256 over "id:fingerprint" lines.
                {"claims": len(new_ids), "ids": _id_runs(new_ids), "statuses": statuses,
                 "fingerprints_sha256": digest.hexdigest()},
            )  # fmt: skip
        await self.audit.flush(sql)


@asynccontextmanager
async def bulk_import(
    w: Writer,
    *,
    on_duplicate: DuplicatePolicy = "skip",
    audit: AuditMode = "entity",
    defer: bool | None = None,
) -> AsyncIterator[BulkImport]:
    """An import in the writer's transaction. `defer`: None builds the secondary indexes (and on
    PostgreSQL checks the foreign keys) of the tables empty at the start once at the end (see
    _Deferred); True does so for every table it writes, False for none.

    The import runs in a savepoint: if the body raises, nothing of the import stays (its rows,
    its events, the indexes it dropped come back) even when the caller catches the error and
    commits what it wrote before. Database.write rolls back the whole transaction anyway."""
    load = BulkImport(w, on_duplicate=on_duplicate, audit=audit, defer=defer)
    # Events the transaction recorded before the import are chained first, outside the savepoint.
    await append_events(w.session, w)
    savepoint = await w.session.begin_nested()
    try:
        await load.begin()
        yield load
        await load.finish()
    except BaseException:
        await savepoint.rollback()
        w.session.expire_all()  # the audit head, should the session hold it, is as before again
        raise
    await savepoint.commit()


async def _large_page_cache(session: AsyncSession) -> None:
    """Give this SQLite connection a bulk writer's page cache (it keeps it: the setting is per
    connection, and a pool re-uses the connection)."""
    current = int(await session.scalar(sa.text("PRAGMA cache_size")) or 0)
    # Negative values are KiB, positive ones pages (of 4 KiB by default).
    if (-current if current < 0 else current * 4) < SQLITE_BULK_CACHE_KIB:
        await session.execute(sa.text(f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KIB}"))


# --- per-record checks and rows -----------------------------------------------------------

_SOURCE_COLUMNS = (
    "id", "kind", "title", "authors", "venue", "year", "published", "doi", "pmid", "url", "peer_reviewed",
    "ai_generated", "derived_from_id", "created_by_id", "created_at",
)  # fmt: skip
_COHORT_FIELDS = ("organism_id", "condition_id", "size", "female_count", "treatment_status", "sample_type")
_COHORT_COLUMNS = ("id", "source_id", "label", *_COHORT_FIELDS, "notes", "created_at")
_CLAIM_COLUMNS = (
    "id", "statement", "subject_target_id", "subject_intervention_id", "outcome_id", "direction",
    "modality", "evidence_type", "organism_id", "condition_id", "cohort_id", "comparator_id",
    "sample_type", "effect_size", "effect_measure", "p_value", "ci_low", "ci_high", "source_id",
    "status", "version", "fingerprint", "created_by_id", "created_at", "updated_at", "last_edited_by_id",
)  # fmt: skip
# The fields of a claim's "claim.create" event, as api.store.commands.claims.claim_snapshot: the
# first 18 are _CheckedClaim.values, in _CLAIM_COLUMNS order.
_SNAPSHOT_VALUES = _CLAIM_COLUMNS[1:19]
_EVIDENCE_COLUMNS = ("claim_id", "position", "source_id", "quote", "locator", "stance", "created_at")
_EVIDENCE_KEYS = ("position", "source_id", "quote", "locator", "stance")
_TARGET_COLUMNS = ("claim_id", "target_id", "via_intervention_id", "target_direction")
_SEARCH_COLUMNS = ("claim_id", "document")


def _check_source(problems: _Problems, i: int, rec: SourceRecord, known_sources: set[int]) -> dict[str, Any]:
    """create_source's rules; the checked values, keyed as source_snapshot keys them."""
    kind = _enum(problems, i, SourceKind, rec.kind, "kind")
    title = _label(problems, i, rec.title, MAX_TITLE, "title", required=True)
    venue = _label(problems, i, rec.venue, MAX_LABEL, "venue", required=False)
    authors = [
        _label(problems, i, a, MAX_LABEL, "authors", str(n), required=True) for n, a in enumerate(rec.authors)
    ]
    doi = pmid = None
    if rec.doi is not None and rec.doi.strip():
        try:
            doi = normalize_doi(rec.doi)
        except IdentifierError as exc:
            problems.add(i, str(exc), "doi")
    if rec.pmid is not None and str(rec.pmid).strip():
        try:
            pmid = normalize_pmid(rec.pmid)
        except IdentifierError as exc:
            problems.add(i, str(exc), "pmid")
    if rec.year is not None and not 1500 <= rec.year <= 2200:
        problems.add(i, f"year {rec.year} is outside 1500-2200", "year")
    if rec.published is not None and rec.year is not None and rec.published.year != rec.year:
        problems.add(i, "published and year disagree", "published")
    url = (rec.url or "").strip() or None
    if url is not None and (not url.lower().startswith(("http://", "https://")) or len(url) > 2000):
        problems.add(i, "url must be an http(s) address of at most 2000 characters", "url")
    _check_ref(problems, i, rec.derived_from_id, known_sources, "source", "derivedFrom")
    return {
        "kind": kind.value if kind is not None else None,
        "title": title,
        "authors": authors,
        "venue": venue,
        "year": rec.year if rec.year is not None else (rec.published.year if rec.published else None),
        "published": rec.published,
        "doi": doi,
        "pmid": pmid,
        "url": url,
        "peer_reviewed": bool(rec.peer_reviewed),
        "ai_generated": bool(rec.ai_generated),
        "derived_from_id": rec.derived_from_id,
    }


def _refuse_repeats(problems: _Problems, start: int, checked: list[dict[str, Any]], *keys: str) -> None:
    """Two records of one chunk may not share a DOI or a PMID."""
    for key in keys:
        seen: dict[str, int] = {}
        for offset, c in enumerate(checked):
            value = c[key]
            if value is None:
                continue
            if value in seen:
                problems.add(start + offset, f"{key} {value} is also given to record {seen[value]}", key)
            seen[value] = start + offset


def _check_cohort(
    problems: _Problems, i: int, rec: CohortRecord, known: dict[str, set[int]]
) -> dict[str, Any]:
    """create_claim's rules for a cohort; the checked values, keyed as its audit event keys them."""
    label = _label(problems, i, rec.label, MAX_LABEL, "label", required=True)
    if rec.size is not None and rec.size < 0:
        problems.add(i, "size must not be negative", "size")
    if rec.female_count is not None:
        if rec.female_count < 0:
            problems.add(i, "femaleCount must not be negative", "femaleCount")
        elif rec.size is not None and rec.female_count > rec.size:
            problems.add(i, "femaleCount must not exceed size", "femaleCount")
    _check_ref(problems, i, rec.source_id, known["source"], "source", "source")
    _check_ref(problems, i, rec.organism_id, known["organism"], "organism", "organism")
    _check_ref(problems, i, rec.condition_id, known["condition"], "condition", "condition")
    return {
        "source_id": rec.source_id,
        "label": label,
        "organism_id": rec.organism_id,
        "condition_id": rec.condition_id,
        "size": rec.size,
        "female_count": rec.female_count,
        "treatment_status": _label(
            problems, i, rec.treatment_status, MAX_LABEL, "treatmentStatus", required=False
        ),
        "sample_type": _label(problems, i, rec.sample_type, _MAX_SAMPLE_TYPE, "sampleType", required=False),
        "notes": _label(problems, i, rec.notes, MAX_STATEMENT, "notes", required=False),
    }


def _check_agrees(problems: _Problems, i: int, c: dict[str, Any], found: dict[str, Any]) -> None:
    """A cohort already stored under the record's (source, label) must not be contradicted."""
    for name in _COHORT_FIELDS:
        if c[name] is not None and found[name] != c[name]:
            problems.add(i, f"this source's cohort '{c['label']}' already has {name} = {found[name]!r}", name)


@dataclass(frozen=True, slots=True)
class _ClaimRefs:
    sources: set[int]
    cohorts: dict[int, tuple[int, int]]  # id → (source id, organism id)


@dataclass(frozen=True, slots=True)
class _CheckedClaim:
    """A claim that passed every check: its column values, ready to write."""

    values: tuple  # _CLAIM_COLUMNS "statement" .. "source_id"
    status: str
    fingerprint: str
    evidence: list[tuple]  # (position, source id, quote, locator, stance)
    direction: EffectDirection
    subject_target_id: int | None
    subject_intervention_id: int | None


def _check_claim(
    problems: _Problems, i: int, rec: ClaimRecord, vocab: _Vocab, refs: _ClaimRefs, admin: bool
) -> _CheckedClaim | None:
    """create_claim's rules for one record; None (and problems) when it breaks any."""
    before = len(problems.errors)
    statement = _label(problems, i, rec.statement, MAX_STATEMENT, "statement", required=True)
    sample_type = _label(problems, i, rec.sample_type, _MAX_SAMPLE_TYPE, "sampleType", required=False)
    measure = _label(problems, i, rec.effect_measure, 100, "statistics", "effectMeasure", required=False)
    direction = _enum(problems, i, EffectDirection, rec.direction, "direction")
    modality = _enum(problems, i, Modality, rec.modality, "modality")
    evidence_type = _enum(problems, i, EvidenceType, rec.evidence_type, "evidenceType")
    status = _enum(problems, i, ClaimStatus, rec.status, "status")
    if status is not None and status not in _CURATOR_STATUSES and not admin:
        problems.add(
            i, f"importing a claim as {status.value} needs the admin role", "status",
            code=UserErrorCode.FORBIDDEN,
        )  # fmt: skip
    if (rec.subject_target_id is None) == (rec.subject_intervention_id is None):
        problems.add(i, "give exactly one of target and intervention as the claim's subject", "target")
    _check_ref(problems, i, rec.subject_target_id, vocab.targets, "target", "target")
    _check_ref(problems, i, rec.subject_intervention_id, vocab.interventions, "intervention", "intervention")
    _check_ref(problems, i, rec.outcome_id, vocab.outcomes, "outcome", "outcome")
    _check_ref(problems, i, rec.organism_id, vocab.organisms, "organism", "organism")
    _check_ref(problems, i, rec.condition_id, vocab.conditions, "condition", "condition")
    _check_ref(problems, i, rec.source_id, refs.sources, "source", "source")
    for name, cohort_id in (("cohort", rec.cohort_id), ("comparator", rec.comparator_id)):
        if cohort_id is None:
            continue
        owner = refs.cohorts.get(cohort_id)
        if owner is None:
            problems.add(i, f"no cohort has id {cohort_id}", name, code=UserErrorCode.NOT_FOUND)
        elif owner[0] != rec.source_id:
            problems.add(i, f"cohort {cohort_id} belongs to another source than the claim", name)
        elif owner[1] != rec.organism_id:
            problems.add(i, f"cohort {cohort_id} belongs to another organism than the claim", name)
    if not (rec.effect_size is None and rec.p_value is None and rec.ci_low is None and rec.ci_high is None):
        _check_statistics(problems, i, rec)
    if not rec.evidence:
        problems.add(i, "a claim needs at least one quote from its source", "evidence")
    elif len(rec.evidence) > MAX_EVIDENCE:
        problems.add(i, f"at most {MAX_EVIDENCE} quotes per claim", "evidence")
    evidence = [
        _check_evidence(problems, i, n, ev, rec.source_id, refs.sources) for n, ev in enumerate(rec.evidence)
    ]
    if len(problems.errors) != before:
        return None
    assert direction is not None and modality is not None and evidence_type is not None and status is not None
    fingerprint = claim_fingerprint(
        source_id=rec.source_id, subject_target_id=rec.subject_target_id,
        subject_intervention_id=rec.subject_intervention_id, outcome_id=rec.outcome_id,
        direction=direction.value, organism_id=rec.organism_id, condition_id=rec.condition_id,
        cohort_id=rec.cohort_id, comparator_id=rec.comparator_id, sample_type=sample_type,
    )  # fmt: skip
    values = (
        statement, rec.subject_target_id, rec.subject_intervention_id, rec.outcome_id, direction.value,
        modality.value, evidence_type.value, rec.organism_id, rec.condition_id, rec.cohort_id,
        rec.comparator_id, sample_type, _float(rec.effect_size), measure, _float(rec.p_value),
        _float(rec.ci_low), _float(rec.ci_high), rec.source_id,
    )  # fmt: skip
    return _CheckedClaim(
        values,
        status.value,
        fingerprint,
        evidence,
        direction,
        rec.subject_target_id,
        rec.subject_intervention_id,
    )


def _check_statistics(problems: _Problems, i: int, rec: ClaimRecord) -> None:
    """check_statistics of api.store.commands.claims."""
    _finite(problems, i, rec.effect_size, "effectSize")
    if _finite(problems, i, rec.p_value, "pValue") and not 0 <= rec.p_value <= 1:  # type: ignore[operator]
        problems.add(i, "pValue must be between 0 and 1", "statistics", "pValue")
    low, high = _finite(problems, i, rec.ci_low, "ciLow"), _finite(problems, i, rec.ci_high, "ciHigh")
    if low and high and rec.ci_low > rec.ci_high:  # type: ignore[operator]
        problems.add(i, "ciLow must not exceed ciHigh", "statistics", "ciLow")


def _check_evidence(
    problems: _Problems, i: int, position: int, ev: EvidenceRecord, claim_source: int, sources: set[int]
) -> tuple:
    path = ("evidence", str(position))
    quote = (ev.quote or "").strip()
    if not quote:
        problems.add(i, "quote must not be empty", *path, "quote")
    elif len(quote) > MAX_QUOTE:
        problems.add(i, f"quote is {len(quote)} characters; at most {MAX_QUOTE} are allowed", *path, "quote")
    locator = _label(problems, i, ev.locator, MAX_LABEL, *path, "locator", required=False)
    stance = _enum(problems, i, Stance, ev.stance, "stance", *path, "stance")
    if ev.source_id is not None and ev.source_id not in sources:
        problems.add(i, f"no source has id {ev.source_id}", *path, "source", code=UserErrorCode.NOT_FOUND)
    return (position, ev.source_id or claim_source, quote, locator, stance.value if stance else None)


def _bearing(c: _CheckedClaim, vocab: _Vocab) -> list[tuple]:
    """The claim's claim_target rows without the claim id, as write_claim_targets computes them."""
    if c.subject_target_id is not None:
        return [(c.subject_target_id, None, c.direction.value)]
    rows = []
    for target_id, action in vocab.actions.get(c.subject_intervention_id, ()):  # type: ignore[arg-type]
        level = target_level_direction(c.direction, action)
        rows.append((target_id, c.subject_intervention_id, level.value if level else None))
    return rows


def _claim_snapshot(c: _CheckedClaim) -> dict[str, Any]:
    """The "claim.create" event's content, as create_claim records it (claim_snapshot + quotes)."""
    after: dict[str, Any] = dict(zip(_SNAPSHOT_VALUES, c.values, strict=True))
    after["status"] = c.status
    after["version"] = 1
    after["evidence"] = [dict(zip(_EVIDENCE_KEYS, ev, strict=True)) for ev in c.evidence]
    return after


# --- one-call conveniences ----------------------------------------------------------------


async def import_sources(w: Writer, records: Sequence[SourceRecord], *, start: int = 0) -> BatchResult:
    """One chunk of sources as a whole import (see bulk_import for several chunks)."""
    async with bulk_import(w) as load:
        return await load.sources(records, start=start)


async def import_cohorts(w: Writer, records: Sequence[CohortRecord], *, start: int = 0) -> BatchResult:
    async with bulk_import(w) as load:
        return await load.cohorts(records, start=start)


async def import_claims(
    w: Writer,
    records: Sequence[ClaimRecord],
    *,
    start: int = 0,
    on_duplicate: DuplicatePolicy = "skip",
    audit: AuditMode = "entity",
) -> BatchResult:
    async with bulk_import(w, on_duplicate=on_duplicate, audit=audit) as load:
        return await load.claims(records, start=start)


async def _batches(records: Iterable[Any] | AsyncIterable[Any], size: int) -> AsyncIterator[list[Any]]:
    batch: list[Any] = []
    if isinstance(records, AsyncIterable):
        async for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
    else:
        for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


async def bulk_import_claims(
    db: Database,
    actor: Actor,
    records: Iterable[ClaimRecord] | AsyncIterable[ClaimRecord],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_duplicate: DuplicatePolicy = "skip",
    audit: AuditMode = "entity",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Stream claims into the database in one transaction, `batch_size` records at a time.

    All or nothing: a refused record raises its StoreError (every message names the record's
    position in `records` and the field) and nothing of the import stays."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    began = time.perf_counter()
    async with db.write(actor) as w, bulk_import(w, on_duplicate=on_duplicate, audit=audit) as load:
        async for batch in _batches(records, batch_size):
            result = await load.claims(batch)
            report.records += len(batch)
            report.inserted += result.inserted
            report.duplicates += result.duplicates
            report.batches += 1
            if progress is not None:
                progress(len(batch))
    report.seconds = time.perf_counter() - began
    return report
