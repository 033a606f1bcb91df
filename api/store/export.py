"""Reading claims, sources and the vocabulary out as records (docs/records.md), for
`claimsdb export` and releases.

Claims are read in keyset chunks (claim id order, CHUNK at a time: one statement for the claims
with their source and cohorts, one for their quotes), so memory holds one chunk however many
claims there are. The caller gives the session: inside Database.snapshot() every chunk sees the
same state of the database. Vocabulary names are read once (they are few) and claims name their
subject, outcome, organism and conditions by them, as a curator would write the record.

A source is named by its DOI, else its PMID, else its id: DOIs and PMIDs are unique and mean the
same in any database; a source with neither is named by the id that sources.jsonl gives it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.store.vocabularies import VOCABULARIES
from schema.enums import ClaimStatus, VocabularyKind
from schema.tables import (
    AuditHead,
    Claim,
    Cohort,
    Condition,
    Evidence,
    InterventionAction,
    Organism,
    Source,
    Target,
)

CHUNK = 5000
Record = dict[str, Any]

_cohort, _comparator = aliased(Cohort), aliased(Cohort)
_evidence_source = aliased(Source)
_COHORT_FIELDS = ("label", "size", "female_count", "condition_id", "treatment_status", "sample_type")
_COHORT_NAMES = ("label", "size", "femaleCount", "condition", "treatmentStatus", "sampleType")
STATISTICS = (("effect_size", "effectSize"), ("effect_measure", "effectMeasure"), ("p_value", "pValue"),
               ("ci_low", "ciLow"), ("ci_high", "ciHigh"))  # fmt: skip


def statistics_record(values: Sequence[Any]) -> Record:
    """A claim's statistics (effect size, measure, p-value, CI low, CI high) with the unset left out."""
    return {name: value for (_, name), value in zip(STATISTICS, values, strict=True) if value is not None}


def source_reference(source_id: int, doi: str | None, pmid: str | None) -> int | str:
    return doi or pmid or source_id


@dataclass
class VocabularyNames:
    """id → the name a record gives, for each vocabulary."""

    by_kind: dict[VocabularyKind, dict[int, str]]

    @classmethod
    async def read(cls, session: AsyncSession) -> VocabularyNames:
        by_kind = {}
        for kind, vocab in VOCABULARIES.items():
            rows = await session.execute(sa.select(vocab.table.id, vocab.label))
            by_kind[kind] = dict(rows.all())
        return cls(by_kind)


def _claims_chunk(statuses: Sequence[ClaimStatus], after: int, limit: int) -> sa.Select[Any]:
    c = Claim
    return (
        sa.select(
            c.id,
            c.statement,
            c.subject_target_id,
            c.subject_intervention_id,
            c.outcome_id,
            c.direction,
            c.modality,
            c.evidence_type,
            c.organism_id,
            c.condition_id,
            c.sample_type,
            c.effect_size,
            c.effect_measure,
            c.p_value,
            c.ci_low,
            c.ci_high,
            c.source_id,
            Source.doi,
            Source.pmid,
            *(getattr(_cohort, f) for f in _COHORT_FIELDS),
            *(getattr(_comparator, f) for f in _COHORT_FIELDS),
        )  # fmt: skip
        .join(Source, Source.id == c.source_id)
        .outerjoin(_cohort, _cohort.id == c.cohort_id)
        .outerjoin(_comparator, _comparator.id == c.comparator_id)
        .where(c.status.in_([s.value for s in statuses]), c.id > after)
        .order_by(c.id)
        .limit(limit)
    )


def _evidence_of(statuses: Sequence[ClaimStatus], first: int, last: int) -> sa.Select[Any]:
    e = Evidence
    return (
        sa.select(
            e.claim_id, e.quote, e.locator, e.stance, e.source_id, _evidence_source.doi, _evidence_source.pmid
        )
        .join(Claim, Claim.id == e.claim_id)
        .join(_evidence_source, _evidence_source.id == e.source_id)
        .where(e.claim_id.between(first, last), Claim.status.in_([s.value for s in statuses]))
        .order_by(e.claim_id, e.position)
    )


def _cohort_record(values: Sequence[Any], conditions: dict[int, str]) -> Record | None:
    if values[0] is None:
        return None
    out: Record = {}
    for name, value in zip(_COHORT_NAMES, values, strict=True):
        if value is None:
            continue
        out[name] = conditions[value] if name == "condition" else value
    return out


def _claim_record(row: Sequence[Any], names: VocabularyNames, evidence: list[Record]) -> Record:
    (statement, target, intervention, outcome, direction, modality, evidence_type, organism, condition,
     sample_type, *rest) = row  # fmt: skip
    statistics = statistics_record(rest[:5])
    source_id, doi, pmid = rest[5:8]
    cohort_values = rest[8 : 8 + len(_COHORT_FIELDS)]
    comparator_values = rest[8 + len(_COHORT_FIELDS) :]
    conditions = names.by_kind[VocabularyKind.CONDITION]
    record: Record = {"statement": statement, "source": source_reference(source_id, doi, pmid)}
    if target is not None:
        record["target"] = names.by_kind[VocabularyKind.TARGET][target]
    if intervention is not None:
        record["intervention"] = names.by_kind[VocabularyKind.INTERVENTION][intervention]
    record["outcome"] = names.by_kind[VocabularyKind.OUTCOME][outcome]
    record["direction"] = direction
    record["modality"] = str(modality.value if hasattr(modality, "value") else modality)
    record["evidenceType"] = str(evidence_type.value if hasattr(evidence_type, "value") else evidence_type)
    record["organism"] = names.by_kind[VocabularyKind.ORGANISM][organism]
    if condition is not None:
        record["condition"] = conditions[condition]
    cohort = _cohort_record(cohort_values, conditions)
    if cohort is not None:
        record["cohort"] = cohort
    comparator = _cohort_record(comparator_values, conditions)
    if comparator is not None:
        record["comparator"] = comparator
    if sample_type is not None:
        record["sampleType"] = sample_type
    if statistics:
        record["statistics"] = statistics
    record["evidence"] = evidence
    return record


def _evidence_record(row: Sequence[Any], claim_source: int) -> Record:
    _claim_id, quote, locator, stance, source_id, doi, pmid = row
    out: Record = {"quote": quote}
    if locator is not None:
        out["locator"] = locator
    out["stance"] = str(stance.value if hasattr(stance, "value") else stance)
    if source_id != claim_source:
        out["source"] = source_reference(source_id, doi, pmid)
    return out


async def claim_records(
    session: AsyncSession, statuses: Sequence[ClaimStatus] = (ClaimStatus.ACCEPTED,), chunk: int = CHUNK
) -> AsyncIterator[list[Record]]:
    """The claims in `statuses` as records, in claim id order, a chunk at a time."""
    names = await VocabularyNames.read(session)
    after = 0
    while True:
        rows = (await session.execute(_claims_chunk(statuses, after, chunk))).all()
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        sources = {row[0]: row[16] for row in rows}
        quotes: dict[int, list[Record]] = {}
        evidence_rows = (await session.execute(_evidence_of(statuses, first, last))).all()
        for claim_id, group in groupby(evidence_rows, key=lambda r: r[0]):
            quotes[claim_id] = [_evidence_record(r, sources[claim_id]) for r in group]
        yield [_claim_record(row[1:], names, quotes.get(row[0], [])) for row in rows]
        after = last
        if len(rows) < chunk:
            return


async def count_claims(session: AsyncSession, statuses: Sequence[ClaimStatus]) -> int:
    statement = (
        sa.select(sa.func.count()).select_from(Claim).where(Claim.status.in_([s.value for s in statuses]))
    )
    return int(await session.scalar(statement) or 0)


# --- sources and vocabulary (releases) -------------------------------------------------------


async def source_records(session: AsyncSession, chunk: int = CHUNK) -> AsyncIterator[list[Record]]:
    """Every source as a source record with its `id` (what claims name it by when it has no DOI
    or PMID), in id order; `derivedFrom` names the source's id too."""
    after = 0
    while True:
        statement = sa.select(Source).where(Source.id > after).order_by(Source.id).limit(chunk)
        rows = (await session.execute(statement)).all()
        if not rows:
            return
        out = []
        for (s,) in rows:
            record: Record = {"id": s.id, "kind": s.kind.value, "title": s.title}
            optional = {
                "authors": s.authors or None, "venue": s.venue, "year": s.year,
                "published": s.published.isoformat() if s.published else None, "doi": s.doi, "pmid": s.pmid,
                "url": s.url,
            }  # fmt: skip
            record.update({k: v for k, v in optional.items() if v is not None})
            record["peerReviewed"] = s.peer_reviewed
            record["aiGenerated"] = s.ai_generated
            if s.derived_from_id is not None:
                # By id, which every line here carries: the source it names may come later in the file.
                record["derivedFrom"] = s.derived_from_id
            out.append(record)
        yield out
        after = rows[-1][0].id
        session.expunge_all()  # the ORM rows of this chunk are not needed again


async def _aliases(session: AsyncSession, kind: VocabularyKind) -> dict[int, list[str]]:
    vocab = VOCABULARIES[kind]
    rows = await session.execute(
        sa.select(vocab.alias_owner, vocab.alias_table.alias)
        .where(vocab.alias_table.preferred.is_(False))
        .order_by(vocab.alias_table.id)
    )
    out: dict[int, list[str]] = {}
    for owner, alias in rows:
        out.setdefault(owner, []).append(alias)
    return out


async def _xrefs(session: AsyncSession, kind: VocabularyKind) -> dict[int, list[str]]:
    vocab = VOCABULARIES[kind]
    if vocab.xref_table is None:
        return {}
    rows = await session.execute(
        sa.select(getattr(vocab.xref_table, vocab.xref_fk), vocab.xref_table.curie).order_by(
            vocab.xref_table.id
        )
    )
    out: dict[int, list[str]] = {}
    for owner, curie in rows:
        out.setdefault(owner, []).append(curie)
    return out


async def vocabulary_records(session: AsyncSession) -> list[Record]:
    """The vocabulary as seeds/vocabulary.yaml lists it, one entry a record with the list it
    belongs in (`vocabulary`): organisms, conditions (a parent before its children), targets,
    interventions (with the targets they act on), outcomes."""
    out: list[Record] = []
    aliases = {kind: await _aliases(session, kind) for kind in VOCABULARIES}
    xrefs = {kind: await _xrefs(session, kind) for kind in VOCABULARIES}

    for o in (await session.scalars(sa.select(Organism).order_by(Organism.id))).all():
        others = [a for a in aliases[VocabularyKind.ORGANISM].get(o.id, []) if a != o.common_name]
        out.append({"vocabulary": "organisms", "taxon_id": o.taxon_id, "scientific_name": o.scientific_name,
                    "common_name": o.common_name, "aliases": others})  # fmt: skip

    conditions = (await session.scalars(sa.select(Condition).order_by(Condition.id))).all()
    condition_names = {c.id: c.name for c in conditions}
    written: set[int] = set()
    pending = list(conditions)
    while pending:  # parents first, whatever their ids
        ready = [c for c in pending if c.parent_id is None or c.parent_id in written]
        if not ready:  # a cycle the database's check would not allow; write the rest as they are
            ready = pending
        for c in ready:
            out.append({"vocabulary": "conditions", "name": c.name,
                        "parent": condition_names.get(c.parent_id) if c.parent_id else None,
                        "aliases": aliases[VocabularyKind.CONDITION].get(c.id, []),
                        "xrefs": xrefs[VocabularyKind.CONDITION].get(c.id, [])})  # fmt: skip
            written.add(c.id)
        pending = [c for c in pending if c.id not in written]

    targets = (await session.scalars(sa.select(Target).order_by(Target.id))).all()
    symbols = {t.id: t.symbol for t in targets}
    for t in targets:
        out.append({"vocabulary": "targets", "symbol": t.symbol, "name": t.name, "kind": t.kind,
                    "aliases": aliases[VocabularyKind.TARGET].get(t.id, []),
                    "xrefs": xrefs[VocabularyKind.TARGET].get(t.id, [])})  # fmt: skip

    actions: dict[int, list[Record]] = {}
    action_rows = await session.execute(
        sa.select(
            InterventionAction.intervention_id, InterventionAction.target_id, InterventionAction.action
        ).order_by(InterventionAction.id)
    )
    for intervention_id, target_id, action in action_rows:
        value = action.value if hasattr(action, "value") else action
        actions.setdefault(intervention_id, []).append({"target": symbols[target_id], "action": value})
    vocab = VOCABULARIES[VocabularyKind.INTERVENTION]
    for i in (await session.scalars(sa.select(vocab.table).order_by(vocab.table.id))).all():
        out.append({"vocabulary": "interventions", "name": i.name, "kind": i.kind,
                    "aliases": aliases[VocabularyKind.INTERVENTION].get(i.id, []),
                    "xrefs": xrefs[VocabularyKind.INTERVENTION].get(i.id, []),
                    "actions": actions.get(i.id, [])})  # fmt: skip
    vocab = VOCABULARIES[VocabularyKind.OUTCOME]
    for o in (await session.scalars(sa.select(vocab.table).order_by(vocab.table.id))).all():
        out.append({"vocabulary": "outcomes", "name": o.name, "kind": o.kind,
                    "aliases": aliases[VocabularyKind.OUTCOME].get(o.id, [])})  # fmt: skip
    return out


async def audit_head(session: AsyncSession) -> tuple[int, str] | None:
    """The audit chain's last event (id, hash) as this session sees it; None before the first."""
    row = (await session.execute(sa.select(AuditHead.last_event_id, AuditHead.last_hash))).first()
    if row is None or row[0] is None:
        return None
    return int(row[0]), str(row[1])


async def schema_revision(session: AsyncSession) -> str:
    """The migration revision the database is at (Alembic's version table)."""
    return str(await session.scalar(sa.text("SELECT version_num FROM alembic_version")) or "unknown")


async def holds_data(session: AsyncSession) -> list[str]:
    """What the database already holds that a release load would add to (empty: nothing)."""
    found = []
    for table, noun in ((Claim, "claims"), (Source, "sources"), (Target, "targets"), (Organism, "organisms")):
        if await session.scalar(sa.select(table.id).limit(1)) is not None:
            found.append(noun)
    return found
