"""Conflicts in SQL (the rules are in schema.conflicts; this applies them in the database).

Everything starts from the *participating* claims: visible claims with a target-level direction
(a row in claim_target whose direction is not NULL), narrowed by the conflict filter. From them:
- questions: (target, outcome) groups holding opposing directions, found with conditional sums
  (linear in the claims, no pairing);
- a question's kind: DIRECT when an EXISTS finds one direct opposing pair (stops at the first);
- pairs: planned on context groups (below): SQL groups a question's claims, a bucketed search
  (schema.pair_search) finds the first group pairs in order, and SQL expands only those into
  claim ids, so a page costs about its own size, not the question's square;
- pair totals from the direction counts (schema.conflicts.opposing_pair_count), not by counting.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.caches import NamedCache
from api.store.queries.claims import opposing, resolve_filter_name, visible
from api.store.queries.maintained import corrections, counted_statuses, none_if, retracted_source_ids
from api.store.queries.pagination import Ordering, Page, PageArgumentError, PageRequest, SortKey, fetch_page
from api.store.queries.standing import from_retracted_source
from schema.bearing import directions_oppose
from schema.conflicts import ConflictKind, opposing_pair_count
from schema.enums import EffectDirection, Modality, VocabularyKind
from schema.pair_search import ConditionsRelated, Group, GroupPair, first_group_pairs
from schema.tables import (
    Claim,
    ClaimCell,
    ClaimGroup,
    ClaimQuestion,
    ClaimTarget,
    ConditionLineage,
    claim_is_live,
)
from schema.visibility import ClaimVisibility

_DIRECTIONS = [d.value for d in EffectDirection]


@dataclass(frozen=True)
class ConflictFilterSpec:
    target: str | None = None
    condition: str | None = None
    organism: str | None = None
    outcome: str | None = None
    kinds: Sequence[ConflictKind] | None = None
    # Only claims said with these modalities take part (ASSERTED: no hedges, no hypotheses).
    modalities: Sequence[Modality] | None = None
    # Claims whose source a retraction reaches take part only when asked for.
    include_retracted: bool = False


@dataclass(frozen=True)
class Scope:
    """Resolved filter: ids."""

    target_id: int | None = None
    outcome_id: int | None = None
    condition_id: int | None = None
    organism_id: int | None = None
    # Only the claims sharing a target and the outcome with this claim (Claim.conflicts).
    alongside_claim_id: int | None = None
    # Only claims said with these modalities (sorted values), or all when None.
    modalities: tuple[str, ...] | None = None
    include_retracted: bool = False
    # The sources a retraction reaches, when read (api.store.queries.maintained); None: unknown.
    retracted_source_ids: tuple[int, ...] | None = None


@dataclass
class Question:
    target_id: int
    outcome_id: int
    direct: bool
    counts: dict[EffectDirection, int] = field(default_factory=dict)
    # The filter the question was found with: its pairs and claims stay within it.
    scope: Scope = field(default_factory=lambda: Scope())

    @property
    def pair_scope(self) -> Scope:
        return replace(self.scope, target_id=self.target_id, outcome_id=self.outcome_id)

    @property
    def kind(self) -> ConflictKind:
        return ConflictKind.DIRECT if self.direct else ConflictKind.CONTEXTUAL

    @property
    def pair_count(self) -> int:
        return opposing_pair_count(self.counts)


@dataclass(frozen=True)
class PairRow:
    left_id: int
    right_id: int
    direct: bool
    differences: int


async def resolve_scope(session: AsyncSession, spec: ConflictFilterSpec) -> Scope:
    found: dict[str, Any] = {"include_retracted": bool(spec.include_retracted)}
    if not spec.include_retracted:
        found["retracted_source_ids"] = await retracted_source_ids(session)
    if spec.modalities is not None:
        found["modalities"] = tuple(sorted({Modality(m).value for m in spec.modalities}))
    for key, kind, name in (
        ("target_id", VocabularyKind.TARGET, spec.target),
        ("outcome_id", VocabularyKind.OUTCOME, spec.outcome),
        ("condition_id", VocabularyKind.CONDITION, spec.condition),
        ("organism_id", VocabularyKind.ORGANISM, spec.organism),
    ):
        if name is not None:
            # An unknown name is a NOT_FOUND error naming the closest names, as in claim filters.
            found[key] = await resolve_filter_name(session, kind, name, ("filter", key.removesuffix("_id")))
    return Scope(**found)


def _claim_rows(
    seen: sa.ColumnElement[bool],
    scope: Scope,
    questions: Sequence[tuple[int, int]] | None = None,
    *,
    weight: int = 1,
) -> sa.Select:
    """Live claims with a target-level direction that `seen` admits, narrowed by the scope, one
    row per (claim, target), with their context and `weight` as `n` (what a row counts)."""
    statement = (
        sa.select(
            ClaimTarget.claim_id.label("claim_id"),
            ClaimTarget.target_id.label("target_id"),
            Claim.outcome_id.label("outcome_id"),
            ClaimTarget.target_direction.label("direction"),
            Claim.organism_id.label("organism_id"),
            Claim.condition_id.label("condition_id"),
            Claim.cohort_id.label("cohort_id"),
            Claim.sample_type.label("sample_type"),
            Claim.evidence_type.label("evidence_type"),
            Claim.subject_intervention_id.label("intervention_id"),
            sa.literal(weight).label("n"),
        )
        .join(Claim, Claim.id == ClaimTarget.claim_id)
        .where(
            ClaimTarget.target_direction.is_not(None),
            # Rejected and retracted claims stay visible to some, for the record, but no longer
            # say anything: they take no part in conflicts.
            claim_is_live(),
            seen,
        )
    )
    statement = statement.where(*_in_scope(scope, Claim, ClaimTarget.target_id))
    if questions is not None:
        statement = statement.where(sa.tuple_(ClaimTarget.target_id, Claim.outcome_id).in_(list(questions)))
    if scope.alongside_claim_id is not None:
        claim_id = scope.alongside_claim_id
        targets = sa.select(ClaimTarget.target_id).where(ClaimTarget.claim_id == claim_id)
        outcome = sa.select(Claim.outcome_id).where(Claim.id == claim_id).scalar_subquery()
        statement = statement.where(ClaimTarget.target_id.in_(targets), Claim.outcome_id == outcome)
    return statement


def _in_scope(scope: Scope, table: Any, target: Any) -> list[sa.ColumnElement[bool]]:
    """The scope's conditions over `table` (claim, or an aggregate: they name the columns alike)
    and the `target` column."""
    out: list[sa.ColumnElement[bool]] = []
    if scope.modalities is not None:
        out.append(table.modality.in_(scope.modalities) if scope.modalities else sa.false())
    for column, wanted in (
        (target, scope.target_id),
        (table.outcome_id, scope.outcome_id),
        (table.organism_id, scope.organism_id),
    ):
        if wanted is not None:
            out.append(column == wanted)
    if scope.condition_id is not None:
        out.append(table.condition_id.in_(_within(scope.condition_id)))
    return out


def _within(condition_id: int) -> sa.Select:
    """The condition and its descendants."""
    return sa.select(ConditionLineage.descendant_id).where(ConditionLineage.ancestor_id == condition_id)


def _cte(statement: sa.Select | sa.CompoundSelect, materialized: bool) -> sa.CTE:
    if materialized:
        # Inlined (NOT MATERIALIZED, below), PostgreSQL reads and joins the target's claims once
        # per reference: the questions page of a target with 200,000 claims took 3.1 s instead
        # of 0.85 s (bench/RESULTS.md, Q2). SQLite materialises a CTE referenced more than once
        # by itself.
        return statement.cte("participating").prefix_with("MATERIALIZED", dialect="postgresql")
    # Referenced more than once, PostgreSQL would materialise it and lose the indexes under the
    # pair joins; inlined, each reference keeps its index lookups.
    return statement.cte("participating").prefix_with("NOT MATERIALIZED", dialect="postgresql")


def participating(
    vis: ClaimVisibility,
    scope: Scope,
    questions: Sequence[tuple[int, int]] | None = None,
    *,
    materialized: bool = False,
) -> sa.CTE:
    """The claims taking part in conflicts, one row per (claim, target), with their context.

    `materialized`: for a statement that aggregates all of them several times over (the questions
    page: direction counts, and the (direction, organism, condition) groups twice), read once."""
    seen = visible(vis)
    if not scope.include_retracted:
        seen = sa.and_(seen, sa.not_(from_retracted_source(Claim.source_id)))
    return _cte(_claim_rows(seen, scope, questions), materialized)


# --- from the maintained aggregates ---------------------------------------------------------
#
# Questions (direction counts, DIRECT) need only (target, outcome, direction, organism,
# condition): they are read from claim_question (counts) and claim_cell (DIRECT), or from
# claim_cell alone when filtered by organism or condition or when the viewer's counts are
# corrected (api.store.queries.maintained). Pairs start from the context groups of claim_group.


def _question_rows(vis: ClaimVisibility, scope: Scope, materialized: bool) -> sa.CTE:
    """What the questions statement aggregates: (target, outcome, direction, organism,
    condition, n) rows whose n add up to the participating claims of each combination."""
    cell = ClaimCell
    aggregated = sa.select(
        cell.target_id,
        cell.outcome_id,
        cell.direction,
        cell.organism_id,
        none_if(cell.condition_id, 0, "condition_id"),
        cell.n,
    ).where(cell.status.in_(counted_statuses(vis, live_only=True)), cell.direction != "")
    aggregated = aggregated.where(*_in_scope(scope, cell, cell.target_id))
    parts: list[sa.Select] = [aggregated]
    for seen, weight in _corrections(vis, scope):
        rows = _claim_rows(seen, scope, weight=weight).subquery()
        columns = ("target_id", "outcome_id", "direction", "organism_id", "condition_id", "n")
        parts.append(sa.select(*[rows.c[c] for c in columns]))
    return _cte(sa.union_all(*parts) if len(parts) > 1 else aggregated, materialized)


def _corrections(vis: ClaimVisibility, scope: Scope) -> list[tuple[sa.ColumnElement[bool], int]]:
    """The claims added to (weight 1) or taken from (-1) the aggregate rows the viewer sees."""
    return corrections(vis, scope.include_retracted, scope.retracted_source_ids, live_only=True)


def _conditions_related(x: Any, y: Any) -> sa.ColumnElement[bool]:
    """Same condition (both unset counts as same), or one an ancestor of the other."""
    lineage = sa.select(sa.literal(1)).where(
        sa.or_(
            sa.and_(ConditionLineage.ancestor_id == x, ConditionLineage.descendant_id == y),
            sa.and_(ConditionLineage.ancestor_id == y, ConditionLineage.descendant_id == x),
        )
    )
    return sa.or_(sa.and_(x.is_(None), y.is_(None)), sa.exists(lineage))


def _direct(a: Any, b: Any) -> sa.ColumnElement[bool]:
    return sa.and_(
        a.c.organism_id == b.c.organism_id, _conditions_related(a.c.condition_id, b.c.condition_id)
    )


_ASPECT_COLUMNS = (
    "organism_id",
    "condition_id",
    "cohort_id",
    "sample_type",
    "evidence_type",
    "intervention_id",
)


def _differences(a: Any, b: Any) -> sa.ColumnElement[int]:
    terms = [
        sa.case((getattr(a.c, c).is_distinct_from(getattr(b.c, c)), 1), else_=0) for c in _ASPECT_COLUMNS
    ]
    total: Any = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _opposing_pairs(p: sa.CTE) -> tuple[Any, Any, sa.Select]:
    a, b = p.alias("a"), p.alias("b")
    statement = sa.select(
        a.c.target_id.label("target_id"),
        a.c.outcome_id.label("outcome_id"),
        a.c.claim_id.label("left_id"),
        b.c.claim_id.label("right_id"),
        sa.case((_direct(a, b), 0), else_=1).label("rank"),
        _differences(a, b).label("ndiff"),
    ).where(
        a.c.target_id == b.c.target_id,
        a.c.outcome_id == b.c.outcome_id,
        opposing(a.c.direction, b.c.direction),
    )
    return a, b, statement


# --- context groups -------------------------------------------------------------------------
#
# Claims of one question with the same direction and the same context (organism, condition,
# cohort, sample type, evidence type, intervention) form a *group*. Every claim pair between two
# groups has the same kind and the same differences, so kinds, ordering and paging are decided
# on group pairs, and only one page of claim ids is ever expanded. A group is named within its
# question by its smallest claim id (`first_id`). Pairs are ordered by
# (rank, differences, left group, right group, left claim, right claim): direct (rank 0) before
# contextual, fewer differences first; the left group is the one whose first claim is older.

_SIGNATURE = ("direction", *_ASPECT_COLUMNS)


# claim_group's key columns holding a stand-in for "none" (schema.tables), and the stand-in.
_STAND_INS = {"condition_id": 0, "cohort_id": 0, "sample_type": "", "intervention_id": 0}


def _signature_column(column: Any, name: str, label: str | None = None) -> Any:
    """One of claim_group's signature columns as the pair search reads it: NULL for "none"."""
    if name in _STAND_INS:
        return none_if(column, _STAND_INS[name], label or name)
    return column.label(label) if label is not None else column


def _groups(p: sa.CTE) -> sa.Subquery:
    columns = [p.c.target_id, p.c.outcome_id, *[getattr(p.c, c) for c in _SIGNATURE]]
    return (
        sa.select(*columns, sa.func.count().label("n"), sa.func.min(p.c.claim_id).label("first_id"))
        .group_by(*columns)
        .subquery("groups")
    )


def _direct_groups(p: sa.CTE) -> sa.Subquery:
    """The distinct (direction, organism, condition) of each question: all a DIRECT kind needs."""
    columns = [p.c.target_id, p.c.outcome_id, p.c.direction, p.c.organism_id, p.c.condition_id]
    # Rows subtracted (retracted sources) may leave a combination with no claims.
    return sa.select(*columns).group_by(*columns).having(sa.func.sum(p.c.n) > 0).subquery("direct_groups")


# The questions statements built, by everything they are built from: building one takes a few
# dozen SQLAlchemy constructs (~2 ms of a 30 ms conflicts page on a small database), and a
# statement holds no state of a request.
_QUESTIONS: NamedCache[tuple[Any, ...], sa.Subquery] = NamedCache("conflict questions", maxsize=256)


def _questions_statement(
    vis: ClaimVisibility,
    scope: Scope,
    kinds: Sequence[ConflictKind] | None,
    count_only: bool = False,
    by_question: bool = False,
) -> sa.Subquery:
    """`by_question`: count from claim_question and decide DIRECT per question listed (see
    _questions_by_question: only where no claim is added or subtracted for this viewer and the
    scope names no organism or condition)."""
    key = (vis, scope, None if kinds is None else tuple(kinds), count_only, by_question)
    made = _QUESTIONS.get(key)
    if made is None:
        made = _QUESTIONS.put(key, _build_questions_statement(vis, scope, kinds, count_only, by_question))
    return made


def _build_questions_statement(
    vis: ClaimVisibility,
    scope: Scope,
    kinds: Sequence[ConflictKind] | None,
    count_only: bool,
    by_question: bool,
) -> sa.Subquery:
    if by_question:
        return _questions_by_question(vis, scope, kinds, count_only)
    # Aggregated three times (counts, and the direct groups on either side) unless only counted.
    p = _question_rows(vis, scope, materialized=not (count_only and kinds is None))
    return _with_kinds(_question_counts(p), _direct_exists_in(p), kinds, count_only)


def _question_counts(p: Any) -> sa.Subquery:
    """The questions among `p`'s (target, outcome, direction, n) rows: those holding opposing
    directions, with their direction counts."""
    counts = {d: sa.func.sum(sa.case((p.c.direction == d, p.c.n), else_=0)) for d in _DIRECTIONS}
    up, down, none = counts["INCREASES"], counts["DECREASES"], counts["NO_EFFECT"]
    return (
        sa.select(p.c.target_id, p.c.outcome_id, *[counts[d].label(f"n_{d.lower()}") for d in _DIRECTIONS])
        .group_by(p.c.target_id, p.c.outcome_id)
        .having(sa.or_(sa.and_(up > 0, down > 0), sa.and_(none > 0, up + down > 0)))
        .subquery("grouped")
    )


# Whether the question of a (grouped) row of questions is DIRECT.
DirectExists = Callable[[Any], sa.Exists]


def _direct_exists_in(p: sa.CTE) -> DirectExists:
    """DIRECT when some opposing pair shares the organism and a related condition. That needs
    only (direction, organism, condition), so it is decided on those few coarse groups of `p`,
    not on the context groups (which, with a cohort per study, are nearly as many as the claims)."""
    g = _direct_groups(p)
    a, b = g.alias("ga"), g.alias("gb")

    def exists(grouped: Any) -> sa.Exists:
        return sa.exists(
            sa.select(sa.literal(1))
            .select_from(a)
            .join(b, sa.and_(b.c.target_id == a.c.target_id, b.c.outcome_id == a.c.outcome_id))
            .where(
                a.c.target_id == grouped.c.target_id,
                a.c.outcome_id == grouped.c.outcome_id,
                opposing(a.c.direction, b.c.direction),
                _direct(a, b),
            )
        )

    return exists


def _questions_by_question(
    vis: ClaimVisibility, scope: Scope, kinds: Sequence[ConflictKind] | None, count_only: bool
) -> sa.Subquery:
    """The questions counted from claim_question (a dozen rows per question, in (target, outcome)
    order, so a page of questions reads only its own and the ones before it), each question's
    DIRECT decided by an EXISTS over its own claim_cell rows, evaluated for the questions listed:
    a hot target's questions no longer aggregate all its cells. For a scope without organism or
    condition and a viewer for whom no claim is added or subtracted (the caller checks)."""
    q = ClaimQuestion
    statuses = counted_statuses(vis, live_only=True)
    rows = sa.select(q.target_id, q.outcome_id, q.direction, q.n).where(q.status.in_(statuses))
    # The scope's target, outcome and modalities (claim_question keeps no organism or condition).
    narrowed = [
        column == wanted
        for column, wanted in ((q.target_id, scope.target_id), (q.outcome_id, scope.outcome_id))
        if wanted is not None
    ]
    if scope.modalities is not None:
        narrowed.append(q.modality.in_(scope.modalities) if scope.modalities else sa.false())
    rows = rows.where(*narrowed).subquery("question_rows")
    cell = ClaimCell

    def exists(grouped: Any) -> sa.Exists:
        a, b = cell.__table__.alias("ca"), cell.__table__.alias("cb")
        same = [b.c[c] == a.c[c] for c in ("target_id", "outcome_id", "organism_id")]
        return sa.exists(
            sa.select(sa.literal(1))
            .select_from(a)
            .join(b, sa.and_(*same, b.c.status.in_(statuses), *_in_scope(scope, b.c, b.c.target_id)))
            .where(
                a.c.target_id == grouped.c.target_id,
                a.c.outcome_id == grouped.c.outcome_id,
                a.c.status.in_(statuses),
                *_in_scope(scope, a.c, a.c.target_id),
                opposing(a.c.direction, b.c.direction),
                # 0 stands for no condition (schema.tables); the lineage relates real ones.
                sa.or_(
                    sa.and_(a.c.condition_id == 0, b.c.condition_id == 0),
                    _conditions_related(a.c.condition_id, b.c.condition_id),
                ),
            )
        )

    return _with_kinds(_question_counts(rows), exists, kinds, count_only)


def _with_kinds(
    grouped: sa.Subquery, direct_of: DirectExists, kinds: Sequence[ConflictKind] | None, count_only: bool
) -> sa.Subquery:
    """The questions with their kind (`direct`), narrowed to `kinds`."""
    direct_exists = direct_of(grouped)
    if count_only and kinds is None:
        # Counting questions needs no kind: leave the EXISTS out (not every planner drops an
        # unused subquery column).
        return sa.select(grouped).subquery("questions")
    statement = sa.select(grouped, direct_exists.label("direct"))
    if kinds is not None and not kinds:
        statement = statement.where(sa.false())  # like every list filter: an empty list matches nothing
    elif kinds is not None and set(kinds) != set(ConflictKind):
        statement = statement.where(direct_exists if ConflictKind.DIRECT in kinds else sa.not_(direct_exists))
    return statement.subquery("questions")


def _question(row: Any, scope: Scope) -> Question:
    counts = {EffectDirection(d): int(getattr(row, f"n_{d.lower()}") or 0) for d in _DIRECTIONS}
    return Question(
        row.target_id, row.outcome_id, bool(row.direct), {k: v for k, v in counts.items() if v}, scope
    )


async def questions_page(
    session: AsyncSession,
    spec: ConflictFilterSpec,
    vis: ClaimVisibility,
    page: PageRequest,
    session_factory: Any,
) -> Page:
    scope = await resolve_scope(session, spec)
    by_question = (
        scope.organism_id is None
        and scope.condition_id is None
        and scope.alongside_claim_id is None
        and not await _corrected(session, vis, scope, None)
    )
    questions = _questions_statement(vis, scope, spec.kinds, by_question=by_question)
    ordering = Ordering(
        "conflicts", [SortKey(questions.c.target_id, "int"), SortKey(questions.c.outcome_id, "int")]
    )

    counted = _questions_statement(vis, scope, spec.kinds, count_only=True, by_question=by_question)

    async def count() -> int:
        async with session_factory() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(counted)) or 0)

    result = await fetch_page(
        session, sa.select(questions), ordering, page, lambda r: [r.target_id, r.outcome_id], count
    )
    result.rows = [_question(r, scope) for r in result.rows]
    return result


async def question(
    session: AsyncSession, target_id: int, outcome_id: int, vis: ClaimVisibility
) -> Question | None:
    """One question, or None when (for this viewer) it holds no opposing claims."""
    retracted = await retracted_source_ids(session)
    scope = Scope(target_id=target_id, outcome_id=outcome_id, retracted_source_ids=retracted)
    questions = _questions_statement(vis, scope, None)
    row = (await session.execute(sa.select(questions))).first()
    found = Scope(retracted_source_ids=scope.retracted_source_ids)
    return _question(row, found) if row is not None else None


def _cursor_codec(name: str, width: int) -> Ordering:
    return Ordering(name, [SortKey(sa.literal_column(f"k{i}"), "int") for i in range(width)])


_PAIR_CURSOR = _cursor_codec("pairs", 6)


async def _condition_relation(session: AsyncSession, rows: Sequence[Any]) -> ConditionsRelated:
    """Whether two conditions are related (as _conditions_related in SQL), for the conditions
    of `rows`: their lineage rows are read once."""
    conditions = sorted({r.condition_id for r in rows if r.condition_id is not None})
    lineage: set[tuple[int, int]] = set()
    if conditions:
        found = await session.execute(
            sa.select(ConditionLineage.ancestor_id, ConditionLineage.descendant_id).where(
                ConditionLineage.ancestor_id.in_(conditions), ConditionLineage.descendant_id.in_(conditions)
            )
        )
        lineage = {(a, d) for a, d in found.all()}

    def related(x: int | None, y: int | None) -> bool:
        if x is None or y is None:
            return x is None and y is None
        return (x, y) in lineage or (y, x) in lineage

    return related


async def pairs_pages(
    session: AsyncSession, questions: Sequence[Question], vis: ClaimVisibility, page: PageRequest
) -> dict[tuple[int, int], Page]:
    """One page of opposing pairs for each question, in two statements whatever their number.

    Questions must share one scope (the filter they were found with). A cursor (`after`) is
    only meaningful for a single question.
    """
    page = page.validated()
    if page.backward:
        raise PageArgumentError("pairs page forward only: use first and after")
    if not questions:
        return {}
    size = page.size
    cursor = _PAIR_CURSOR.decode_cursor(page.after) if page.after is not None else None
    if cursor is not None and len(questions) != 1:
        raise ValueError("a pairs cursor belongs to one question")
    keys = [(q.target_id, q.outcome_id) for q in questions]
    p = participating(vis, replace(questions[0].scope, target_id=None, outcome_id=None), keys)

    # 1. The first group pairs of each question at or after the cursor's group pair. Where the
    #    first DIRECT pairs of equal context fill the page, they are found by index
    #    (_first_direct_pairs); for the other questions the groups come from SQL and the search
    #    over their pairs runs here (schema.pair_search says why).
    pair_scope = replace(questions[0].scope, target_id=None, outcome_id=None)
    fast = await _groups_are_maintained(session, vis, pair_scope, keys)
    start = GroupPair(*cursor[:4]) if cursor is not None else None
    plans: dict[tuple[int, int], list[GroupPair]] = {}
    rows: list[tuple[Any, ...]] = []
    if fast and (start is None or (start.rank, start.ndiff) == (0, 0)):
        direct = await _first_direct_pairs(session, vis, pair_scope, keys, size, start)
        if direct is not None:
            plans, rows = direct.plans, direct.rows
    searched = [key for key in keys if key not in plans]
    if searched:
        g = _maintained_groups(vis, pair_scope, searched) if fast else _groups(p)
        columns = [g.c.target_id, g.c.outcome_id, g.c.first_id, g.c.n, *[g.c[c] for c in _SIGNATURE]]
        # On the connection: plain rows, without the ORM's per-row loading (a hot question has
        # tens of thousands of groups).
        found = list((await (await session.connection()).execute(sa.select(*columns))).all())
        # Read by position, each direction made an enum once, a group's signature built only
        # for the groups a page reaches.
        by_question: dict[tuple[int, int], list[Group]] = {key: [] for key in searched}
        direction_of: dict[Any, EffectDirection] = {}
        for r in found:
            values = tuple(r)
            member = direction_of.get(values[4])
            if member is None:
                member = direction_of[values[4]] = EffectDirection(values[4])
            by_question[(values[0], values[1])].append(Group(values[2], member, values[5:]))
        related = await _condition_relation(session, found)
        for key, groups in by_question.items():
            # size + 2: the cursor's own group pair may be spent; every other yields at least a pair.
            plans[key] = first_group_pairs(groups, related, size + 2, start)
        rows += found
    sizes: dict[tuple[int, int, int], int] = {}  # fast path: (target, outcome, first id) -> n
    values_of: dict[tuple[int, int, int], tuple[Any, ...]] = {}  # ... -> the row's values
    if fast:
        for values in rows:
            sizes[values[:3]] = int(values[3])
            values_of[values[:3]] = tuple(values)

    # 2. Enough claim ids of every group involved to fill the page: the first size + 1 of each,
    #    and for the cursor's group pair those just after the cursor.
    needed = {
        (t, o, g) for (t, o), plan in plans.items() for gp_ in plan for g in (gp_.left_group, gp_.right_group)
    }
    ids: dict[tuple[int, int, int], list[int]] = {}
    if needed and fast:
        needed = _reached(plans, sizes, size, cursor)
        # A group of one claim is its first claim: only larger groups are looked up, by their
        # signature (direction and context, as the aggregate's columns hold them).
        ids = {key: [key[2]] for key in needed if sizes[key] == 1}
        larger = {key: tuple(_plain(v) for v in values_of[key][4:]) for key in needed if sizes[key] > 1}
        if larger:
            # The walk takes at most size + 1 claims of a group, except in the cursor's own
            # group pair, where it resumes after the cursor: those are read whole.
            at_cursor: set[tuple[int, int, int]] = set()
            if cursor is not None:
                at_cursor = {(t, o, g) for t, o in plans for g in cursor[2:4]}
            ids.update(await _members_by_signature(session, vis, larger, size + 1, at_cursor))
    elif needed:
        ids = await _members_by_window(session, p, needed, size, cursor)

    # 3. Walk the group pairs in order, emitting claim pairs until the page is full.
    pages: dict[tuple[int, int], Page] = {}
    for q in questions:
        key = (q.target_id, q.outcome_id)
        out: list[PairRow] = []
        cursors: list[str] = []
        for gp_ in plans[key]:
            lefts = ids.get((*key, gp_.left_group), [])
            rights = ids.get((*key, gp_.right_group), [])
            at_cursor = cursor is not None and tuple(cursor[:4]) == (
                gp_.rank, gp_.ndiff, gp_.left_group, gp_.right_group
            )  # fmt: skip
            for left in lefts:
                if at_cursor and left < cursor[4]:
                    continue
                for right in rights:
                    if at_cursor and left == cursor[4] and right <= cursor[5]:
                        continue
                    # Shown with the older claim on the left; the cursor keeps the walk's own order.
                    out.append(PairRow(min(left, right), max(left, right), gp_.rank == 0, gp_.ndiff))
                    cursors.append(
                        _PAIR_CURSOR.encode_cursor(
                            [gp_.rank, gp_.ndiff, gp_.left_group, gp_.right_group, left, right]
                        )
                    )
                    if len(out) > size:
                        break
                if len(out) > size:
                    break
            if len(out) > size:
                break
        total = q.pair_count

        async def count(total: int = total) -> int:
            return total

        pages[key] = Page(
            rows=out[:size],
            cursors=cursors[:size],
            has_next_page=len(out) > size,
            has_previous_page=page.after is not None,
            count=count,
        )
    return pages


def _reached(
    plans: dict[tuple[int, int], list[GroupPair]],
    sizes: dict[tuple[int, int, int], int],
    size: int,
    cursor: Sequence[int] | None,
) -> set[tuple[int, int, int]]:
    """The groups whose claims a page can reach: the walk (step 3) stops once it has size + 1
    pairs, and a group pair holds n_left * n_right of them, so the groups' sizes say where it
    stops. (The cursor's own group pair may be spent: it counts as none, so this is a superset.)"""
    reached: set[tuple[int, int, int]] = set()
    for (t, o), plan in plans.items():
        pairs = 0
        for gp in plan:
            left, right = (t, o, gp.left_group), (t, o, gp.right_group)
            reached |= {left, right}
            if cursor is None or tuple(cursor[:4]) != (gp.rank, gp.ndiff, gp.left_group, gp.right_group):
                pairs += sizes[left] * sizes[right]
            if pairs > size:
                break
    return reached


async def _members_by_window(
    session: AsyncSession,
    p: sa.CTE,
    needed: set[tuple[int, int, int]],
    size: int,
    cursor: Sequence[int] | None,
) -> dict[tuple[int, int, int], list[int]]:
    """The first size + 1 claim ids of each needed group (and, for the cursor's group pair, those
    just after the cursor), naming each claim's group with a window over the questions' claims."""
    members = sa.select(
        p.c.claim_id,
        p.c.target_id,
        p.c.outcome_id,
        sa.func.min(p.c.claim_id)
        .over(partition_by=[p.c.target_id, p.c.outcome_id, *[getattr(p.c, c) for c in _SIGNATURE]])
        .label("group_id"),
    ).subquery("members")
    in_needed = sa.tuple_(members.c.target_id, members.c.outcome_id, members.c.group_id).in_(sorted(needed))

    def first_of(extra: Any, label: str) -> sa.Select:
        ranked = (
            sa.select(
                members,
                sa.func.row_number()
                .over(
                    partition_by=[members.c.target_id, members.c.outcome_id, members.c.group_id],
                    order_by=members.c.claim_id,
                )
                .label("rn"),
            )
            .where(in_needed, extra)
            .subquery(label)
        )
        return sa.select(ranked.c.target_id, ranked.c.outcome_id, ranked.c.group_id, ranked.c.claim_id).where(
            ranked.c.rn <= size + 1
        )

    parts = [first_of(sa.true(), "from_start")]
    if cursor is not None:
        parts.append(first_of(members.c.claim_id >= cursor[4], "from_left"))
        parts.append(first_of(members.c.claim_id > cursor[5], "after_right"))
    ids: dict[tuple[int, int, int], list[int]] = {}
    for t, o, g, claim_id in (await session.execute(sa.union(*parts))).all():
        ids.setdefault((t, o, g), []).append(claim_id)
    for found in ids.values():
        found.sort()
    return ids


async def _groups_are_maintained(
    session: AsyncSession, vis: ClaimVisibility, scope: Scope, keys: Sequence[tuple[int, int]]
) -> bool:
    """Whether the questions' context groups can be read from claim_group: unless a claim of a
    retracted source takes part, whose leaving could change a group's smallest claim id."""
    if scope.alongside_claim_id is not None:
        return False
    subtracted = [seen for seen, weight in _corrections(vis, scope) if weight < 0]
    if not subtracted:
        return True
    return not await session.scalar(sa.select(sa.exists(_claim_rows(subtracted[0], scope, keys))))


def _maintained_groups(vis: ClaimVisibility, scope: Scope, keys: Sequence[tuple[int, int]]) -> sa.Subquery:
    """The questions' context groups as the viewer sees them (as _groups gives them): claim_group's
    rows of the statuses they see, with their own unpublished claims added."""
    g = ClaimGroup
    aggregated = sa.select(
        g.target_id,
        g.outcome_id,
        *[_signature_column(getattr(g, name), name) for name in _SIGNATURE],
        g.n,
        g.first_id,
    ).where(
        g.status.in_(counted_statuses(vis, live_only=True)),
        # Each column on its own too: SQLite searches the primary key by them, where the
        # row-value IN alone made it scan every group (1 s for a target with 200 claims).
        g.target_id.in_(sorted({t for t, _ in keys})),
        g.outcome_id.in_(sorted({o for _, o in keys})),
        sa.tuple_(g.target_id, g.outcome_id).in_(list(keys)),
    )
    aggregated = aggregated.where(*_in_scope(scope, g, g.target_id))
    parts: list[sa.Select] = [aggregated]
    # Only additions: _groups_are_maintained saw that no claim is subtracted.
    for own, _ in [c for c in _corrections(vis, scope) if c[1] > 0]:
        rows = _claim_rows(own, scope, keys).subquery()
        parts.append(
            sa.select(
                rows.c.target_id,
                rows.c.outcome_id,
                *[rows.c[c] for c in _SIGNATURE],
                rows.c.n,
                rows.c.claim_id.label("first_id"),
            )  # fmt: skip
        )
    u = (sa.union_all(*parts) if len(parts) > 1 else aggregated).subquery("maintained")
    columns = [u.c.target_id, u.c.outcome_id, *[u.c[c] for c in _SIGNATURE]]
    return (
        sa.select(*columns, sa.func.sum(u.c.n).label("n"), sa.func.min(u.c.first_id).label("first_id"))
        .group_by(*columns)
        .subquery("groups")
    )


@dataclass
class _DirectPairs:
    """The first pairs of each question, all DIRECT with no difference: the group pairs (plans)
    and their groups as rows of the shape pairs_pages reads them in (target, outcome, first_id,
    n, direction, then the context)."""

    plans: dict[tuple[int, int], list[GroupPair]]
    rows: list[tuple[Any, ...]]


# The walk's planner settings (_first_direct_pairs), for the rest of the transaction
# (set_config's `true`, as SET LOCAL), in one statement that also reads what they were (the
# select list is evaluated in order); then those values again, in one statement.
_WALK_SETTINGS = {
    "plan_cache_mode": "force_custom_plan",
    "join_collapse_limit": "1",
    "from_collapse_limit": "1",
}
_PLAN_FOR_THE_WALK = "SELECT " + ", ".join(
    [f"current_setting('{name}')" for name in _WALK_SETTINGS]
    + [f"set_config('{name}', '{value}', true)" for name, value in _WALK_SETTINGS.items()]
)
_PLAN_AS_BEFORE = "SELECT " + ", ".join(
    f"set_config('{name}', ${number}, true)" for number, name in enumerate(_WALK_SETTINGS, start=1)
)


async def _first_direct_pairs(
    session: AsyncSession,
    vis: ClaimVisibility,
    scope: Scope,
    keys: Sequence[tuple[int, int]],
    size: int,
    start: GroupPair | None,
) -> _DirectPairs | None:
    """The first `limit` group pairs of each question when they all come from the first level
    of the order, (DIRECT, no difference): groups of opposing directions and equal context (the
    same organism and condition make them DIRECT). Found by walking each question's groups in
    first-claim order through ix_claim_group_first, testing each for an opposing group of the
    same context by primary key, and stopping at the `limit`th left group (limit: size + 2, as
    the search takes): a page costs about its own size, however many groups the question has.
    (A group pair's left group is the one with the older first claim, so the first pairs have
    the first left groups that have any partner after them.)

    Only the questions this level fills are answered (`limit` group pairs, or pairs enough for
    the page and the one after it); the caller searches the others' groups. None where it does
    not apply at all: more than one status counted (a group would be the sum of several rows),
    or claims added to or subtracted from the aggregate for this viewer."""
    statuses = counted_statuses(vis, live_only=True)
    # The caller found no claim subtracted (_groups_are_maintained): only additions are left.
    if len(statuses) != 1 or await _corrected(session, vis, scope, keys, weights=(1,)):
        return None
    (status,) = statuses
    limit = size + 2
    connection = await session.connection()
    postgresql = connection.dialect.name == "postgresql"
    # On PostgreSQL, the questions of one target (a target's conflicts: Q2) are walked by one
    # walk LATERAL to their outcomes: planned once rather than once per question (a UNION ALL of
    # ten walks took 31 ms to plan and 18 to run at 1M claims; this, 15 ms in all: timed by a
    # script). Not the questions of several targets: planned without knowing the target,
    # PostgreSQL read each question's groups whole (250 ms).
    lateral = postgresql and len({target_id for target_id, _ in keys}) == 1
    sql = _direct_pairs_sql(connection.dialect, status, scope, limit, start is not None, lateral)
    cursor = {"start_left": start.left_group, "start_right": start.right_group} if start is not None else {}
    if lateral:
        text = sql.text
        outcomes = [outcome_id for _, outcome_id in keys]
        parameters = sql.parameters({"target_id": keys[0][0], "outcomes": outcomes, **cursor})
    else:
        # One indexed walk per question, all in one statement.
        each = [{"target_id": t, "outcome_id": o, **cursor} for t, o in keys]
        text, parameters = union_all_of([(sql, values) for values in each], _numbered(connection))
    if postgresql:
        # Planned for the questions at hand: after five runs of a prepared statement PostgreSQL
        # may switch to a generic plan, which for this walk was 8-20 times slower (~295 ms
        # against 15-38 ms for ten questions at 1M claims). Its joins are written in the order to
        # run them (the walk, then each right group by key), so the planner need not search
        # others. For this statement only: set, like SET LOCAL, and put back in one statement
        # each (six round trips were ~2 ms of a conflicts page).
        before = (await connection.exec_driver_sql(_PLAN_FOR_THE_WALK)).one()[: len(_WALK_SETTINGS)]
    found = (await connection.exec_driver_sql(text, parameters)).all()
    if postgresql:
        await connection.exec_driver_sql(_PLAN_AS_BEFORE, tuple(before))
    plans: dict[tuple[int, int], list[GroupPair]] = {key: [] for key in keys}
    pairs_in: dict[tuple[int, int], int] = dict.fromkeys(keys, 0)  # claim pairs, but the cursor's
    rows: dict[tuple[int, int, int], tuple[Any, ...]] = {}
    width = len(_SIGNATURE)
    for r in found:
        # (target, outcome, left id, right id, left n, right n, left signature, right signature)
        key = (r[0], r[1])
        pair = GroupPair(0, 0, r[2], r[3])
        plans[key].append(pair)
        if pair != start:
            pairs_in[key] += int(r[4]) * int(r[5])
        for first_id, n, signature in ((r[2], r[4], r[6 : 6 + width]), (r[3], r[5], r[6 + width :])):
            rows[(*key, first_id)] = (*key, first_id, int(n), *signature)
    filled = {key for key, plan in plans.items() if len(plan) >= limit or pairs_in[key] > size}
    return _DirectPairs(
        {key: plan for key, plan in plans.items() if key in filled},
        [row for row in rows.values() if row[:2] in filled],
    )


async def _corrected(
    session: AsyncSession,
    vis: ClaimVisibility,
    scope: Scope,
    keys: Sequence[tuple[int, int]] | None,
    weights: tuple[int, ...] = (1, -1),
) -> bool:
    """Whether a claim of these questions (None: of the scope) is added to (weight 1) or
    subtracted from (-1) what the viewer's status rows count (their own unpublished claims;
    retracted sources'), of the corrections of `weights`."""
    for seen, weight in _corrections(vis, scope):
        if weight in weights and await session.scalar(sa.select(sa.exists(_claim_rows(seen, scope, keys)))):
            return True
    return False


@dataclass(frozen=True)
class _CompiledSql:
    """A statement compiled once to its dialect's SQL text, run with new values for its named
    parameters: building and compiling the pairs statement cost more than running it."""

    text: str
    names: tuple[str, ...]  # the positional parameters' names, in order
    fixed: dict[str, Any]  # values written into the statement (statuses, modalities, ...)

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] if name in values else self.fixed[name] for name in self.names)

    @classmethod
    def of(cls, statement: sa.Select, dialect: Any) -> _CompiledSql:
        """`statement` compiled for `dialect`, IN lists written out (their values are fixed);
        the values given to its parameters are placeholders, replaced on every run."""
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        return cls(str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))


def _numbered(connection: Any) -> bool:
    """Whether the driver's placeholders are numbered ($1, PostgreSQL) rather than "?"."""
    return bool(connection.dialect.paramstyle.startswith("numeric"))


def union_all_of(
    parts: Sequence[tuple[_CompiledSql, dict[str, Any]]], numbered: bool
) -> tuple[str, tuple[Any, ...]]:
    """Compiled statements, each with its values, as one UNION ALL (each part keeps its own ORDER
    BY and LIMIT inside a derived table). `numbered`: the placeholders are $1, $2, ...
    (PostgreSQL), so each part's are moved past the previous parts'."""
    texts: list[str] = []
    parameters: list[Any] = []
    for index, (sql, values) in enumerate(parts):
        text = sql.text
        if numbered:
            offset = len(parameters)
            text = _PLACEHOLDER.sub(lambda m, offset=offset: f"${int(m[1]) + offset}", text)
        texts.append(f"SELECT * FROM ({text}) AS part_{index}")
        parameters += sql.parameters(values)
    return " UNION ALL ".join(texts), tuple(parameters)


# A numbered placeholder ($1) in compiled SQL; the statements compiled here hold no text literal.
_PLACEHOLDER = re.compile(r"\$(\d+)")


_DIRECT_SQL: NamedCache[tuple[Any, ...], _CompiledSql] = NamedCache("direct pairs SQL", maxsize=64)


def _direct_pairs_sql(
    dialect: Any, status: str, scope: Scope, limit: int, after: bool, lateral: bool = False
) -> _CompiledSql:
    """_direct_pairs_of compiled for `dialect`, with the question (target_id, outcome_id) and,
    `after` a cursor, its group pair (start_left, start_right) as parameters; `lateral`, the
    outcomes (an array, parameter "outcomes") each walked, LATERAL, in one statement."""
    key = (dialect.name, status, scope.modalities, scope.organism_id, scope.condition_id, limit, after)
    key += (lateral,)
    made = _DIRECT_SQL.get(key)
    if made is None:
        statement: sa.Select
        if lateral:
            outcomes = (
                sa.func.unnest(sa.bindparam("outcomes", [0], type_=sa.ARRAY(sa.Integer)))
                .table_valued("outcome_id")
                .render_derived(name="questions")
            )
            walk = _direct_pairs_of(status, scope, limit, after, outcomes).lateral("walk")
            statement = sa.select(walk).select_from(outcomes).join(walk, sa.true())
        else:
            statement = _direct_pairs_of(status, scope, limit, after)
        made = _DIRECT_SQL.put(key, _CompiledSql.of(statement, dialect))
    return made


def _direct_pairs_of(
    status: str, scope: Scope, limit: int, after: bool, outcomes: Any | None = None
) -> sa.Select:
    """The first `limit` (DIRECT, no difference) group pairs of one question (see
    _first_direct_pairs), with both groups' sizes and signatures; the question and the cursor's
    group pair are parameters, or the outcome a column of `outcomes`, a query it is lateral to."""
    target_id = sa.bindparam("target_id", 0)
    outcome_id = outcomes.c.outcome_id if outcomes is not None else sa.bindparam("outcome_id", 0)
    start = GroupPair(0, 0, sa.bindparam("start_left", 0), sa.bindparam("start_right", 0)) if after else None
    table = ClaimGroup.__table__
    changes = ("INCREASES", "DECREASES", "NO_EFFECT")  # MIXED opposes nothing

    def modality_ok(row: Any) -> list[sa.ColumnElement[bool]]:
        if scope.modalities is None:
            return []
        return [row.c.modality.in_(scope.modalities) if scope.modalities else sa.false()]

    def same_group(row: Any, other: Any) -> list[sa.ColumnElement[bool]]:
        """`other` is a row of `row`'s group (another modality): the primary key's prefix."""
        columns = ("target_id", "outcome_id", "status", "direction", *_ASPECT_COLUMNS)
        return [other.c[c] == row.c[c] for c in columns] + modality_ok(other)

    def first_of_group(row: Any, name: str) -> sa.ColumnElement[bool]:
        """`row` holds its group's first claim (a group is the sum of its modalities' rows).
        The unary + keeps SQLite on the primary key here, not on ix_claim_group_first."""
        other = table.alias(name)
        older = sa.literal_column(f"+{name}.first_id") < row.c.first_id
        return ~sa.exists(sa.select(sa.literal(1)).select_from(other).where(*same_group(row, other), older))

    def size(row: Any, name: str) -> sa.ScalarSelect:
        other = table.alias(name)
        return sa.select(sa.func.sum(other.c.n)).where(*same_group(row, other)).scalar_subquery()

    def partner_of(left: Any, right: Any, name: str) -> list[sa.ColumnElement[bool]]:
        """`right` is the first row of a group opposing `left`'s, of the same context, after it
        (and at or after the cursor's pair)."""
        out = [right.c[c] == left.c[c] for c in ("target_id", "outcome_id", "status", *_ASPECT_COLUMNS)]
        out += [
            right.c.direction.in_(changes),
            opposing(left.c.direction, right.c.direction),
            sa.literal_column(f"+{right.name}.first_id") > left.c.first_id,
            first_of_group(right, name),
            *modality_ok(right),
        ]
        if start is not None:
            out.append(sa.or_(left.c.first_id > start.left_group, right.c.first_id >= start.right_group))
        return out

    g = table.alias("g")
    candidate = table.alias("candidate")
    lefts = (
        sa.select(g)
        .where(
            g.c.target_id == target_id,
            g.c.outcome_id == outcome_id,
            g.c.status == status,
            g.c.direction.in_(changes),
            *_in_scope(replace(scope, modalities=None), g.c, g.c.target_id),
            *modality_ok(g),
            *([g.c.first_id >= start.left_group] if start is not None else []),
            first_of_group(g, "g_older"),
            sa.exists(
                sa.select(sa.literal(1)).select_from(candidate).where(*partner_of(g, candidate, "c_older"))
            ),
        )
        .order_by(g.c.first_id)
        .limit(limit)
    )
    # Correlated to the outcomes when lateral to them (else SQLAlchemy would read the outcomes
    # again inside, for every question).
    lefts = lefts.correlate(outcomes).lateral("lefts") if outcomes is not None else lefts.subquery("lefts")
    h = table.alias("h")
    # The directions opposing each one, as rows: joined through them, each right group is found
    # by its whole primary key (direction included) rather than by a range of the question's
    # groups, which PostgreSQL scanned once per left group.
    opposites = sa.union_all(
        *[
            sa.select(sa.literal(d.value).label("direction"), sa.literal(e.value).label("opposite"))
            for d in EffectDirection
            for e in EffectDirection
            if directions_oppose(d, e)
        ]
    ).subquery("opposites")
    sides = (("left", lefts), ("right", h))
    signature = [_signature_column(row.c[c], c, f"{side}_{c}") for side, row in sides for c in _SIGNATURE]
    return (
        sa.select(
            lefts.c.target_id,
            lefts.c.outcome_id,
            lefts.c.first_id.label("left_id"),
            h.c.first_id.label("right_id"),
            size(lefts, "left_rows").label("left_n"),
            size(h, "right_rows").label("right_n"),
            *signature,
        )
        .select_from(lefts)
        .join(opposites, opposites.c.direction == lefts.c.direction)
        .join(h, sa.and_(h.c.direction == opposites.c.opposite, *partner_of(lefts, h, "h_older")))
        .order_by(lefts.c.first_id, h.c.first_id)
        .limit(limit)
    )


def _plain(value: Any) -> Any:
    """An enum read from a typed column as the string an aggregate's column holds."""
    return value.value if isinstance(value, enum.Enum) else value


async def _members_by_signature(
    session: AsyncSession,
    vis: ClaimVisibility,
    groups: dict[tuple[int, int, int], tuple[Any, ...]],
    first: int,
    whole: set[tuple[int, int, int]],
) -> dict[tuple[int, int, int], list[int]]:
    """The first `first` claim ids of each group (its key: target, outcome, first claim id),
    every one for the groups in `whole`, found by the group's signature through
    ix_claim_context: one index range per group, no other claim read.
    (Visibility alone: no claim of these questions is subtracted, see _groups_are_maintained.)"""
    connection = await session.connection()
    parts = []
    for (target_id, outcome_id, first_id), signature in groups.items():
        limited = (target_id, outcome_id, first_id) not in whole
        context = dict(zip(_SIGNATURE, signature, strict=True))
        unset = tuple(context[name] is None for name in _MEMBER_COLUMNS)
        sql = _members_sql(connection.dialect, vis, unset, first if limited else None)
        values = {"target_id": target_id, "outcome_id": outcome_id, "group_id": first_id}
        values |= {f"sig_{name}": value for name, value in context.items()}
        parts.append((sql, values))
    text, parameters = union_all_of(parts, _numbered(connection))
    ids: dict[tuple[int, int, int], list[int]] = {}
    keys = {(t, first_id): (t, o, first_id) for t, o, first_id in groups}
    for claim_id, group_id, target_id in (await connection.exec_driver_sql(text, parameters)).all():
        ids.setdefault(keys[(target_id, group_id)], []).append(claim_id)
    for found in ids.values():
        found.sort()
    return ids


_MEMBERS_SQL: NamedCache[tuple[Any, ...], _CompiledSql] = NamedCache("group members SQL", maxsize=256)
# The claim columns a group's signature (_SIGNATURE) names, by its names.
_MEMBER_COLUMNS = {
    "direction": ClaimTarget.target_direction,
    "organism_id": Claim.organism_id,
    "condition_id": Claim.condition_id,
    "cohort_id": Claim.cohort_id,
    "sample_type": Claim.sample_type,
    "evidence_type": Claim.evidence_type,
    "intervention_id": Claim.subject_intervention_id,
}


def _members_sql(
    dialect: Any, vis: ClaimVisibility, unset: tuple[bool, ...], limit: int | None
) -> _CompiledSql:
    """One group's members statement (see _members_by_signature), compiled once per shape: which
    of its signature's values are unset (IS NULL rather than =) and its limit, if any. Building
    it per group, two dozen a page, cost more than running them."""
    key = (dialect.name, vis, unset, limit)
    made = _MEMBERS_SQL.get(key)
    if made is None:

        def matches(name: str, column: Any, none: bool) -> sa.ColumnElement[bool]:
            # (A value of None, so that compiling does not ask for one; each run gives its own.)
            value = sa.bindparam(f"sig_{name}", None, column.type, required=False)
            return column.is_(None) if none else column == value

        same = [
            matches(name, column, none)
            for (name, column), none in zip(_MEMBER_COLUMNS.items(), unset, strict=True)
        ]
        part: sa.Select = (
            sa.select(
                ClaimTarget.claim_id, sa.bindparam("group_id", 0).label("group_id"), ClaimTarget.target_id
            )
            .join(Claim, Claim.id == ClaimTarget.claim_id)
            .where(
                ClaimTarget.target_id == sa.bindparam("target_id", 0),
                Claim.outcome_id == sa.bindparam("outcome_id", 0),
                # No `claim.id >= first_id`: SQLite would then walk ix_claim_outcome_id by rowid.
                *same,
                claim_is_live(),
                visible(vis),
            )
        )
        if limit is not None:
            # The first claims of the group: ix_claim_context holds a signature's claims in id
            # order, so the walk stops after them (a context without cohort spans many claims).
            part = sa.select(part.order_by(Claim.id).limit(limit).subquery())
        made = _MEMBERS_SQL.put(key, _CompiledSql.of(part, dialect))
    return made


async def pairs_page(session: AsyncSession, q: Question, vis: ClaimVisibility, page: PageRequest) -> Page:
    """Opposing pairs of one question, most similar context first."""
    return (await pairs_pages(session, [q], vis, page))[(q.target_id, q.outcome_id)]


def pair_ordering(name: str, pairs: Any) -> Ordering:
    """Most similar context first: direct (rank 0) before contextual, fewer differences, ids."""
    keys = [SortKey(pairs.c.rank, "int"), SortKey(pairs.c.ndiff, "int")]
    return Ordering(name, [*keys, SortKey(pairs.c.left_id, "int"), SortKey(pairs.c.right_id, "int")])


async def claim_pairs_page(
    session: AsyncSession, claim_id: int, vis: ClaimVisibility, page: PageRequest, session_factory: Any
) -> Page:
    """The visible claims that oppose one claim (on any target it bears on), most similar first.
    The claim is always on the left."""
    p = participating(vis, Scope(alongside_claim_id=claim_id))
    a, b, statement = _opposing_pairs(p)
    per_target = statement.where(a.c.claim_id == claim_id, b.c.claim_id != claim_id)
    inner = per_target.subquery("per_target")
    # The same two claims can oppose on several targets; list the other claim once, at its best.
    pairs = (
        sa.select(
            inner.c.left_id,
            inner.c.right_id,
            sa.func.min(inner.c.rank).label("rank"),
            sa.func.min(inner.c.ndiff).label("ndiff"),
        )
        .group_by(inner.c.left_id, inner.c.right_id)
        .subquery("pairs")
    )
    ordering = pair_ordering(f"claim-pairs:{claim_id}", pairs)

    async def count() -> int:
        async with session_factory() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(pairs)) or 0)

    result = await fetch_page(
        session, sa.select(pairs), ordering, page, lambda r: [r.rank, r.ndiff, r.left_id, r.right_id], count
    )
    result.rows = [PairRow(r.left_id, r.right_id, r.rank == 0, r.ndiff) for r in result.rows]
    return result
