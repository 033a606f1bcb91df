"""Bulk import: many records in one transaction, checked by the same rules and audited like the commands.

The store commands (api.store.commands) write one claim per transaction; that is right for a
curator and far too slow for loading a corpus. Here records come in chunks, inside one write
transaction:

    async with db.write(actor) as w, bulk_import(w) as load:
        source_ids = (await load.sources(source_records)).ids
        await load.claims(claim_records)          # as many chunks of each as you like

The records are the ones every way in uses (schema.records: SourceRecord, ClaimRecord), or
mappings that read as them (JSON, YAML), and they are checked with the rules every way in
applies (schema.validation: check_source, check_claim, cohort_disagreement). What needs the
database is looked up once per chunk: references by id (ids not seen yet make the vocabularies
be read again) or by text (names, aliases, CURIEs, DOIs, PMIDs, URLs, resolved as the commands
resolve them), a source's DOI and PMID, the cohorts a claim names by label, and the claims a
record would repeat.

- A source whose DOI or PMID is already stored names the existing source, so importing twice adds
  nothing; two records of a chunk may not share one.
- A claim record may give its source (or a quote's) in full: the stored source it names is
  reused when the record agrees with it, a new one is written with the chunk
  (api.store.bulk_sources, schema.source_match); earlier records' sources may be named by later ones.
- A claim's cohort and comparator are named by label within its source, as createClaim names
  them: a label the source has (in the database, or from an earlier claim of the import) is
  reused and must not be contradicted, a new one is created with the claim's organism.
- A claim repeating a live claim (the fingerprint of schema.claims), in the database or earlier in
  the import, is skipped (or refused, with on_duplicate="error"), so a repeated import adds no
  claims. Each claim's quotes, its claim_target rows (schema.bearing over its intervention's
  actions) and its claim_search document (as api.store.search writes it) go in with it.
- A claim is entered DRAFT, or SUBMITTED when its record says `submit`, unless `statuses` says
  otherwise; any status but those needs the admin role (as create_claim).

All or nothing: the import is one savepoint in the caller's transaction. A refused record raises
a StoreError whose messages name the record (its position among the import's records of that
kind: "claim 12: ...", field ("records", "12", ...)) and the field, and nothing of the import
stays, not even the chunks before it (the savepoint is rolled back; Database.write then rolls
back the whole transaction).

Audited like the commands: every source, cohort and claim gets the event its command records
("source.create", "cohort.create", "claim.create", with the same content), so a claim's history
shows who created it. The events are chained by api.store.audit.AuditChain, as every
transaction's are, but written chunk by chunk rather than held in Writer.pending until commit:
memory stays bounded by the chunk. audit="batch" records one event per chunk instead
("claim.bulk_import" naming the id runs and a digest of each claim's content, api.store.import_digest):
a fraction of the cost, and `claimsdb audit verify` still proves each imported claim unchanged; a
claim's history shows its chunk's event as its creation (api.store.queries.audit).

Fast because rows bypass the ORM (tuples to the driver: executemany on SQLite, COPY on
PostgreSQL), a chunk's look-ups are one query each, ids are allocated up front, SQLite's text
index is fed once per chunk, and, when a table is empty at the start, its secondary indexes are
built (and on PostgreSQL its foreign keys checked) once at the end instead of row by row (see
_Deferred). Memory is bounded by the chunk.
"""

from __future__ import annotations

import bisect
import time
from array import array
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store import aggregate_triggers, import_digest
from api.store.audit import AuditChain
from api.store.bulk_sources import GivenSources
from api.store.commands._common import require_role
from api.store.db import Database, Writer
from api.store.errors import Ref, StoreError, UserError, UserErrorCode
from api.store.import_digest import claim_digest
from api.store.resolve import SOURCE, _source_key, lookup_ids, resolve_id, resolve_source_id
from api.store.vocabularies import VOCABULARIES
from schema.base import utcnow
from schema.bearing import target_level_direction
from schema.claims import claim_fingerprint
from schema.enums import ClaimStatus, EffectDirection, Role, TargetAction, VocabularyKind
from schema.records import ClaimRecord, CohortRecord, Record, SourceRecord
from schema.source_match import source_values
from schema.tables import (
    LIVE_STATUSES,
    AuditEvent,
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
from schema.validation import (
    COHORT_AGREES,
    CheckedClaim,
    CheckedCohort,
    CheckedSource,
    check_claim,
    check_source,
    cohort_disagreement,
    is_id,
    parse_record,
)

DEFAULT_BATCH = 5000
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
# A record, or data (a mapping) that reads as one.
SourceInput = SourceRecord | Mapping[str, Any]
ClaimInput = ClaimRecord | Mapping[str, Any]


@dataclass
class BatchResult:
    """What one chunk did: ids in record order (None where a record was skipped as a duplicate),
    and the cohorts and sources (given in full) its claims created."""

    ids: list[int | None]
    inserted: int
    duplicates: int
    cohorts: int = 0
    sources: int = 0


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


# --- problems -----------------------------------------------------------------------------


class _Problems:
    """Collects the errors of a chunk; each names the record (its position in the import)."""

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.errors: list[UserError] = []

    def add(self, index: int, message: str, *path: str, code: UserErrorCode = UserErrorCode.INVALID) -> None:
        self.errors.append(UserError(code, f"{self.noun} {index}: {message}", ("records", str(index), *path)))

    def extend(self, index: int, errors: Iterable[UserError]) -> None:
        """A validator's errors (paths relative to the record) about record `index`."""
        prefix = f"{self.noun} {index}: "
        self.errors.extend(e.within("records", str(index), prefix=prefix) for e in errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise StoreError(self.errors)


def _parsed(problems: _Problems, index: int, model: type[Record], data: Any) -> Any:
    """A record of `model` as given, or read from a mapping; None (and problems) if it is not one."""
    if isinstance(data, model):
        return data
    record, errors = parse_record(model, data)
    problems.extend(index, errors)
    return record


# --- references -----------------------------------------------------------------------------

Kind = VocabularyKind | Literal["source"]
# Names resolved by one statement (api.store.resolve.lookup_ids builds a UNION of one SELECT each).
_NAMES_PER_LOOKUP = 32


# The vocabularies, and the paths of a claim's references, as _resolve names them.
_T, _I, _O, _G, _C = (
    VocabularyKind.TARGET, VocabularyKind.INTERVENTION, VocabularyKind.OUTCOME, VocabularyKind.ORGANISM,
    VocabularyKind.CONDITION,
)  # fmt: skip
_AT_T, _AT_I, _AT_O, _AT_G, _AT_C, _AT_S = (
    ("target",),
    ("intervention",),
    ("outcome",),
    ("organism",),
    ("condition",),
    ("source",),
)


class _Wanted:
    """The references of a chunk to check: source ids, and text; whether an id of a vocabulary
    entry not seen yet came."""

    __slots__ = ("ids", "sources", "texts", "unknown")

    def __init__(self, vocab: _Vocab) -> None:
        self.ids = vocab.ids
        self.sources: set[int] = set()
        self.texts: set[tuple[Kind, str]] = set()
        self.unknown = False

    def add(self, kind: Kind, ref: int | str | None, required: bool) -> None:
        if ref is None:
            return
        if type(ref) is int:
            if kind == SOURCE:
                self.sources.add(ref)
            elif ref not in self.ids[kind]:
                self.unknown = True
        elif required or ref.strip():  # type: ignore[union-attr]
            self.texts.add((kind, ref))  # type: ignore[arg-type]


class _References:
    """What a chunk's references name. Ids are checked against what exists: the vocabularies
    (read once per import, and again when an id not seen yet comes: another writer may have
    added it) and the chunk's sources (one query). Text is resolved as the commands resolve it
    (api.store.resolve), each distinct name once; a name that resolves to nothing gets the
    commands' message (with the closest names)."""

    def __init__(self, load: BulkImport) -> None:
        self.load = load
        self.sources: set[int] = set()
        # The ids that exist, by kind (the vocabularies' and the chunk's sources).
        self.known: dict[Kind, set[int]] = {}
        # Vocabulary names found by earlier chunks carry over (the import's vocabulary names
        # are few and repeat in every chunk); sources and names not found are asked again.
        self.by_text: dict[tuple[Kind, str], int | None] = dict(load.names_found)
        self.missing: dict[tuple[Kind, str], UserError] = {}

    async def resolve(self, refs: Iterable[tuple[Kind, int | str | None, bool]]) -> None:
        """Look up (kind, reference, required) triples; an optional reference left out or blank
        names nothing and is not looked up."""
        wanted = _Wanted(self.load.vocab)
        for kind, ref, required in refs:
            wanted.add(kind, ref, required)
        await self._look_up(wanted)

    async def resolve_claims(self, records: Iterable[ClaimRecord]) -> None:
        """resolve() for what claim records name, walked without building a triple per
        reference (a large import names millions)."""
        wanted = _Wanted(self.load.vocab)
        add, ids, sources = wanted.add, self.load.vocab.ids, wanted.sources
        targets, interventions, outcomes, organisms, conditions = (ids[k] for k in (_T, _I, _O, _G, _C))
        for r in records:
            # An id already known needs nothing: tested here, without a call (the common case).
            ref = r.target
            if ref is not None and not (type(ref) is int and ref in targets):
                add(_T, ref, False)
            ref = r.intervention
            if ref is not None and not (type(ref) is int and ref in interventions):
                add(_I, ref, False)
            ref = r.outcome
            if not (type(ref) is int and ref in outcomes):
                add(_O, ref, True)
            ref = r.organism
            if not (type(ref) is int and ref in organisms):
                add(_G, ref, True)
            ref = r.condition
            if ref is not None and not (type(ref) is int and ref in conditions):
                add(_C, ref, False)
            ref = r.source
            if type(ref) is int:
                sources.add(ref)
            else:
                add(SOURCE, ref, True)
            for ev in r.evidence:
                if ev.source is not None:
                    add(SOURCE, ev.source, False)
            for cohort in (r.cohort, r.comparator):
                if cohort is not None and cohort.condition is not None:
                    add(_C, cohort.condition, False)
        await self._look_up(wanted)

    async def _look_up(self, wanted: _Wanted) -> None:
        vocab = self.load.vocab
        if wanted.unknown:
            await vocab.load(self.load.session)
        self.sources = await self.load.sql.existing_ids("source", (i for i in wanted.sources if is_id(i)))
        self.known = {**vocab.ids, SOURCE: self.sources}
        texts = wanted.texts - self.by_text.keys()
        if not texts:
            return
        texts -= await self._sources_by_identifier(texts)
        ordered = sorted(texts, key=lambda t: (str(t[0]), t[1]))
        found: list[int | None] = []
        for first in range(0, len(ordered), _NAMES_PER_LOOKUP):
            found += await lookup_ids(self.load.session, ordered[first : first + _NAMES_PER_LOOKUP])
        for (kind, text), id_ in zip(ordered, found, strict=True):
            self.by_text[kind, text] = id_
            if id_ is None:
                self.missing[kind, text] = await self._not_found(kind, text)
            elif kind != SOURCE:
                self.load.names_found[kind, text] = id_
                if id_ not in vocab.ids[kind]:
                    await vocab.load(self.load.session)
                    self.known = {**vocab.ids, SOURCE: self.sources}

    async def _sources_by_identifier(self, texts: set[tuple[Kind, str]]) -> set[tuple[Kind, str]]:
        """Resolve the sources named by DOI or PMID (nearly all of an import's) with one query
        per column for the chunk, as lookup_ids reads them; the texts resolved. A name that
        finds nothing is left for lookup_ids, which gives the commands' message."""
        by_column: dict[str, dict[str, list[str]]] = {"doi": {}, "pmid": {}}
        for kind, text in texts:
            if kind == SOURCE and (key := _source_key(text.strip())) is not None:
                by_column[key[0]].setdefault(key[1], []).append(text)
        done: set[tuple[Kind, str]] = set()
        for column, wanted in by_column.items():
            found = await self.load.sql.fetch_in(
                f"SELECT {column}, id FROM source WHERE {column} IN ?", wanted, "text"
            )
            for value, id_ in found:
                for text in wanted[value]:
                    self.by_text[SOURCE, text] = id_
                    done.add((SOURCE, text))
        return done

    async def _not_found(self, kind: Kind, text: str) -> UserError:
        """The commands' error for a name that names nothing (or, for a URL, several sources)."""
        session = self.load.session
        try:
            if kind == SOURCE:
                await resolve_source_id(session, text, ())
            else:
                await resolve_id(session, VocabularyKind(kind), text, ())
        except StoreError as exc:
            return exc.errors[0]
        raise AssertionError(f"{kind} '{text}' resolved on the second look-up")  # pragma: no cover

    def id(self, kind: Kind, ref: int | str) -> int | None:
        if type(ref) is int:
            return ref if ref in self.known[kind] else None
        return self.by_text.get((kind, ref))  # type: ignore[arg-type]

    def take(
        self,
        problems: _Problems,
        index: int,
        kind: Kind,
        ref: int | str | None,
        path: tuple[str, ...],
        required: bool,
    ) -> int | None:
        """The id a reference names; None for an optional one left out or blank; else None and
        a problem saying why."""
        if type(ref) is int:
            if ref in self.known[kind]:
                return ref
            noun = "source" if kind == SOURCE else VOCABULARIES[VocabularyKind(kind)].noun
            problems.add(index, f"no {noun} has id {ref}", *path, code=UserErrorCode.NOT_FOUND)
            return None
        if ref is None or not (required or ref.strip()):  # type: ignore[union-attr]
            return None
        found = self.by_text.get((kind, ref))  # type: ignore[arg-type]
        if found is None:
            problems.extend(index, [self.missing[kind, ref].within(*path)])  # type: ignore[index]
        return found


# --- audit ----------------------------------------------------------------------------------


class _AuditRows:
    """The import's audit events, chained by api.store.audit.AuditChain (as every transaction's
    are) and written chunk by chunk with the driver's own bulk insert. Events the writer
    recorded before the import are chained first (bulk_import appends them); events recorded
    after it are chained after the import's at commit, since the head moves here. The head row
    stays locked until commit, so concurrent writers queue behind the import, as they must for
    one chain."""

    COLUMNS = (
        "id", "at", "actor_id", "action", "entity_type", "entity_id", "before", "after", "comment",
        "request_id", "previous_hash", "hash",
    )  # fmt: skip

    def __init__(self, w: Writer) -> None:
        self.chain = AuditChain(w.session, w.actor.user_id, w.request_id)
        self.session = w.session
        self.rows: list[tuple] = []
        self.at = utcnow()
        self._at_stored: Any = None
        self._null: Any = _bind(AuditEvent.__table__.c.before, w.session)(None)

    async def open(self) -> None:
        await self.chain.open()

    def stamp(self, at: datetime) -> None:
        """The time of the events that follow (one per chunk: they are written together)."""
        self.at = at
        self._at_stored = _bind(AuditEvent.__table__.c.at, self.session)(at)

    def add(self, action: str, entity_type: str, entity_id: int, after: dict[str, Any]) -> None:
        """Chain one event. `after` holds JSON values only (as Writer.record's json_safe makes them)."""
        event = self.chain.append(self.at, action, entity_type, entity_id, after=after)
        content = event.content
        self.rows.append(
            (content.id, self._at_stored, content.actor_id, action, entity_type, entity_id, self._null,
             _json_text(after), None, content.request_id, event.previous_hash, event.hash)
        )  # fmt: skip

    async def flush(self, sql: _Sql) -> None:
        await sql.insert("audit_event", self.COLUMNS, self.rows)
        self.rows = []

    async def close(self, sql: _Sql) -> None:
        await self.flush(sql)
        await self.chain.close()


@dataclass
class _Vocab:
    """The small vocabularies' ids (a few hundred each) and the interventions' actions."""

    ids: dict[Kind, set[int]] = field(default_factory=dict)
    actions: dict[int, list[tuple[int, TargetAction]]] = field(default_factory=dict)

    async def load(self, session: AsyncSession) -> None:
        async def ids(table: Any) -> set[int]:
            return set((await session.scalars(sa.select(table.id))).all())

        self.ids = {
            VocabularyKind.TARGET: await ids(Target),
            VocabularyKind.INTERVENTION: await ids(Intervention),
            VocabularyKind.OUTCOME: await ids(Outcome),
            VocabularyKind.ORGANISM: await ids(Organism),
            VocabularyKind.CONDITION: await ids(Condition),
        }
        self.actions = {}
        rows = await session.execute(
            sa.select(
                InterventionAction.intervention_id, InterventionAction.target_id, InterventionAction.action
            ).order_by(InterventionAction.intervention_id, InterventionAction.target_id)
        )
        for intervention_id, target_id, action in rows.all():
            self.actions.setdefault(intervention_id, []).append((target_id, TargetAction(action)))


@dataclass(slots=True)
class _Row:
    """A claim that passed every check: its column values, ready to write."""

    values: tuple  # _CLAIM_COLUMNS "statement" .. "source_id"
    status: str
    fingerprint: str
    evidence: list[tuple]  # (position, source id, quote, locator, stance)
    direction: EffectDirection
    subject_target_id: int | None
    subject_intervention_id: int | None


# --- the database -------------------------------------------------------------------------


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

    Likewise, when claim_target is empty the maintained aggregates' triggers (two upserts per
    claim and target, api/store/aggregate_triggers.py) are dropped and the aggregates counted in
    one GROUP BY each at the end, then the triggers made again: the aggregates of an empty
    claim_target are empty, so the count from all claims is exactly what the triggers would keep.
    When it is not, only the claim_target insert trigger is set aside (dropped on SQLite,
    disabled on PostgreSQL, where dropping would lock claim_target against every reader until
    commit) and each chunk's rows are counted in by one grouped upsert per aggregate
    (count_aggregates).
    """

    TABLES = ("source", "cohort", "claim", "evidence", "claim_target", "claim_search")
    KEEP = frozenset({"uq_claim_live_fingerprint"})
    FTS_TRIGGER = "claim_search_ai"  # alembic 0002: claim_search → claim_fts on insert
    AGGREGATE_TRIGGER = "claim_target_aggregates_ai"  # aggregate_triggers: claim_target insert

    def __init__(self, session: AsyncSession, sqlite: bool) -> None:
        self.session = session
        self.sqlite = sqlite
        self.indexes: list[str] = []  # CREATE INDEX statements of the dropped indexes
        self.foreign_keys: list[str] = []  # ALTER TABLE ... ADD CONSTRAINT, PostgreSQL
        self.trigger: str | None = None  # the FTS trigger's CREATE statement while it is dropped
        # The statement that puts the aggregates' claim_target insert trigger back, while it is
        # set aside (SQLite: its CREATE; PostgreSQL: ENABLE).
        self.aggregate_trigger: str | None = None
        self.aggregates_deferred = False  # the aggregate triggers are dropped until finish()

    async def begin(self, enabled: bool | None) -> None:
        if self.sqlite:
            self.trigger = await self._take_trigger(self.FTS_TRIGGER)
        if enabled is not False and await self._is_empty("claim_target"):
            for table in aggregate_triggers.TABLES:
                for statement in aggregate_triggers.drops(self._dialect, table):
                    await self._execute(statement)
            self.aggregates_deferred = True
        elif self.sqlite:
            self.aggregate_trigger = await self._take_trigger(self.AGGREGATE_TRIGGER)
        else:
            # Disabling takes a SHARE ROW EXCLUSIVE lock: readers go on, other writers of
            # claim_target wait for the commit (they queue behind the import's audit head anyway).
            await self._execute(f"ALTER TABLE claim_target DISABLE TRIGGER {self.AGGREGATE_TRIGGER}")
            self.aggregate_trigger = f"ALTER TABLE claim_target ENABLE TRIGGER {self.AGGREGATE_TRIGGER}"
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
        for trigger in (self.trigger, self.aggregate_trigger):
            if trigger is not None:
                await self._execute(trigger)
        self.trigger = self.aggregate_trigger = None
        if self.aggregates_deferred:
            for agg in aggregate_triggers.AGGREGATES:
                await self._execute(aggregate_triggers.backfill(agg))
            for table in aggregate_triggers.TABLES:
                for statement in aggregate_triggers.triggers(self._dialect, table):
                    await self._execute(statement)
            self.aggregates_deferred = False

    @property
    def _dialect(self) -> str:
        return "sqlite" if self.sqlite else "postgresql"

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

    async def _take_trigger(self, name: str) -> str | None:
        """Drop a SQLite trigger until finish(); its CREATE statement, or None if there is none."""
        sql = await self.session.scalar(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"), {"n": name}
        )
        if sql is not None:
            await self._execute(f"DROP TRIGGER {name}")
        return sql

    async def count_aggregates(self, sql: _Sql, claim_ids: list[int]) -> None:
        """Count the claim_target rows of these new claims into the maintained aggregates, as
        the insert trigger set aside would have: one grouped upsert per aggregate instead of two
        upserts per row (a tenth to a quarter of a large import's time)."""
        if self.aggregate_trigger is None:
            return
        if self.sqlite:  # a chunk's claims are one run of ids there (allocated under the lock)
            where, params = "ct.claim_id BETWEEN ? AND ?", (claim_ids[0], claim_ids[-1])
        else:  # a sequence's ids may interleave with another session's
            where = "ct.claim_id BETWEEN ? AND ? AND ct.claim_id = ANY(?::int[])"  # the range for the plan
            params = (min(claim_ids), max(claim_ids), claim_ids)
        for agg in aggregate_triggers.AGGREGATES:
            await sql.fetch(aggregate_triggers.add_counted(agg, where, self._dialect), *params)

    async def index_text(self, sql: _Sql, first_id: int, last_id: int) -> None:
        """Feed claim_fts the claim_search rows of claims first_id..last_id (SQLite only), as the
        dropped trigger would have, in one statement."""
        if self.trigger is not None:
            await sql.driver.execute(
                "INSERT INTO claim_fts (rowid, document) SELECT claim_id, document FROM claim_search "
                "WHERE claim_id BETWEEN ? AND ?",
                (first_id, last_id),
            )


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
        self.audit = _AuditRows(w)
        self.deferred = _Deferred(w.session, self.sqlite)
        # Records seen so far, per kind: the position an error names.
        self.seen = {"source": 0, "claim": 0}
        # Claim id → record position of this import's claims, to name the record a later record
        # repeats (the claim is not in the database yet, and will not be). Kept only when
        # duplicates are errors: 16 bytes a claim.
        self.claim_ids = array("q")
        self.claim_positions = array("q")
        # Vocabulary names (not sources) resolved so far, by (kind, name): see _References.
        self.names_found: dict[tuple[Kind, str], int] = {}
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

    async def sources(self, records: Sequence[SourceInput], *, start: int | None = None) -> BatchResult:
        """Insert a chunk of sources; ids come back in record order. A source whose DOI or PMID
        is already stored is not added again: its id is returned."""
        require_role(self.w.actor, Role.CURATOR, "importing sources")
        start = self._start("source", len(records), start)
        problems = _Problems("source")
        checked: list[CheckedSource | None] = []
        for n, data in enumerate(records):
            record = _parsed(problems, start + n, SourceRecord, data)
            found, errors = check_source(record) if record is not None else (None, ())
            problems.extend(start + n, errors)
            checked.append(found)
        refs = _References(self)
        await refs.resolve((SOURCE, c.derived_from, False) for c in checked if c is not None)
        values: list[dict[str, Any]] = []
        for n, c in enumerate(checked):
            if c is None:
                continue
            derived_from_id = refs.take(problems, start + n, SOURCE, c.derived_from, ("derivedFrom",), False)
            values.append(source_values(c, derived_from_id))
        problems.raise_if_any()
        _refuse_repeats(problems, start, values, "doi", "pmid")
        problems.raise_if_any()

        existing = await self._sources_by_identifier(values)
        ids: list[int | None] = [
            existing.get(("doi", c["doi"])) or existing.get(("pmid", c["pmid"])) for c in values
        ]
        fresh = [offset for offset, known in enumerate(ids) if known is None]
        if fresh:
            new_ids = await self.sql.allocate_ids("source", len(fresh))
            for offset, new_id in zip(fresh, new_ids, strict=True):
                ids[offset] = new_id
            await self._write_sources([values[o] for o in fresh], new_ids)
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

    # claims ----------------------------------------------------------------------------

    async def claims(
        self,
        records: Sequence[ClaimInput],
        *,
        start: int | None = None,
        statuses: Sequence[ClaimStatus] | None = None,
    ) -> BatchResult:
        """Check and insert a chunk of claims (see the module doc), with the cohorts they name
        that their sources do not have yet. `statuses`: the status of each record's claim;
        by default DRAFT, or SUBMITTED when the record says `submit`."""
        require_role(self.w.actor, Role.CURATOR, "importing claims")
        if statuses is not None and len(statuses) != len(records):
            raise ValueError("give one status per record")
        start = self._start("claim", len(records), start)
        problems = _Problems("claim")
        admin = self.w.actor.can(Role.ADMIN)
        parsed: list[tuple[ClaimRecord, CheckedClaim, ClaimStatus] | None] = []
        for n, data in enumerate(records):
            i = start + n
            record = _parsed(problems, i, ClaimRecord, data)
            if record is None:
                parsed.append(None)
                continue
            checked, errors = check_claim(record)
            if errors:
                problems.extend(i, errors)
            if statuses is not None:
                status = ClaimStatus(statuses[n])
            else:
                status = ClaimStatus.SUBMITTED if record.submit else ClaimStatus.DRAFT
            if status not in _CURATOR_STATUSES and not admin:
                problems.add(
                    i, f"importing a claim as {status.value} needs the admin role", "status",
                    code=UserErrorCode.FORBIDDEN,
                )  # fmt: skip
            parsed.append(None if checked is None else (record, checked, status))
        given = GivenSources(self.sql, self.session.bind.dialect)
        await given.name(problems, start, parsed, _References(self))
        refs = _References(self)
        await refs.resolve_claims(item[0] for item in parsed if item is not None)
        refs.sources.update(given.new_ids)  # to be written with the chunk
        cohorts = _Cohorts(self)
        await cohorts.read(
            refs.id(SOURCE, item[0].source)
            for item in parsed
            if item is not None and (item[0].cohort is not None or item[0].comparator is not None)
        )
        resolved = [
            None if item is None else self._resolve(problems, start + n, *item, refs, cohorts)
            for n, item in enumerate(parsed)
        ]
        problems.raise_if_any()
        await cohorts.allocate()
        rows: list[_Row] = [_row(item, cohorts, self.vocab) for item in resolved if item is not None]
        keep = await self._new_claims(problems, start, rows)
        problems.raise_if_any()

        ids: list[int | None] = [None] * len(records)
        if given.new:
            await self._write_sources(given.new_values, given.new_ids)
        await self._write_cohorts(cohorts)
        if keep:
            new_ids = await self.sql.allocate_ids("claim", len(keep))
            for offset, claim_id in zip(keep, new_ids, strict=True):
                ids[offset] = claim_id
            await self._write_claims([rows[o] for o in keep], new_ids)
            if self.on_duplicate == "error":
                # Ids only grow (max + 1 under the lock, or a sequence), so the arrays stay sorted.
                self.claim_ids.extend(new_ids)
                self.claim_positions.extend(start + offset for offset in keep)
        return BatchResult(
            ids=ids, inserted=len(keep), duplicates=len(records) - len(keep), cohorts=len(cohorts.new),
            sources=len(given.new),
        )  # fmt: skip

    def _resolve(
        self,
        problems: _Problems,
        i: int,
        record: ClaimRecord,
        checked: CheckedClaim,
        status: ClaimStatus,
        refs: _References,
        cohorts: _Cohorts,
    ) -> _Resolved | None:
        """A checked claim with its references resolved and its cohorts named; None (and
        problems) when something it names is not there or a cohort it names disagrees."""
        before = len(problems.errors)
        # An id that exists is taken as it is, without a call: the common case in a large import.
        take, known = refs.take, refs.known
        ref = record.target
        target = ref if type(ref) is int and ref in known[_T] else take(problems, i, _T, ref, _AT_T, False)
        ref = record.intervention
        intervention = (
            ref if type(ref) is int and ref in known[_I] else take(problems, i, _I, ref, _AT_I, False)
        )
        ref = record.outcome
        outcome = ref if type(ref) is int and ref in known[_O] else take(problems, i, _O, ref, _AT_O, True)
        ref = record.organism
        organism = ref if type(ref) is int and ref in known[_G] else take(problems, i, _G, ref, _AT_G, True)
        ref = record.condition
        condition = ref if type(ref) is int and ref in known[_C] else take(problems, i, _C, ref, _AT_C, False)
        ref = record.source
        source = (
            ref if type(ref) is int and ref in known[SOURCE] else take(problems, i, SOURCE, ref, _AT_S, True)
        )
        evidence_sources = [
            None
            if ev.source is None
            else take(problems, i, SOURCE, ev.source, ("evidence", str(n), "source"), False)
            for n, ev in enumerate(record.evidence)
        ]
        cohort = comparator = None
        if record.cohort is not None:
            cohort = self._cohort(
                problems, i, "cohort", checked.cohort, record.cohort, refs, cohorts, source, organism, before
            )
        if record.comparator is not None:
            comparator = self._cohort(
                problems, i, "comparator", checked.comparator, record.comparator, refs, cohorts, source,
                organism, before,
            )  # fmt: skip
        if len(problems.errors) != before:
            return None
        assert outcome is not None and organism is not None and source is not None
        return _Resolved(
            checked, record, status, target, intervention, outcome, organism, condition, source,
            evidence_sources, cohort, comparator,
        )  # fmt: skip

    def _cohort(
        self,
        problems: _Problems,
        i: int,
        name: str,
        checked: CheckedCohort | None,
        given: CohortRecord,
        refs: _References,
        cohorts: _Cohorts,
        source: int | None,
        organism: int | None,
        before: int,
    ) -> tuple[int, str] | None:
        """The key of the cohort (or comparator) a claim names, its condition resolved; None
        when the claim has problems already (`before`: the problems it came with)."""
        condition = refs.take(problems, i, _C, given.condition, (name, "condition"), False)
        if checked is None or source is None or organism is None or len(problems.errors) != before:
            return None
        return cohorts.name(problems, i, name, checked, source, organism, condition)

    async def _new_claims(self, problems: _Problems, start: int, rows: list[_Row]) -> list[int]:
        """Offsets of the claims to insert: fingerprints are unique among live claims, in the
        database (including this import's earlier chunks) and within the chunk."""
        # The partial unique index answers this; SQLite must be told to use it (it would rather
        # read ix_claim_status, most of the table), and "live" is spelt as the index's condition.
        indexed = "INDEXED BY uq_claim_live_fingerprint" if self.sql.sqlite else ""
        found = await self.sql.fetch_in(
            f"SELECT fingerprint, id FROM claim {indexed} WHERE fingerprint IN ? AND {_LIVE_SQL}",
            (row.fingerprint for row in rows),
            "text",
        )
        live = dict(found)
        keep: list[int] = []
        seen: dict[str, int] = {}
        for offset, row in enumerate(rows):
            fp = row.fingerprint
            if fp in live or fp in seen:
                if self.on_duplicate == "error":
                    other = self._describe(live[fp]) if fp in live else f"record {start + seen[fp]}"
                    duplicate = UserError.naming(
                        UserErrorCode.DUPLICATE,
                        ("statement",),
                        "this source already has a claim with the same subject, outcome, direction and "
                        "context (",
                        other,
                        ")",
                    )
                    problems.extend(start + offset, [duplicate])
                continue
            if row.status in _LIVE:
                seen[fp] = offset
            keep.append(offset)
        return keep

    def _describe(self, claim_id: int) -> Ref | str:
        """A claim a record repeats: an earlier record of this import, or a stored claim."""
        i = bisect.bisect_left(self.claim_ids, claim_id)
        if i < len(self.claim_ids) and self.claim_ids[i] == claim_id:
            return f"record {self.claim_positions[i]}"
        return Ref("Claim", claim_id)

    async def _write_cohorts(self, cohorts: _Cohorts) -> None:
        if not cohorts.new:
            return
        now = utcnow()
        stamp = _bind(Cohort.__table__.c.created_at, self.session)(now)
        made = list(cohorts.new.values())
        rows = [
            (c["id"], c["source_id"], c["label"], c["organism_id"], c["condition_id"], c["size"],
             c["female_count"], c["treatment_status"], c["sample_type"], None, stamp)
            for c in made
        ]  # fmt: skip
        await self.sql.insert("cohort", _COHORT_COLUMNS, rows)
        self.audit.stamp(now)
        if self.audit_mode == "entity":
            for c in made:
                # As create_claim records a cohort it creates.
                self.audit.add("cohort.create", "Cohort", c["id"], {k: v for k, v in c.items() if k != "id"})
        else:
            new_ids = [c["id"] for c in made]
            self.audit.add(
                "cohort.bulk_import",
                "Cohort",
                new_ids[0],
                {"cohorts": len(new_ids), "ids": _id_runs(new_ids)},
            )
        await self.audit.flush(self.sql)

    async def _write_claims(self, rows: list[_Row], new_ids: list[int]) -> None:
        now = utcnow()
        stamp = _bind(Claim.__table__.c.created_at, self.session)(now)
        actor_id = self.w.actor.user_id
        claim_rows: list[tuple] = []
        evidence_rows: list[tuple] = []
        target_rows: list[tuple] = []
        search_rows: list[tuple] = []
        for c, claim_id in zip(rows, new_ids, strict=True):
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
        await self.deferred.count_aggregates(sql, new_ids)

        self.audit.stamp(now)
        if self.audit_mode == "entity":
            for c, claim_id in zip(rows, new_ids, strict=True):
                self.audit.add("claim.create", "Claim", claim_id, _claim_snapshot(c))
        else:
            counts: dict[str, int] = {}
            for c in rows:
                counts[c.status] = counts.get(c.status, 0) + 1
            # In claim id order, as the "ids" runs list them.
            digests = [
                claim_digest((*c.values, c.status, 1), c.evidence)
                for _, c in sorted(zip(new_ids, rows, strict=True), key=lambda pair: pair[0])
            ]
            self.audit.add(
                import_digest.ACTION,
                "Claim",
                new_ids[0],
                # Commits the event to exactly these claims and their content (api.store.import_digest).
                {"claims": len(new_ids), "ids": _id_runs(new_ids), "statuses": counts,
                 import_digest.DIGESTS: digests},
            )  # fmt: skip
        await self.audit.flush(sql)


@dataclass(slots=True)
class _Resolved:
    """A checked claim with the ids its references name and the keys of the cohorts it names."""

    checked: CheckedClaim
    record: ClaimRecord
    status: ClaimStatus
    target: int | None
    intervention: int | None
    outcome: int
    organism: int
    condition: int | None
    source: int
    evidence_sources: list[int | None]
    cohort: tuple[int, str] | None
    comparator: tuple[int, str] | None


class _Cohorts:
    """The cohorts a chunk's claims name by (source, label): those their sources have (in the
    database, this import's earlier chunks included) and those the chunk makes, in the order
    claims first name them (the order create_claim makes them in). The first claim naming a new
    cohort gives its values and organism; every later one must agree (cohort_disagreement)."""

    _COLUMNS = ("id", "source_id", "label", "organism_id", *(column for column, _ in COHORT_AGREES))

    def __init__(self, load: BulkImport) -> None:
        self.sql = load.sql
        self.stored: dict[tuple[int, str], dict[str, Any]] = {}
        self.new: dict[tuple[int, str], dict[str, Any]] = {}

    async def read(self, source_ids: Iterable[int | None]) -> None:
        found = await self.sql.fetch_in(
            f"SELECT {', '.join(self._COLUMNS)} FROM cohort WHERE source_id IN ?", source_ids
        )
        for values in found:
            row = dict(zip(self._COLUMNS, values, strict=True))
            self.stored[row["source_id"], row["label"]] = row

    def name(
        self,
        problems: _Problems,
        i: int,
        name: str,
        cohort: CheckedCohort,
        source_id: int,
        organism_id: int,
        condition_id: int | None,
    ) -> tuple[int, str]:
        key = (source_id, cohort.label)
        wanted = {
            "size": cohort.size,
            "female_count": cohort.female_count,
            "condition_id": condition_id,
            "treatment_status": cohort.treatment_status,
            "sample_type": cohort.sample_type,
        }
        found = self.stored.get(key) or self.new.get(key)
        if found is None:
            made = {"source_id": source_id, "label": cohort.label, "organism_id": organism_id}
            self.new[key] = {**made, **wanted}
        else:
            problem = cohort_disagreement(
                name, cohort.label, found, wanted, found["organism_id"] == organism_id
            )
            if problem is not None:
                problems.extend(i, [problem])
        return key

    async def allocate(self) -> None:
        if self.new:
            ids = await self.sql.allocate_ids("cohort", len(self.new))
            for row, id_ in zip(self.new.values(), ids, strict=True):
                row["id"] = id_

    def id(self, key: tuple[int, str] | None) -> int | None:
        if key is None:
            return None
        return (self.stored.get(key) or self.new[key])["id"]


def _row(r: _Resolved, cohorts: _Cohorts, vocab: _Vocab) -> _Row:
    """The claim's column values, fingerprint and quotes, as create_claim writes them."""
    c, record = r.checked, r.record
    cohort_id, comparator_id = cohorts.id(r.cohort), cohorts.id(r.comparator)
    direction = record.direction
    fingerprint = claim_fingerprint(
        source_id=r.source, subject_target_id=r.target, subject_intervention_id=r.intervention,
        outcome_id=r.outcome, direction=direction.value, organism_id=r.organism, condition_id=r.condition,
        cohort_id=cohort_id, comparator_id=comparator_id, sample_type=c.sample_type,
    )  # fmt: skip
    stats = c.statistics
    values = (
        c.statement, r.target, r.intervention, r.outcome, direction.value, record.modality.value,
        record.evidence_type.value, r.organism, r.condition, cohort_id, comparator_id, c.sample_type,
        stats["effect_size"], stats["effect_measure"], stats["p_value"], stats["ci_low"], stats["ci_high"],
        r.source,
    )  # fmt: skip
    evidence = [
        (position, source or r.source, ev.quote, ev.locator, ev.stance.value)
        for position, (ev, source) in enumerate(zip(c.evidence, r.evidence_sources, strict=True))
    ]
    return _Row(values, r.status.value, fingerprint, evidence, direction, r.target, r.intervention)


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


def _bearing(c: _Row, vocab: _Vocab) -> list[tuple]:
    """The claim's claim_target rows without the claim id, as write_claim_targets computes them."""
    if c.subject_target_id is not None:
        return [(c.subject_target_id, None, c.direction.value, None)]
    rows = []
    for target_id, action in vocab.actions.get(c.subject_intervention_id, ()):  # type: ignore[arg-type]
        level = target_level_direction(c.direction, action)
        rows.append((target_id, c.subject_intervention_id, level.value if level else None, action.value))
    return rows


def _claim_snapshot(c: _Row) -> dict[str, Any]:
    """The "claim.create" event's content, as create_claim records it (claim_snapshot + quotes)."""
    after: dict[str, Any] = dict(zip(_SNAPSHOT_VALUES, c.values, strict=True))
    after["status"] = c.status
    after["version"] = 1
    after["evidence"] = [dict(zip(_EVIDENCE_KEYS, ev, strict=True)) for ev in c.evidence]
    return after


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
    await w.append_pending()
    savepoint = await w.session.begin_nested()
    try:
        await load.begin()
        yield load
        await load.finish()
    except BaseException:
        await savepoint.rollback()
        w.session.expire_all()
        raise
    await savepoint.commit()


async def _large_page_cache(session: AsyncSession) -> None:
    """Give this SQLite connection a bulk writer's page cache (it keeps it: the setting is per
    connection, and a pool re-uses the connection)."""
    current = int(await session.scalar(sa.text("PRAGMA cache_size")) or 0)
    # Negative values are KiB, positive ones pages (of 4 KiB by default).
    if (-current if current < 0 else current * 4) < SQLITE_BULK_CACHE_KIB:
        await session.execute(sa.text(f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KIB}"))


# --- rows -------------------------------------------------------------------------------------

_SOURCE_COLUMNS = (
    "id", "kind", "title", "authors", "venue", "year", "published", "doi", "pmid", "url", "peer_reviewed",
    "ai_generated", "derived_from_id", "created_by_id", "created_at",
)  # fmt: skip
_COHORT_COLUMNS = (
    "id", "source_id", "label", "organism_id", "condition_id", "size", "female_count", "treatment_status",
    "sample_type", "notes", "created_at",
)  # fmt: skip
_CLAIM_COLUMNS = (
    "id", "statement", "subject_target_id", "subject_intervention_id", "outcome_id", "direction",
    "modality", "evidence_type", "organism_id", "condition_id", "cohort_id", "comparator_id",
    "sample_type", "effect_size", "effect_measure", "p_value", "ci_low", "ci_high", "source_id",
    "status", "version", "fingerprint", "created_by_id", "created_at", "updated_at", "last_edited_by_id",
)  # fmt: skip
# The fields of a claim's "claim.create" event, as api.store.commands.claims.claim_snapshot: the
# first 18 are _Row.values, in _CLAIM_COLUMNS order.
_SNAPSHOT_VALUES = _CLAIM_COLUMNS[1:19]
_EVIDENCE_COLUMNS = ("claim_id", "position", "source_id", "quote", "locator", "stance", "created_at")
_EVIDENCE_KEYS = ("position", "source_id", "quote", "locator", "stance")
_TARGET_COLUMNS = ("claim_id", "target_id", "via_intervention_id", "target_direction", "action")
_SEARCH_COLUMNS = ("claim_id", "document")


# --- one-call conveniences ----------------------------------------------------------------


async def import_sources(w: Writer, records: Sequence[SourceInput], *, start: int = 0) -> BatchResult:
    """One chunk of sources as a whole import (see bulk_import for several chunks)."""
    async with bulk_import(w) as load:
        return await load.sources(records, start=start)


async def import_claims(
    w: Writer,
    records: Sequence[ClaimInput],
    *,
    start: int = 0,
    statuses: Sequence[ClaimStatus] | None = None,
    on_duplicate: DuplicatePolicy = "skip",
    audit: AuditMode = "entity",
) -> BatchResult:
    async with bulk_import(w, on_duplicate=on_duplicate, audit=audit) as load:
        return await load.claims(records, start=start, statuses=statuses)


async def batches(records: Iterable[Any] | AsyncIterable[Any], size: int) -> AsyncIterator[list[Any]]:
    """`records` (plain or async) in lists of `size`, the last one shorter."""
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
    records: Iterable[ClaimInput] | AsyncIterable[ClaimInput],
    *,
    status: ClaimStatus | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_duplicate: DuplicatePolicy = "skip",
    audit: AuditMode = "entity",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Stream claims into the database in one transaction, `batch_size` records at a time, each
    in `status` (None: as its record says, DRAFT or SUBMITTED).

    All or nothing: a refused record raises its StoreError (every message names the record's
    position in `records` and the field) and nothing of the import stays."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    began = time.perf_counter()
    async with db.write(actor) as w, bulk_import(w, on_duplicate=on_duplicate, audit=audit) as load:
        async for batch in batches(records, batch_size):
            statuses = None if status is None else [status] * len(batch)
            result = await load.claims(batch, statuses=statuses)
            report.records += len(batch)
            report.inserted += result.inserted
            report.duplicates += result.duplicates
            report.batches += 1
            if progress is not None:
                progress(len(batch))
    report.seconds = time.perf_counter() - began
    return report
