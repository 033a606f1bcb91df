"""Creating claims: one finding, its cohorts and its quotes, written in one transaction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from api.store.commands._common import collect, optional_label, require_role, required_label
from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode, invalid
from api.store.ids import to_global_id
from api.store.resolve import SOURCE, lookup_ids, resolve_id, resolve_source_id
from api.store.search import insert_claim_search, search_document
from schema.bearing import target_level_direction
from schema.claims import claim_fingerprint
from schema.enums import (
    ClaimStatus,
    EffectDirection,
    EvidenceType,
    Modality,
    Role,
    Stance,
    TargetAction,
    VocabularyKind,
)
from schema.tables import (
    MAX_LABEL,
    MAX_QUOTE,
    MAX_STATEMENT,
    Claim,
    ClaimTarget,
    Cohort,
    Evidence,
    InterventionAction,
    claim_is_live,
)

MAX_EVIDENCE = 50


@dataclass
class CohortInput:
    label: str
    size: int | None = None
    female_count: int | None = None
    condition: str | None = None
    treatment_status: str | None = None
    sample_type: str | None = None


@dataclass
class EvidenceInput:
    quote: str
    locator: str | None = None
    stance: Stance | None = None
    source: str | None = None  # defaults to the claim's source


@dataclass
class StatisticsInput:
    effect_size: float | None = None
    effect_measure: str | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class ClaimInput:
    statement: str
    outcome: str
    direction: EffectDirection
    modality: Modality
    evidence_type: EvidenceType
    organism: str
    source: str
    evidence: Sequence[EvidenceInput]
    target: str | None = None
    intervention: str | None = None
    condition: str | None = None
    cohort: CohortInput | None = None
    comparator: CohortInput | None = None
    sample_type: str | None = None
    statistics: StatisticsInput | None = None
    submit: bool = False


@dataclass
class _Resolved:
    ids: dict[str, int | None] = field(default_factory=dict)
    errors: list[StoreError] = field(default_factory=list)

    async def take(self, key: str, coro) -> None:  # type: ignore[no-untyped-def]
        try:
            self.ids[key] = await coro
        except StoreError as exc:
            self.errors.append(exc)
            self.ids[key] = None


async def create_claim(w: Writer, data: ClaimInput, *, status: ClaimStatus | None = None) -> Claim:
    """Create a claim as DRAFT (or SUBMITTED with `submit`). `status=ACCEPTED` is for trusted
    imports (the seeds, bulk loads) and needs the admin role."""
    require_role(w.actor, Role.CURATOR, "creating a claim")
    if status is None:
        status = ClaimStatus.SUBMITTED if data.submit else ClaimStatus.DRAFT
    elif status not in (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED):
        require_role(w.actor, Role.ADMIN, f"importing a claim as {status.value}")

    errors: list[StoreError] = []
    statement = _checked(errors, lambda: required_label(data.statement, MAX_STATEMENT, "statement"))
    sample_type = _checked(errors, lambda: optional_label(data.sample_type, 100, "sampleType"))
    stats = check_statistics(errors, data.statistics)
    if (data.target is None or not data.target.strip()) == (
        data.intervention is None or not data.intervention.strip()
    ):
        errors.append(invalid("give exactly one of target and intervention as the claim's subject", "target"))
    if not data.evidence:
        errors.append(invalid("a claim needs at least one quote from its source", "evidence"))
    if len(data.evidence) > MAX_EVIDENCE:
        errors.append(invalid(f"at most {MAX_EVIDENCE} quotes per claim", "evidence"))

    s = w.session
    r = _Resolved()
    names = [
        ("target", VocabularyKind.TARGET, data.target),
        ("intervention", VocabularyKind.INTERVENTION, data.intervention),
        ("outcome", VocabularyKind.OUTCOME, data.outcome),
        ("organism", VocabularyKind.ORGANISM, data.organism),
        ("condition", VocabularyKind.CONDITION, data.condition),
    ]
    # One statement for all the names and the source (a createClaim used to spend one per name);
    # what it does not find is resolved again one by one, for the error that names the field.
    wanted: list[tuple[str, VocabularyKind | Literal["source"], str]] = [
        (key, kind, name or "")
        for key, kind, name in names
        if key in ("outcome", "organism") or (name or "").strip()
    ]
    wanted.append(("source", SOURCE, data.source))
    found = await lookup_ids(s, [(kind, name) for _, kind, name in wanted])
    for (key, kind, name), id_ in zip(wanted, found, strict=True):
        if id_ is not None:
            r.ids[key] = id_
        elif kind == SOURCE:
            await r.take(key, resolve_source_id(s, name, (key,)))
        else:
            await r.take(key, resolve_id(s, VocabularyKind(kind), name, (key,)))
    evidence_sources: list[int | None] = []
    for index, ev in enumerate(data.evidence):
        if ev.source and ev.source.strip():
            key = f"evidence.{index}"
            await r.take(key, resolve_source_id(s, ev.source, ("evidence", str(index), "source")))
            evidence_sources.append(r.ids[key])
        else:
            evidence_sources.append(None)
        quote = (ev.quote or "").strip()
        if not quote:
            errors.append(invalid("quote must not be empty", "evidence", str(index), "quote"))
        elif len(quote) > MAX_QUOTE:
            errors.append(
                invalid(
                    f"quote is {len(quote)} characters; at most {MAX_QUOTE} are allowed",
                    "evidence", str(index), "quote",
                )
            )  # fmt: skip
    for name, cohort in (("cohort", data.cohort), ("comparator", data.comparator)):
        if cohort is not None:
            _check_cohort(errors, cohort, name)
            if cohort.condition and cohort.condition.strip():
                await r.take(
                    f"{name}.condition",
                    resolve_id(s, VocabularyKind.CONDITION, cohort.condition, (name, "condition")),
                )
    collect(errors + r.errors)

    source_id = r.ids["source"]
    organism_id = r.ids["organism"]
    assert source_id is not None and organism_id is not None
    cohort_id = comparator_id = None
    if data.cohort is not None:
        cohort_id = await _cohort_id(w, data.cohort, source_id, organism_id, r, "cohort")
    if data.comparator is not None:
        comparator_id = await _cohort_id(w, data.comparator, source_id, organism_id, r, "comparator")

    claim = Claim(
        statement=statement,
        subject_target_id=r.ids.get("target"),
        subject_intervention_id=r.ids.get("intervention"),
        outcome_id=r.ids["outcome"],
        direction=data.direction.value,
        modality=data.modality,
        evidence_type=data.evidence_type,
        organism_id=organism_id,
        condition_id=r.ids.get("condition"),
        cohort_id=cohort_id,
        comparator_id=comparator_id,
        sample_type=sample_type,
        source_id=source_id,
        status=status,
        version=1,
        created_by_id=w.actor.user_id,
        last_edited_by_id=w.actor.user_id,
        **stats,
    )
    claim.fingerprint = fingerprint_of(claim)
    duplicate = await s.scalar(_LIVE_WITH_FINGERPRINT, {"fingerprint": claim.fingerprint})
    if duplicate is not None:
        raise StoreError.one(
            UserErrorCode.DUPLICATE,
            "this source already has a claim with the same subject, outcome, direction and "
            f"context ({await describe_claim(w, duplicate)}); correct that claim instead",
            ("statement",),
        )
    await _insert_claim(s, claim)

    evidence_rows = [
        {
            "claim_id": claim.id,
            "position": index,
            "source_id": evidence_sources[index] or source_id,
            "quote": ev.quote.strip(),
            "locator": optional_label(ev.locator, MAX_LABEL, "evidence", str(index), "locator"),
            "stance": ev.stance or Stance.SUPPORTS,
        }
        for index, ev in enumerate(data.evidence)
    ]
    await s.execute(_INSERT_EVIDENCE, evidence_rows)
    await write_claim_targets(w, claim, new=True)
    quotes = [row["quote"] for row in evidence_rows]
    await insert_claim_search(s, {claim.id: search_document(claim.statement, quotes)})
    w.record(
        "claim.create",
        "Claim",
        claim.id,
        after={
            **claim_snapshot(claim),
            "evidence": [{k: v for k, v in row.items() if k != "claim_id"} for row in evidence_rows],
        },
    )
    return claim


# createClaim's statements, built once (Core, on the tables): building a statement and going
# through the ORM's bulk-insert and unit-of-work machinery cost more CPU than running it.
_LIVE_WITH_FINGERPRINT = sa.select(Claim.id).where(
    Claim.fingerprint == sa.bindparam("fingerprint"), claim_is_live()
)
_CLAIM_TABLE = Claim.__table__
_CLAIM_COLUMNS = tuple(column.key for column in _CLAIM_TABLE.c if column.key != "id")
_INSERT_CLAIM = sa.insert(_CLAIM_TABLE)
_INSERT_EVIDENCE = sa.insert(Evidence.__table__)
_INSERT_CLAIM_TARGETS = sa.insert(ClaimTarget.__table__)


async def _insert_claim(s: AsyncSession, claim: Claim) -> None:
    """INSERT a new claim with one Core statement, then put it in the session as a flush would
    have left it: persistent, with its id, nothing pending. Every column is written from the
    object (its defaults, version and timestamps, were set when it was made)."""
    await s.flush()  # anything the session still holds goes first, as it did with a flush
    result = await s.execute(_INSERT_CLAIM, {key: getattr(claim, key) for key in _CLAIM_COLUMNS})
    claim.id = result.inserted_primary_key[0]
    make_transient_to_detached(claim)
    s.add(claim)


async def describe_claim(w: Writer, claim_id: int) -> str:
    """Name another claim in a message only if the actor may see it (no leaking of drafts)."""
    from schema.visibility import claim_visibility

    row = (
        await w.session.execute(sa.select(Claim.status, Claim.created_by_id).where(Claim.id == claim_id))
    ).first()
    if row is not None and claim_visibility(w.actor).allows(row.status, row.created_by_id):
        return to_global_id("Claim", claim_id)
    return "another curator's unpublished claim"


def _checked(errors: list[StoreError], fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except StoreError as exc:
        errors.append(exc)
        return None


def check_statistics(errors: list[StoreError], stats: StatisticsInput | None) -> dict:
    if stats is None:
        return {}
    values = {
        "effect_size": stats.effect_size,
        "p_value": stats.p_value,
        "ci_low": stats.ci_low,
        "ci_high": stats.ci_high,
    }
    names = {
        "effect_size": "effectSize",
        "p_value": "pValue",
        "ci_low": "ciLow",
        "ci_high": "ciHigh",
    }
    for key, value in values.items():
        if value is not None and not math.isfinite(value):
            errors.append(invalid(f"{names[key]} must be a finite number", "statistics", names[key]))
    if stats.p_value is not None and not 0 <= stats.p_value <= 1:
        errors.append(invalid("pValue must be between 0 and 1", "statistics", "pValue"))
    if stats.ci_low is not None and stats.ci_high is not None and stats.ci_low > stats.ci_high:
        errors.append(invalid("ciLow must not exceed ciHigh", "statistics", "ciLow"))
    measure = _checked(
        errors, lambda: optional_label(stats.effect_measure, 100, "statistics", "effectMeasure")
    )
    return {**values, "effect_measure": measure}


def _check_cohort(errors: list[StoreError], cohort: CohortInput, name: str) -> None:
    _checked(errors, lambda: required_label(cohort.label, MAX_LABEL, name, "label"))
    if cohort.size is not None and cohort.size < 0:
        errors.append(invalid("size must not be negative", name, "size"))
    if cohort.female_count is not None:
        if cohort.female_count < 0:
            errors.append(invalid("femaleCount must not be negative", name, "femaleCount"))
        elif cohort.size is not None and cohort.female_count > cohort.size:
            errors.append(invalid("femaleCount must not exceed size", name, "femaleCount"))


async def _cohort_id(
    w: Writer, data: CohortInput, source_id: int, organism_id: int, r: _Resolved, name: str
) -> int:
    """A source's cohorts are named by label; a claim may reuse one, but not contradict it."""
    label = required_label(data.label, MAX_LABEL, name, "label")
    wanted = {
        "size": data.size,
        "female_count": data.female_count,
        "condition_id": r.ids.get(f"{name}.condition"),
        "treatment_status": optional_label(data.treatment_status, MAX_LABEL, name, "treatmentStatus"),
        "sample_type": optional_label(data.sample_type, 100, name, "sampleType"),
    }
    existing = (
        await w.session.execute(sa.select(Cohort).where(Cohort.source_id == source_id, Cohort.label == label))
    ).scalar_one_or_none()
    if existing is not None:
        for key, value in wanted.items():
            if value is not None and getattr(existing, key) != value:
                raise invalid(
                    f"this source's cohort '{label}' already has {key} = {getattr(existing, key)!r}; "
                    "give the same value, leave it out, or use another label",
                    name,
                    key,
                )
        if existing.organism_id != organism_id:
            raise invalid(f"cohort '{label}' belongs to another organism than the claim", name, "label")
        return existing.id  # type: ignore[return-value]
    cohort = Cohort(source_id=source_id, label=label, organism_id=organism_id, **wanted)
    w.session.add(cohort)
    await w.session.flush()
    w.record(
        "cohort.create",
        "Cohort",
        cohort.id,  # type: ignore[arg-type]
        after={"source_id": source_id, "label": label, "organism_id": organism_id, **wanted},
    )
    return cohort.id  # type: ignore[return-value]


def fingerprint_of(claim: Claim) -> str:
    return claim_fingerprint(
        source_id=claim.source_id,
        subject_target_id=claim.subject_target_id,
        subject_intervention_id=claim.subject_intervention_id,
        outcome_id=claim.outcome_id,
        direction=claim.direction,
        organism_id=claim.organism_id,
        condition_id=claim.condition_id,
        cohort_id=claim.cohort_id,
        comparator_id=claim.comparator_id,
        sample_type=claim.sample_type,
    )


async def write_claim_targets(w: Writer, claim: Claim, *, new: bool = False) -> None:
    """(Re)write the targets a claim bears on and its direction at each (schema.bearing).
    `new`: the claim was just inserted, so it has no rows to delete."""
    if not new:
        await w.session.execute(sa.delete(ClaimTarget).where(ClaimTarget.claim_id == claim.id))
    direction = EffectDirection(claim.direction)
    if claim.subject_target_id is not None:
        rows = [
            {
                "claim_id": claim.id,
                "target_id": claim.subject_target_id,
                "via_intervention_id": None,
                "target_direction": direction.value,
            }
        ]
    else:
        actions = (
            await w.session.execute(
                sa.select(InterventionAction.target_id, InterventionAction.action).where(
                    InterventionAction.intervention_id == claim.subject_intervention_id
                )
            )
        ).all()
        rows = []
        for target_id, action in actions:
            level = target_level_direction(direction, TargetAction(action))
            rows.append(
                {
                    "claim_id": claim.id,
                    "target_id": target_id,
                    "via_intervention_id": claim.subject_intervention_id,
                    "target_direction": level.value if level else None,
                }
            )
    if rows:
        await w.session.execute(_INSERT_CLAIM_TARGETS, rows)


_SNAPSHOT_FIELDS = (
    "statement", "subject_target_id", "subject_intervention_id", "outcome_id", "direction",
    "modality", "evidence_type", "organism_id", "condition_id", "cohort_id", "comparator_id",
    "sample_type", "effect_size", "effect_measure", "p_value", "ci_low", "ci_high", "source_id",
    "status", "version",
)  # fmt: skip


def claim_snapshot(claim: Claim) -> dict[str, object]:
    """The audited fields of a claim (what before/after compare)."""
    out: dict[str, object] = {}
    for name in _SNAPSHOT_FIELDS:
        value = getattr(claim, name)
        out[name] = value.value if hasattr(value, "value") else value
    return out
