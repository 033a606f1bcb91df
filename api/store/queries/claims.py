"""Reading claims: the ClaimFilter compiled to SQL, visibility, orderings and keyset pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.store.queries.pagination import Ordering, Page, PageRequest, SortKey, fetch_page
from api.store.resolve import lookup_id, lookup_source_ids
from api.store.search import text_match
from schema.enums import ClaimStatus, EffectDirection, EvidenceType, Modality, SourceKind, VocabularyKind
from schema.tables import LIVE_STATUSES, Claim, ClaimTarget, Cohort, ConditionLineage, Source
from schema.visibility import ClaimVisibility


@dataclass(frozen=True)
class ClaimFilterSpec:
    target: str | None = None
    intervention: str | None = None
    condition: str | None = None
    organism: str | None = None
    outcome: str | None = None
    direction: Sequence[EffectDirection] | None = None
    modality: Sequence[Modality] | None = None
    evidence_type: Sequence[EvidenceType] | None = None
    source_kind: Sequence[SourceKind] | None = None
    status: Sequence[ClaimStatus] | None = None
    source: str | None = None
    has_conflict: bool | None = None
    text: str | None = None
    min_cohort_size: int | None = None
    published_from: date | None = None
    published_to: date | None = None


@dataclass(frozen=True)
class ClaimScope:
    """Narrows a claim list to one parent object (Target.claims, Source.claims, ...)."""

    target_id: int | None = None
    intervention_id: int | None = None
    source_id: int | None = None
    # A conflict question's claims: those bearing on target_id with a target-level direction
    # (only `target_direction`, when given) about this outcome.
    outcome_id: int | None = None
    question_only: bool = False
    target_direction: str | None = None
    # A filtered conflict's claims stay within its filter (condition with descendants, organism).
    condition_id: int | None = None
    organism_id: int | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.target_id is not None and (self.question_only or self.target_direction):
            bearing = sa.select(ClaimTarget.claim_id).where(
                ClaimTarget.target_id == self.target_id, ClaimTarget.target_direction.is_not(None)
            )
            if self.target_direction is not None:
                bearing = bearing.where(ClaimTarget.target_direction == self.target_direction)
            out.append(Claim.id.in_(bearing))
            out.append(Claim.status.in_(LIVE_STATUSES))
        elif self.target_id is not None:
            out.append(_bears_on_target(self.target_id))
        if self.outcome_id is not None:
            out.append(Claim.outcome_id == self.outcome_id)
        if self.condition_id is not None:
            out.append(_within_condition(self.condition_id))
        if self.organism_id is not None:
            out.append(Claim.organism_id == self.organism_id)
        if self.intervention_id is not None:
            out.append(Claim.subject_intervention_id == self.intervention_id)
        if self.source_id is not None:
            out.append(Claim.source_id == self.source_id)
        return out


class ClaimOrderField(StrEnum):
    CREATED_AT = "CREATED_AT"
    PUBLISHED = "PUBLISHED"
    COHORT_SIZE = "COHORT_SIZE"


_PUBLISHED_YEAR = sa.func.coalesce(Source.year, 0)
_PUBLISHED_DAY = sa.func.coalesce(Source.published, sa.literal(date(1, 1, 1), sa.Date))
_COHORT_SIZE = sa.func.coalesce(Cohort.size, -1)


def claim_ordering(field: ClaimOrderField, descending: bool) -> Ordering:
    if field is ClaimOrderField.PUBLISHED:
        keys = [
            SortKey(_PUBLISHED_YEAR.label("k_year"), "int"),
            SortKey(_PUBLISHED_DAY.label("k_day"), "date"),
            SortKey(Claim.id, "int"),
        ]
    elif field is ClaimOrderField.COHORT_SIZE:
        keys = [SortKey(_COHORT_SIZE.label("k_size"), "int"), SortKey(Claim.id, "int")]
    else:
        keys = [SortKey(Claim.created_at, "datetime"), SortKey(Claim.id, "int")]
    return Ordering(f"claims:{field.value}:{'d' if descending else 'a'}", keys, descending)


def visible(vis: ClaimVisibility, claim: Any = Claim) -> sa.ColumnElement[bool]:
    """SQL for schema.visibility: which claims this viewer may see."""
    clause: sa.ColumnElement[bool] = claim.status.in_(sorted(vis.all_statuses))
    if vis.own_user_id is not None and vis.own_statuses:
        clause = sa.or_(
            clause,
            sa.and_(claim.created_by_id == vis.own_user_id, claim.status.in_(sorted(vis.own_statuses))),
        )
    return clause


def opposing(a: Any, b: Any) -> sa.ColumnElement[bool]:
    """SQL for schema.bearing.directions_oppose over two target-level direction columns."""
    inc, dec, none = "INCREASES", "DECREASES", "NO_EFFECT"
    return sa.or_(
        sa.and_(a == inc, b == dec),
        sa.and_(a == dec, b == inc),
        sa.and_(a.in_([inc, dec]), b == none),
        sa.and_(a == none, b.in_([inc, dec])),
    )


def has_conflict(vis: ClaimVisibility) -> sa.ColumnElement[bool]:
    """The claim opposes another visible claim on a shared target and the same outcome."""
    mine, theirs = aliased(ClaimTarget), aliased(ClaimTarget)
    other = aliased(Claim)
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(mine)
        .join(theirs, theirs.target_id == mine.target_id)
        .join(other, other.id == theirs.claim_id)
        .where(
            mine.claim_id == Claim.id,
            other.id != Claim.id,
            other.outcome_id == Claim.outcome_id,
            opposing(mine.target_direction, theirs.target_direction),
            Claim.status.in_(LIVE_STATUSES),
            other.status.in_(LIVE_STATUSES),
            visible(vis, other),
        )
    )


async def filter_conditions(
    session: AsyncSession, spec: ClaimFilterSpec, vis: ClaimVisibility
) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions for a filter. A name that resolves to nothing makes the filter match
    nothing (never an error: a frontend may ask about a target the database does not know)."""
    where: list[sa.ColumnElement[bool]] = [visible(vis)]

    by_name = [
        (spec.target, VocabularyKind.TARGET, _bears_on_target),
        (spec.intervention, VocabularyKind.INTERVENTION, lambda i: Claim.subject_intervention_id == i),
        (spec.condition, VocabularyKind.CONDITION, _within_condition),
        (spec.organism, VocabularyKind.ORGANISM, lambda i: Claim.organism_id == i),
        (spec.outcome, VocabularyKind.OUTCOME, lambda i: Claim.outcome_id == i),
    ]
    for name, kind, clause in by_name:
        if name is None:
            continue
        found = await lookup_id(session, kind, name)
        where.append(clause(found) if found is not None else sa.false())

    if spec.direction is not None:
        where.append(Claim.direction.in_([d.value for d in spec.direction]))
    if spec.modality is not None:
        where.append(Claim.modality.in_(list(spec.modality)))
    if spec.evidence_type is not None:
        where.append(Claim.evidence_type.in_(list(spec.evidence_type)))
    if spec.status is not None:
        where.append(Claim.status.in_(list(spec.status)))
    if spec.source_kind is not None:
        where.append(Claim.source_id.in_(sa.select(Source.id).where(Source.kind.in_(list(spec.source_kind)))))
    if spec.source is not None:
        ids = await lookup_source_ids(session, spec.source)
        where.append(Claim.source_id.in_(ids) if ids else sa.false())
    if spec.text is not None and spec.text.strip():
        where.append(text_match(session.bind.dialect.name, spec.text))
    if spec.min_cohort_size is not None:
        where.append(Claim.cohort_id.in_(sa.select(Cohort.id).where(Cohort.size >= spec.min_cohort_size)))
    if spec.published_from is not None or spec.published_to is not None:
        where.append(Claim.source_id.in_(sa.select(Source.id).where(*_published_window(spec))))
    if spec.has_conflict is not None:
        clause = has_conflict(vis)
        where.append(clause if spec.has_conflict else sa.not_(clause))
    return where


def _bears_on_target(target_id: int) -> sa.ColumnElement[bool]:
    return Claim.id.in_(sa.select(ClaimTarget.claim_id).where(ClaimTarget.target_id == target_id))


def _within_condition(condition_id: int) -> sa.ColumnElement[bool]:
    """The condition or any of its descendants (MS includes RRMS, SPMS, CIS)."""
    lineage = ConditionLineage
    descendants = sa.select(lineage.descendant_id).where(lineage.ancestor_id == condition_id)
    return Claim.condition_id.in_(descendants)


def _published_window(spec: ClaimFilterSpec) -> list[sa.ColumnElement[bool]]:
    """A source dated only by year counts as published within that year."""
    out: list[sa.ColumnElement[bool]] = []
    if spec.published_from is not None:
        start = spec.published_from
        out.append(
            sa.or_(
                Source.published >= start,
                sa.and_(Source.published.is_(None), Source.year >= start.year),
            )
        )
    if spec.published_to is not None:
        end = spec.published_to
        out.append(
            sa.or_(
                Source.published <= end,
                sa.and_(Source.published.is_(None), Source.year <= end.year),
            )
        )
    return out


async def claims_page(
    session: AsyncSession,
    spec: ClaimFilterSpec,
    vis: ClaimVisibility,
    page: PageRequest,
    order_field: ClaimOrderField = ClaimOrderField.CREATED_AT,
    descending: bool = True,
    scope: ClaimScope | None = None,
    count_session_factory: Any = None,
) -> Page:
    """One page of claims (ORM rows) matching the filter, in the given order.

    `count_session_factory` opens a session for the total count, which runs only when the
    client asks for totalCount (the page's own session may be closed by then).
    """
    where = [*await filter_conditions(session, spec, vis), *(scope.conditions() if scope else [])]
    ordering = claim_ordering(order_field, descending)
    sort_columns = [k.expression for k in ordering.keys if k.expression is not Claim.id]
    statement = sa.select(Claim, *[c for c in sort_columns if c is not Claim.created_at]).where(*where)
    if order_field is ClaimOrderField.PUBLISHED:
        statement = statement.join(Source, Source.id == Claim.source_id)
    elif order_field is ClaimOrderField.COHORT_SIZE:
        statement = statement.outerjoin(Cohort, Cohort.id == Claim.cohort_id)

    async def count() -> int:
        stmt = sa.select(sa.func.count()).select_from(Claim).where(*where)
        if count_session_factory is None:
            return int(await session.scalar(stmt) or 0)
        async with count_session_factory() as count_session:
            return int(await count_session.scalar(stmt) or 0)

    def key_of(row: Any) -> list[Any]:
        claim = row[0]
        if order_field is ClaimOrderField.PUBLISHED:
            return [row[1], row[2], claim.id]
        if order_field is ClaimOrderField.COHORT_SIZE:
            return [row[1], claim.id]
        return [claim.created_at, claim.id]

    result = await fetch_page(session, statement, ordering, page, key_of, count)
    result.rows = [row[0] for row in result.rows]
    return result
