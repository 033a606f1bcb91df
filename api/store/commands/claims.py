"""Creating claims: one finding, its cohorts and its quotes, written in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from api.store.commands._common import require_role
from api.store.commands.sources import given_source
from api.store.db import Writer
from api.store.errors import Ref, StoreError, UserErrorCode
from api.store.resolve import SOURCE, Reference, lookup_ids, resolve_id, resolve_source_id
from api.store.search import insert_claim_search, search_document
from schema.bearing import target_level_direction
from schema.claims import claim_fingerprint
from schema.enums import ClaimStatus, EffectDirection, Role, TargetAction, VocabularyKind
from schema.errors import UserError
from schema.records import ClaimRecord, SourceRecord
from schema.tables import Claim, ClaimTarget, Cohort, Evidence, InterventionAction, claim_is_live
from schema.validation import CheckedClaim, CheckedCohort, check_claim, cohort_disagreement, given


@dataclass
class _Resolved:
    ids: dict[str, int | None] = field(default_factory=dict)
    errors: list[UserError] = field(default_factory=list)

    async def take(self, key: str, coro) -> None:  # type: ignore[no-untyped-def]
        try:
            self.ids[key] = await coro
        except StoreError as exc:
            self.errors.extend(exc.errors)
            self.ids[key] = None


async def create_claim(w: Writer, data: ClaimRecord, *, status: ClaimStatus | None = None) -> Claim:
    """Create a claim as DRAFT (or SUBMITTED with `submit`). `status=ACCEPTED` is for trusted
    imports (the seeds, bulk loads) and needs the admin role."""
    require_role(w.actor, Role.CURATOR, "creating a claim")
    if status is None:
        status = ClaimStatus.SUBMITTED if data.submit else ClaimStatus.DRAFT
    elif status not in (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED):
        require_role(w.actor, Role.ADMIN, f"importing a claim as {status.value}")

    checked, errors = check_claim(data)  # the rules; then what only the database can tell
    if checked is not None and checked.sources:
        data = await _with_given_sources(w, data, checked)
    elif errors and _gives_sources(data):
        raise StoreError(errors)  # its sources cannot be named until they pass the rules
    s = w.session
    r = _Resolved()
    names: list[tuple[str, VocabularyKind, Reference | None]] = [
        ("target", VocabularyKind.TARGET, data.target),
        ("intervention", VocabularyKind.INTERVENTION, data.intervention),
        ("outcome", VocabularyKind.OUTCOME, data.outcome),
        ("organism", VocabularyKind.ORGANISM, data.organism),
        ("condition", VocabularyKind.CONDITION, data.condition),
    ]
    # One statement for all the names and the source (a createClaim used to spend one per name);
    # what it does not find is resolved again one by one, for the error that names the field.
    wanted: list[tuple[str, VocabularyKind | Literal["source"], Reference]] = [
        (key, kind, "" if name is None else name)
        for key, kind, name in names
        if key in ("outcome", "organism") or given(name)
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
        if given(ev.source):
            key = f"evidence.{index}"
            await r.take(key, resolve_source_id(s, ev.source, ("evidence", str(index), "source")))  # type: ignore[arg-type]
            evidence_sources.append(r.ids[key])
        else:
            evidence_sources.append(None)
    for name, cohort in (("cohort", data.cohort), ("comparator", data.comparator)):
        if cohort is not None and given(cohort.condition):
            await r.take(
                f"{name}.condition",
                resolve_id(s, VocabularyKind.CONDITION, cohort.condition, (name, "condition")),  # type: ignore[arg-type]
            )
    if errors or r.errors:
        raise StoreError(errors + r.errors)
    assert checked is not None

    source_id = r.ids["source"]
    organism_id = r.ids["organism"]
    assert source_id is not None and organism_id is not None
    cohort_id = comparator_id = None
    if checked.cohort is not None:
        cohort_id = await _cohort_id(w, checked.cohort, source_id, organism_id, r, "cohort")
    if checked.comparator is not None:
        comparator_id = await _cohort_id(w, checked.comparator, source_id, organism_id, r, "comparator")

    claim = Claim(
        statement=checked.statement,
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
        sample_type=checked.sample_type,
        source_id=source_id,
        status=status,
        version=1,
        created_by_id=w.actor.user_id,
        last_edited_by_id=w.actor.user_id,
        **checked.statistics,
    )
    claim.fingerprint = fingerprint_of(claim)
    duplicate = await s.scalar(_LIVE_WITH_FINGERPRINT, {"fingerprint": claim.fingerprint})
    if duplicate is not None:
        raise StoreError.naming(
            UserErrorCode.DUPLICATE,
            ("statement",),
            "this source already has a claim with the same subject, outcome, direction and context (",
            await describe_claim(w, duplicate),
            "); correct that claim instead",
        )
    await _insert_claim(s, claim)

    evidence_rows = [
        {
            "claim_id": claim.id,
            "position": index,
            "source_id": evidence_sources[index] or source_id,
            "quote": ev.quote,
            "locator": ev.locator,
            "stance": ev.stance,
        }
        for index, ev in enumerate(checked.evidence)
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


async def describe_claim(w: Writer, claim_id: int) -> Ref | str:
    """Another claim, for a message: a Ref to it (the API shows its global ID) only if the actor
    may see it (no leaking of drafts)."""
    from schema.visibility import claim_visibility

    row = (
        await w.session.execute(sa.select(Claim.status, Claim.created_by_id).where(Claim.id == claim_id))
    ).first()
    if row is not None and claim_visibility(w.actor).allows(row.status, row.created_by_id):
        return Ref("Claim", claim_id)
    return "another curator's unpublished claim"


def _gives_sources(data: ClaimRecord) -> bool:
    return any(type(source) is SourceRecord for _, source in data.sources())


async def _with_given_sources(w: Writer, data: ClaimRecord, checked: CheckedClaim) -> ClaimRecord:
    """The record with each source it gives in full (a seed file may) replaced by the id of the
    source it names or creates (api.store.commands.sources.given_source)."""
    ids = {path: await given_source(w, source, path) for path, source in checked.sources}
    return data.with_sources(lambda path, source: ids.get(path, source))


async def _cohort_id(
    w: Writer, data: CheckedCohort, source_id: int, organism_id: int, r: _Resolved, name: str
) -> int:
    """A source's cohorts are named by label; a claim may reuse one, but not contradict it."""
    label = data.label
    wanted = {
        "size": data.size,
        "female_count": data.female_count,
        "condition_id": r.ids.get(f"{name}.condition"),
        "treatment_status": data.treatment_status,
        "sample_type": data.sample_type,
    }
    existing = (
        await w.session.execute(sa.select(Cohort).where(Cohort.source_id == source_id, Cohort.label == label))
    ).scalar_one_or_none()
    if existing is not None:
        stored = {key: getattr(existing, key) for key in wanted}
        problem = cohort_disagreement(name, label, stored, wanted, existing.organism_id == organism_id)
        if problem is not None:
            raise StoreError([problem])
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
    """(Re)write the targets a claim bears on, its direction at each (schema.bearing) and the
    action its intervention takes there (None when the subject is the target itself).
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
                "action": None,
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
                    "action": TargetAction(action).value,
                }
            )
    if rows:
        # In target order: the aggregates' triggers (api/store/aggregate_triggers.py) then lock
        # their rows in one order in every transaction, so two writers cannot deadlock on them.
        rows.sort(key=lambda row: row["target_id"])
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
