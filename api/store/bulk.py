"""Bulk import: many already-resolved records at a time, validated and audited like the commands.

The store commands (api.store.commands) resolve names and write one claim per transaction; that
is right for a curator and far too slow for loading a corpus. Here the caller resolves names once
and hands over records whose references are ids. Each record is checked with the rules the
commands apply, then written in batches:

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

Every batch records one audit event ("source.bulk_import", "cohort.bulk_import",
"claim.bulk_import") that the write transaction hash-chains at commit like any other; with
audit="claim" each claim gets its own "claim.create" event instead. A refused record names its
position in the import and the field; its batch is rolled back whole (batches before it stay:
each is complete, valid and audited).

Claim rows bypass the ORM: the driver's executemany on SQLite, COPY on PostgreSQL. Memory is
bounded by the batch size: records are consumed from any iterable, one batch at a time.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.commands._common import require_role
from api.store.db import Database, Writer
from api.store.errors import StoreError, UserError, UserErrorCode
from api.store.ids import to_global_id
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
# parameters instead, neither SQLite nor a generic PostgreSQL plan can prove the index applies,
# and SQLite looks the fingerprints up through ix_claim_status, reading most of the table.
_LIVE_LITERAL = sa.text("claim.status IN (" + ", ".join(f"'{s}'" for s in _LIVE) + ")")
# Statuses a claim may be imported in by a curator; any other needs an admin (as create_claim).
_CURATOR_STATUSES = frozenset({ClaimStatus.DRAFT, ClaimStatus.SUBMITTED})
# Bound parameters per IN (...) list: far below SQLite's limit of 32766.
_IN_CHUNK = 5000
# SQLite page cache of a bulk writer's connection (KiB). The default 2 MiB makes every index
# insert beyond it a WAL look-up; a claim touches 14 claim indexes, so this is worth ~4x.
SQLITE_BULK_CACHE_KIB = 262_144

DuplicatePolicy = Literal["skip", "error"]
AuditMode = Literal["batch", "claim"]


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
    """What one batch did: ids in record order (None where a record was skipped as a duplicate)."""

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
    """Collects the errors of a batch; each names the record (its position in the import)."""

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


async def _existing_ids(session: AsyncSession, table: Any, ids: Iterable[int]) -> set[int]:
    wanted = sorted({i for i in ids if i is not None})
    found: set[int] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        found.update((await session.scalars(sa.select(table.id).where(table.id.in_(chunk)))).all())
    return found


def _check_ref(
    problems: _Problems, index: int, value: int | None, known: set[int], noun: str, name: str
) -> None:
    if value is not None and value not in known:
        problems.add(index, f"no {noun} has id {value}", name, code=UserErrorCode.NOT_FOUND)


def _id_runs(ids: Sequence[int]) -> list[list[int]]:
    """[[first, last], ...] for runs of consecutive ids: a compact list for the audit event."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and runs[-1][1] + 1 == i:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


async def _large_page_cache(session: AsyncSession) -> None:
    """Give this SQLite connection a bulk writer's page cache (it keeps it: the setting is per
    connection, and a pool re-uses the connection for the next batch)."""
    if session.bind.dialect.name != "sqlite":
        return
    current = int(await session.scalar(sa.text("PRAGMA cache_size")) or 0)
    # Negative values are KiB, positive ones pages (of 4 KiB by default).
    if (-current if current < 0 else current * 4) < SQLITE_BULK_CACHE_KIB:
        await session.execute(sa.text(f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KIB}"))


async def _driver(session: AsyncSession) -> Any:
    """The DB-API driver's own connection (aiosqlite or asyncpg), inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def _bind(column: Any, session: AsyncSession) -> Callable[[Any], Any]:
    """The column type's own encoding for this dialect (e.g. UTC timestamps on SQLite)."""
    dialect = session.bind.dialect
    processor = column.type.bind_processor(dialect)
    return processor if processor is not None else (lambda value: value)


# --- sources ------------------------------------------------------------------------------


async def import_sources(w: Writer, records: Sequence[SourceRecord], *, start: int = 0) -> BatchResult:
    """Insert a batch of sources in the writer's transaction; ids come back in record order. A
    source whose DOI or PMID is already stored is not added again: its id is returned."""
    require_role(w.actor, Role.CURATOR, "importing sources")
    problems = _Problems("source")
    session = w.session
    rows: list[dict[str, Any]] = []
    seen_doi: dict[str, int] = {}
    seen_pmid: dict[str, int] = {}
    derived = [r.derived_from_id for r in records if r.derived_from_id is not None]
    known_sources = await _existing_ids(session, Source, derived)
    for offset, rec in enumerate(records):
        i = start + offset
        kind = _enum(problems, i, SourceKind, rec.kind, "kind")
        title = _label(problems, i, rec.title, MAX_TITLE, "title", required=True)
        venue = _label(problems, i, rec.venue, MAX_LABEL, "venue", required=False)
        authors = [
            _label(problems, i, a, MAX_LABEL, "authors", str(n), required=True)
            for n, a in enumerate(rec.authors)
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
        for value, seen, name in ((doi, seen_doi, "doi"), (pmid, seen_pmid, "pmid")):
            if value is not None:
                if value in seen:
                    problems.add(i, f"{name} {value} is also given to record {seen[value]}", name)
                seen[value] = i
        if rec.year is not None and not 1500 <= rec.year <= 2200:
            problems.add(i, f"year {rec.year} is outside 1500-2200", "year")
        if rec.published is not None and rec.year is not None and rec.published.year != rec.year:
            problems.add(i, "published and year disagree", "published")
        url = (rec.url or "").strip() or None
        if url is not None and (not url.lower().startswith(("http://", "https://")) or len(url) > 2000):
            problems.add(i, "url must be an http(s) address of at most 2000 characters", "url")
        _check_ref(problems, i, rec.derived_from_id, known_sources, "source", "derivedFrom")
        rows.append(
            {
                "kind": kind,
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
                "created_by_id": w.actor.user_id,
            }
        )
    problems.raise_if_any()

    existing: dict[tuple[str, str], int] = {}
    for column, name, values in (
        (Source.doi, "doi", list(seen_doi)),
        (Source.pmid, "pmid", list(seen_pmid)),
    ):
        for chunk_start in range(0, len(values), _IN_CHUNK):
            chunk = values[chunk_start : chunk_start + _IN_CHUNK]
            for sid, value in (
                await session.execute(sa.select(Source.id, column).where(column.in_(chunk)))
            ).all():
                existing[(name, value)] = sid
    ids: list[int | None] = []
    fresh: list[int] = []  # offsets of the records to insert
    for offset, row in enumerate(rows):
        known = existing.get(("doi", row["doi"])) or existing.get(("pmid", row["pmid"]))
        ids.append(known)
        if known is None:
            fresh.append(offset)
    if fresh:
        created = await _insert_with_ids(session, Source, [rows[o] for o in fresh])
        for offset, new_id in zip(fresh, created, strict=True):
            ids[offset] = new_id
        w.record(
            "source.bulk_import",
            "Source",
            min(created),
            after={"sources": len(created), "ids": _id_runs(created), "existing": len(rows) - len(created)},
        )
    return BatchResult(ids=ids, inserted=len(fresh), duplicates=len(rows) - len(fresh))


async def _insert_with_ids(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows with ids allocated first (an executemany without RETURNING, which SQLite
    would otherwise run row by row to keep the ids in order)."""
    ids = await _allocate_ids(session, table.__tablename__, len(rows))
    await session.execute(sa.insert(table), [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


# --- cohorts ------------------------------------------------------------------------------

_COHORT_FIELDS = ("organism_id", "condition_id", "size", "female_count", "treatment_status", "sample_type")


async def import_cohorts(w: Writer, records: Sequence[CohortRecord], *, start: int = 0) -> BatchResult:
    """Insert a batch of cohorts; a (source, label) already stored is reused when it agrees with
    the record (as create_claim reuses a source's cohort by label), else refused."""
    require_role(w.actor, Role.CURATOR, "importing cohorts")
    problems = _Problems("cohort")
    session = w.session
    known_sources = await _existing_ids(session, Source, (r.source_id for r in records))
    known_organisms = await _existing_ids(session, Organism, (r.organism_id for r in records))
    known_conditions = await _existing_ids(session, Condition, (r.condition_id for r in records))
    rows: list[dict[str, Any]] = []
    keys: dict[tuple[int, str], int] = {}
    for offset, rec in enumerate(records):
        i = start + offset
        label = _label(problems, i, rec.label, MAX_LABEL, "label", required=True)
        if rec.size is not None and rec.size < 0:
            problems.add(i, "size must not be negative", "size")
        if rec.female_count is not None:
            if rec.female_count < 0:
                problems.add(i, "femaleCount must not be negative", "femaleCount")
            elif rec.size is not None and rec.female_count > rec.size:
                problems.add(i, "femaleCount must not exceed size", "femaleCount")
        _check_ref(problems, i, rec.source_id, known_sources, "source", "source")
        _check_ref(problems, i, rec.organism_id, known_organisms, "organism", "organism")
        _check_ref(problems, i, rec.condition_id, known_conditions, "condition", "condition")
        if label is not None:
            if (rec.source_id, label) in keys:
                problems.add(
                    i, f"label '{label}' is also given to record {keys[(rec.source_id, label)]}", "label"
                )
            keys[(rec.source_id, label)] = i
        rows.append(
            {
                "source_id": rec.source_id,
                "label": label,
                "organism_id": rec.organism_id,
                "condition_id": rec.condition_id,
                "size": rec.size,
                "female_count": rec.female_count,
                "treatment_status": _label(
                    problems, i, rec.treatment_status, MAX_LABEL, "treatmentStatus", required=False
                ),
                "sample_type": _label(
                    problems, i, rec.sample_type, _MAX_SAMPLE_TYPE, "sampleType", required=False
                ),
                "notes": _label(problems, i, rec.notes, MAX_STATEMENT, "notes", required=False),
            }
        )
    problems.raise_if_any()

    existing: dict[tuple[int, str], Any] = {}
    source_ids = sorted({r["source_id"] for r in rows})
    for chunk_start in range(0, len(source_ids), _IN_CHUNK):
        chunk = source_ids[chunk_start : chunk_start + _IN_CHUNK]
        for cohort in (await session.scalars(sa.select(Cohort).where(Cohort.source_id.in_(chunk)))).all():
            existing[(cohort.source_id, cohort.label)] = cohort
    ids: list[int | None] = []
    fresh: list[int] = []
    for offset, row in enumerate(rows):
        found = existing.get((row["source_id"], row["label"]))
        if found is None:
            ids.append(None)
            fresh.append(offset)
            continue
        for name in _COHORT_FIELDS:
            if row[name] is not None and getattr(found, name) != row[name]:
                problems.add(
                    start + offset,
                    f"this source's cohort '{row['label']}' already has {name} = {getattr(found, name)!r}",
                    name,
                )
        ids.append(found.id)
    problems.raise_if_any()
    if fresh:
        created = await _insert_with_ids(session, Cohort, [rows[o] for o in fresh])
        for offset, new_id in zip(fresh, created, strict=True):
            ids[offset] = new_id
        w.record(
            "cohort.bulk_import",
            "Cohort",
            min(created),
            after={"cohorts": len(created), "ids": _id_runs(created), "existing": len(rows) - len(created)},
        )
    return BatchResult(ids=ids, inserted=len(fresh), duplicates=len(rows) - len(fresh))


# --- claims -------------------------------------------------------------------------------

_CLAIM_COLUMNS = (
    "id", "statement", "subject_target_id", "subject_intervention_id", "outcome_id", "direction",
    "modality", "evidence_type", "organism_id", "condition_id", "cohort_id", "comparator_id",
    "sample_type", "effect_size", "effect_measure", "p_value", "ci_low", "ci_high", "source_id",
    "status", "version", "fingerprint", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
# Who last changed the claim's content: its creator, as create_claim records (when the model has it).
_LAST_EDITOR = "last_edited_by_id" in Claim.__table__.c
if _LAST_EDITOR:
    _CLAIM_COLUMNS += ("last_edited_by_id",)
_EVIDENCE_COLUMNS = ("claim_id", "position", "source_id", "quote", "locator", "stance", "created_at")
_TARGET_COLUMNS = ("claim_id", "target_id", "via_intervention_id", "target_direction")
_SEARCH_COLUMNS = ("claim_id", "document")
_FTS_ROWS_PER_STATEMENT = 2000  # 4,000 bound parameters, far below SQLite's limit


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


@dataclass
class _Vocab:
    """The small vocabularies, read once per batch (a few hundred ids each)."""

    targets: set[int]
    interventions: set[int]
    outcomes: set[int]
    organisms: set[int]
    conditions: set[int]
    actions: dict[int, list[tuple[int, TargetAction]]]

    @classmethod
    async def load(cls, session: AsyncSession) -> _Vocab:
        async def ids(table: Any) -> set[int]:
            return set((await session.scalars(sa.select(table.id))).all())

        actions: dict[int, list[tuple[int, TargetAction]]] = {}
        rows = await session.execute(
            sa.select(
                InterventionAction.intervention_id, InterventionAction.target_id, InterventionAction.action
            ).order_by(InterventionAction.intervention_id, InterventionAction.target_id)
        )
        for intervention_id, target_id, action in rows.all():
            actions.setdefault(intervention_id, []).append((target_id, TargetAction(action)))
        return cls(
            targets=await ids(Target),
            interventions=await ids(Intervention),
            outcomes=await ids(Outcome),
            organisms=await ids(Organism),
            conditions=await ids(Condition),
            actions=actions,
        )


def _finite(problems: _Problems, i: int, value: float | None, name: str) -> None:
    if value is not None and (not isinstance(value, int | float) or not math.isfinite(value)):
        problems.add(i, f"{name} must be a finite number", "statistics", name)


async def import_claims(
    w: Writer,
    records: Sequence[ClaimRecord],
    *,
    start: int = 0,
    on_duplicate: DuplicatePolicy = "skip",
    audit: AuditMode = "batch",
) -> BatchResult:
    """Validate and insert a batch of claims in the writer's transaction (see the module doc)."""
    require_role(w.actor, Role.CURATOR, "importing claims")
    session = w.session
    problems = _Problems("claim")
    await _large_page_cache(session)
    vocab = await _Vocab.load(session)
    known_sources = await _existing_ids(
        session,
        Source,
        [r.source_id for r in records] + [e.source_id for r in records for e in r.evidence if e.source_id],
    )
    cohort_ids = sorted({c for r in records for c in (r.cohort_id, r.comparator_id) if c is not None})
    cohorts: dict[int, tuple[int, int]] = {}
    for chunk_start in range(0, len(cohort_ids), _IN_CHUNK):
        chunk = cohort_ids[chunk_start : chunk_start + _IN_CHUNK]
        rows = await session.execute(
            sa.select(Cohort.id, Cohort.source_id, Cohort.organism_id).where(Cohort.id.in_(chunk))
        )
        cohorts.update({cid: (sid, oid) for cid, sid, oid in rows.all()})
    admin = w.actor.can(Role.ADMIN)

    checked: list[
        tuple[ClaimRecord, str, str | None, str | None, EffectDirection, str, str, str, list[tuple]]
    ] = []
    for offset, rec in enumerate(records):
        i = start + offset
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
        _check_ref(
            problems, i, rec.subject_intervention_id, vocab.interventions, "intervention", "intervention"
        )
        _check_ref(problems, i, rec.outcome_id, vocab.outcomes, "outcome", "outcome")
        _check_ref(problems, i, rec.organism_id, vocab.organisms, "organism", "organism")
        _check_ref(problems, i, rec.condition_id, vocab.conditions, "condition", "condition")
        _check_ref(problems, i, rec.source_id, known_sources, "source", "source")
        for name, cohort_id in (("cohort", rec.cohort_id), ("comparator", rec.comparator_id)):
            if cohort_id is None:
                continue
            owner = cohorts.get(cohort_id)
            if owner is None:
                problems.add(i, f"no cohort has id {cohort_id}", name, code=UserErrorCode.NOT_FOUND)
            elif owner[0] != rec.source_id:
                problems.add(i, f"cohort {cohort_id} belongs to another source than the claim", name)
            elif owner[1] != rec.organism_id:
                problems.add(i, f"cohort {cohort_id} belongs to another organism than the claim", name)
        _finite(problems, i, rec.effect_size, "effectSize")
        _finite(problems, i, rec.p_value, "pValue")
        _finite(problems, i, rec.ci_low, "ciLow")
        _finite(problems, i, rec.ci_high, "ciHigh")
        if rec.p_value is not None and not 0 <= rec.p_value <= 1:
            problems.add(i, "pValue must be between 0 and 1", "statistics", "pValue")
        if rec.ci_low is not None and rec.ci_high is not None and rec.ci_low > rec.ci_high:
            problems.add(i, "ciLow must not exceed ciHigh", "statistics", "ciLow")
        if not rec.evidence:
            problems.add(i, "a claim needs at least one quote from its source", "evidence")
        elif len(rec.evidence) > MAX_EVIDENCE:
            problems.add(i, f"at most {MAX_EVIDENCE} quotes per claim", "evidence")
        evidence: list[tuple] = []
        for position, ev in enumerate(rec.evidence):
            quote = (ev.quote or "").strip()
            if not quote:
                problems.add(i, "quote must not be empty", "evidence", str(position), "quote")
            elif len(quote) > MAX_QUOTE:
                problems.add(
                    i, f"quote is {len(quote)} characters; at most {MAX_QUOTE} are allowed",
                    "evidence", str(position), "quote",
                )  # fmt: skip
            locator = _label(
                problems, i, ev.locator, MAX_LABEL, "evidence", str(position), "locator", required=False
            )
            stance = _enum(problems, i, Stance, ev.stance, "stance", "evidence", str(position), "stance")
            if ev.source_id is not None and ev.source_id not in known_sources:
                problems.add(
                    i, f"no source has id {ev.source_id}", "evidence", str(position), "source",
                    code=UserErrorCode.NOT_FOUND,
                )  # fmt: skip
            evidence.append(
                (position, ev.source_id or rec.source_id, quote, locator, stance.value if stance else None)
            )
        if len(problems.errors) == before:
            assert statement is not None and direction is not None and status is not None
            assert modality is not None and evidence_type is not None
            checked.append(
                (rec, statement, sample_type, measure, direction, modality.value, evidence_type.value,
                 status.value, evidence)
            )  # fmt: skip
    problems.raise_if_any()

    # Fingerprints: unique among live claims, in the database and within this import.
    prints = [
        claim_fingerprint(
            source_id=rec.source_id,
            subject_target_id=rec.subject_target_id,
            subject_intervention_id=rec.subject_intervention_id,
            outcome_id=rec.outcome_id,
            direction=direction.value,
            organism_id=rec.organism_id,
            condition_id=rec.condition_id,
            cohort_id=rec.cohort_id,
            comparator_id=rec.comparator_id,
            sample_type=sample_type,
        )
        for rec, _s, sample_type, _m, direction, *_ in checked
    ]
    live: dict[str, int] = {}
    unique_prints = sorted(set(prints))
    for chunk_start in range(0, len(unique_prints), _IN_CHUNK):
        chunk = unique_prints[chunk_start : chunk_start + _IN_CHUNK]
        found = await session.execute(
            sa.select(Claim.fingerprint, Claim.id).where(Claim.fingerprint.in_(chunk), _LIVE_LITERAL)
        )
        live.update({fp: cid for fp, cid in found.all()})
    keep: list[int] = []
    seen: dict[str, int] = {}
    for offset, fp in enumerate(prints):
        status = checked[offset][7]
        if fp in live or fp in seen:
            if on_duplicate == "error":
                other = (
                    f"claim {to_global_id('Claim', live[fp])}" if fp in live else f"record {start + seen[fp]}"
                )
                problems.add(
                    start + offset,
                    "this source already has a claim with the same subject, outcome, direction and "
                    f"context ({other})",
                    "statement",
                    code=UserErrorCode.DUPLICATE,
                )
            continue
        if status in _LIVE:
            seen[fp] = offset
        keep.append(offset)
    problems.raise_if_any()

    ids: list[int | None] = [None] * len(records)
    if keep:
        new_ids = await _allocate_ids(session, "claim", len(keep))
        for offset, claim_id in zip(keep, new_ids, strict=True):
            ids[offset] = claim_id
        await _write_claims(w, checked, prints, keep, new_ids, vocab, audit)
    return BatchResult(ids=ids, inserted=len(keep), duplicates=len(records) - len(keep))


_ID_TABLES = frozenset({"claim", "source", "cohort"})


async def _allocate_ids(session: AsyncSession, table: str, n: int) -> list[int]:
    """Ids for n new rows. SQLite: after the largest, under the write lock this transaction holds
    (BEGIN IMMEDIATE); PostgreSQL: from the table's id sequence, safe beside concurrent writers."""
    assert table in _ID_TABLES  # names are interpolated below
    if session.bind.dialect.name == "sqlite":
        top = int(await session.scalar(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")) or 0)
        return list(range(top + 1, top + 1 + n))
    result = await session.execute(
        sa.text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"),
        {"n": n},
    )
    return [int(r[0]) for r in result.all()]


async def _write_claims(
    w: Writer,
    checked: list[tuple],
    prints: list[str],
    keep: list[int],
    new_ids: list[int],
    vocab: _Vocab,
    audit: AuditMode,
) -> None:
    session = w.session
    sqlite = session.bind.dialect.name == "sqlite"
    now = utcnow()
    stamp = _bind(Claim.__table__.c.created_at, session)(now)
    actor_id = w.actor.user_id
    claim_rows: list[tuple] = []
    evidence_rows: list[tuple] = []
    target_rows: list[tuple] = []
    search_rows: list[tuple] = []
    digest = hashlib.sha256()
    statuses: dict[str, int] = {}
    for offset, claim_id in zip(keep, new_ids, strict=True):
        rec, statement, sample_type, measure, direction, modality, evidence_type, status, evidence = checked[
            offset
        ]
        fp = prints[offset]
        claim_rows.append(
            (claim_id, statement, rec.subject_target_id, rec.subject_intervention_id, rec.outcome_id,
             direction.value, modality, evidence_type, rec.organism_id, rec.condition_id, rec.cohort_id,
             rec.comparator_id, sample_type,
             None if rec.effect_size is None else float(rec.effect_size), measure,
             None if rec.p_value is None else float(rec.p_value),
             None if rec.ci_low is None else float(rec.ci_low),
             None if rec.ci_high is None else float(rec.ci_high),
             rec.source_id, status, 1, fp, actor_id, stamp, stamp, *((actor_id,) if _LAST_EDITOR else ()))
        )  # fmt: skip
        evidence_rows.extend((claim_id, *ev, stamp) for ev in evidence)
        if rec.subject_target_id is not None:
            target_rows.append((claim_id, rec.subject_target_id, None, direction.value))
        else:
            for target_id, action in vocab.actions.get(rec.subject_intervention_id, ()):
                level = target_level_direction(direction, action)
                target_rows.append(
                    (claim_id, target_id, rec.subject_intervention_id, level.value if level else None)
                )
        search_rows.append((claim_id, "\n".join([statement, *(ev[2] for ev in evidence)])))
        digest.update(f"{claim_id}:{fp}\n".encode())
        statuses[status] = statuses.get(status, 0) + 1

    driver = await _driver(session)
    tables = (
        ("claim", _CLAIM_COLUMNS, claim_rows),
        ("evidence", _EVIDENCE_COLUMNS, evidence_rows),
        ("claim_target", _TARGET_COLUMNS, target_rows),
        ("claim_search", _SEARCH_COLUMNS, search_rows),
    )
    for table, columns, rows in tables:
        if not rows:
            continue
        if sqlite and table == "claim_search":
            # Many rows per statement: the FTS5 index (fed by a trigger on claim_search)
            # flushes its pending terms at the end of each statement, so executemany, one
            # statement per row, costs about five times as much.
            for chunk_start in range(0, len(rows), _FTS_ROWS_PER_STATEMENT):
                chunk = rows[chunk_start : chunk_start + _FTS_ROWS_PER_STATEMENT]
                values = ", ".join(["(?, ?)"] * len(chunk))
                await driver.execute(
                    f"INSERT INTO claim_search (claim_id, document) VALUES {values}",
                    [value for row in chunk for value in row],
                )
        elif sqlite:
            await driver.executemany(_insert_sql(table, columns), rows)
        else:
            await driver.copy_records_to_table(table, records=rows, columns=list(columns))

    if audit == "claim":
        for offset, claim_id in zip(keep, new_ids, strict=True):
            rec = checked[offset][0]
            w.record(
                "claim.create",
                "Claim",
                claim_id,
                after={
                    "fingerprint": prints[offset],
                    "status": checked[offset][7],
                    "source_id": rec.source_id,
                },
                comment="bulk import",
            )
    else:
        w.record(
            "claim.bulk_import",
            "Claim",
            new_ids[0],
            after={
                "claims": len(new_ids),
                "ids": _id_runs(new_ids),
                "statuses": statuses,
                # Commits the event to exactly these claims: sha256 over "id:fingerprint" lines.
                "fingerprints_sha256": digest.hexdigest(),
            },
        )


# --- streaming ----------------------------------------------------------------------------


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
    audit: AuditMode = "batch",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Stream claims into the database, one transaction (and one audit event) per batch.

    Stops at the first refused batch, raising its StoreError (every message names the record's
    position in `records` and the field); the batches before it stay committed."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    began = time.perf_counter()
    async for batch in _batches(records, batch_size):
        async with db.write(actor) as w:
            result = await import_claims(
                w, batch, start=report.records, on_duplicate=on_duplicate, audit=audit
            )
        report.records += len(batch)
        report.inserted += result.inserted
        report.duplicates += result.duplicates
        report.batches += 1
        if progress is not None:
            progress(len(batch))
    report.seconds = time.perf_counter() - began
    return report
