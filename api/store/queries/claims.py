"""Reading claims: the ClaimFilter compiled to SQL, visibility, orderings and keyset pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import Alias

from api.caches import NamedCache
from api.store.errors import Ref, StoreError, UserErrorCode
from api.store.queries.pagination import Ordering, Page, PageRequest, SortKey, page_of_rows, page_statement
from api.store.queries.standing import from_retracted_source
from api.store.resolve import Reference, lookup_id, lookup_source_ids, suggestions
from api.store.search import text_match
from api.store.vocabularies import VOCABULARIES
from schema.enums import ClaimStatus, EffectDirection, EvidenceType, Modality, SourceKind, VocabularyKind
from schema.tables import LIVE_STATUSES, Claim, ClaimTarget, Cohort, ConditionLineage, Flag, Source
from schema.visibility import ClaimVisibility


@dataclass(frozen=True)
class ClaimFilterSpec:
    target: str | None = None
    # Claims bearing on any of these targets (the union of single-target filters).
    targets: Sequence[str] | None = None
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
    flagged: bool | None = None
    # The claims' direction at the level of `target` (an inhibitor's turned over); needs target.
    target_direction: Sequence[EffectDirection] | None = None
    # Whether claims whose source a retraction reaches count in evidence summaries and conflicts
    # (hasConflict); lists show them either way.
    include_retracted: bool | None = None


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
    # A filtered conflict's claims stay within its filter (condition with descendants, organism,
    # modalities).
    condition_id: int | None = None
    organism_id: int | None = None
    modalities: tuple[str, ...] | None = None
    # An evidence-summary cell's claims: exactly this condition (None: claims without one), not
    # its descendants.
    exact_condition: bool = False
    # Leave out claims whose source a retraction reaches (conflicts and summaries do).
    without_retracted: bool = False

    @property
    def bearing_target_id(self) -> int | None:
        """The target whose bearing claims this scope lists with the plain bearing condition
        (`_bears_on_target`), which the SQLite scan plan can replace; None otherwise."""
        if self.target_id is not None and not (self.question_only or self.target_direction):
            return self.target_id
        return None

    def conditions(self, bearing: Any = None) -> list[sa.ColumnElement[bool]]:
        """WHERE conditions; `bearing` builds the bearing-on-target condition (default: the
        indexed IN form)."""
        bears = bearing or _bears_on_target
        out: list[sa.ColumnElement[bool]] = []
        if self.target_id is not None and (self.question_only or self.target_direction):
            bearing = sa.select(ClaimTarget.claim_id).where(
                ClaimTarget.target_id == self.target_id, ClaimTarget.target_direction.is_not(None)
            )
            if self.target_direction is not None:
                bearing = bearing.where(ClaimTarget.target_direction == self.target_direction)
            out.append(Claim.id.in_(bearing))
            if self.question_only:  # rejected and retracted claims take no part in conflicts
                out.append(Claim.status.in_(LIVE_STATUSES))
        elif self.target_id is not None:
            out.append(bears(self.target_id))
        if self.outcome_id is not None:
            out.append(Claim.outcome_id == self.outcome_id)
        if self.exact_condition:
            out.append(
                Claim.condition_id.is_(None)
                if self.condition_id is None
                else Claim.condition_id == self.condition_id
            )
        elif self.condition_id is not None:
            out.append(_within_condition(self.condition_id))
        if self.organism_id is not None:
            out.append(Claim.organism_id == self.organism_id)
        if self.modalities is not None:
            out.append(Claim.modality.in_(self.modalities))
        if self.without_retracted:
            out.append(sa.not_(from_retracted_source(Claim.source_id)))
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


def has_conflict(
    vis: ClaimVisibility, modalities: Sequence[Modality] | None = None, include_retracted: bool = False
) -> sa.ColumnElement[bool]:
    """The claim opposes another visible claim on a shared target and the same outcome (said
    with one of `modalities`, when given: the filter's modalities restrict both sides). Claims
    whose source a retraction reaches oppose nothing unless `include_retracted`."""
    mine, theirs = aliased(ClaimTarget), aliased(ClaimTarget)
    other = aliased(Claim)
    others = [other.modality.in_(list(modalities))] if modalities is not None else []
    if not include_retracted:
        others += [
            sa.not_(from_retracted_source(Claim.source_id)),
            sa.not_(from_retracted_source(other.source_id)),
        ]
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
            *others,
        )
    )


async def filter_conditions(
    session: AsyncSession, spec: ClaimFilterSpec, vis: ClaimVisibility
) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions for a filter. A name that names nothing is a NOT_FOUND StoreError
    naming the filter field and the closest names (an empty page would hide a typo)."""
    resolved = await _resolve_filter(session, spec)
    return _filter_conditions(session, spec, vis, resolved, _bears_on_target)


@dataclass(frozen=True)
class _ResolvedNames:
    """The filter's names and source reference, looked up (source_ids None: no source given)."""

    ids: dict[VocabularyKind, int]
    source_ids: list[int] | None
    target_ids: list[int] | None = None


# The largest `targets` list a filter may give.
MAX_FILTER_TARGETS = 100


async def resolve_filter_name(
    session: AsyncSession, kind: VocabularyKind, name: Reference, field: Sequence[str]
) -> int:
    """The id a filter's name means; a NOT_FOUND StoreError with the closest names otherwise."""
    found = await lookup_id(session, kind, name)
    if found is not None:
        return found
    noun = VOCABULARIES[kind].noun
    if isinstance(name, int):  # an id: named by the edge (the API shows the global ID given)
        raise StoreError.naming(
            UserErrorCode.NOT_FOUND, field, f"no {noun} has the ID ", Ref(VOCABULARIES[kind].type_name, name)
        )
    close = await suggestions(session, kind, name)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise StoreError.one(UserErrorCode.NOT_FOUND, f"no {noun} is called {name!r}{hint}", field)


async def _resolve_filter(session: AsyncSession, spec: ClaimFilterSpec) -> _ResolvedNames:
    names = {
        VocabularyKind.TARGET: ("target", spec.target),
        VocabularyKind.INTERVENTION: ("intervention", spec.intervention),
        VocabularyKind.CONDITION: ("condition", spec.condition),
        VocabularyKind.ORGANISM: ("organism", spec.organism),
        VocabularyKind.OUTCOME: ("outcome", spec.outcome),
    }
    ids = {
        kind: await resolve_filter_name(session, kind, name, ("filter", field))
        for kind, (field, name) in names.items()
        if name is not None
    }
    if spec.target_direction is not None and spec.target is None:
        raise StoreError.one(
            UserErrorCode.INVALID,
            "targetDirection is a direction at the level of one target: give `target` too",
            ("filter", "targetDirection"),
        )
    target_ids = None
    if spec.targets is not None:
        if len(spec.targets) > MAX_FILTER_TARGETS:
            raise StoreError.one(
                UserErrorCode.INVALID,
                f"targets lists {len(spec.targets)} names; at most {MAX_FILTER_TARGETS} are allowed",
                ("filter", "targets"),
            )
        target_ids = [
            await resolve_filter_name(session, VocabularyKind.TARGET, name, ("filter", "targets", str(i)))
            for i, name in enumerate(spec.targets)
        ]
    source_ids = await lookup_source_ids(session, spec.source) if spec.source is not None else None
    return _ResolvedNames(ids, source_ids, target_ids)


def _filter_conditions(
    session: AsyncSession,
    spec: ClaimFilterSpec,
    vis: ClaimVisibility,
    resolved: _ResolvedNames,
    bearing: Any,
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [visible(vis)]

    by_name = [
        (VocabularyKind.TARGET, bearing),
        (VocabularyKind.INTERVENTION, lambda i: Claim.subject_intervention_id == i),
        (VocabularyKind.CONDITION, _within_condition),
        (VocabularyKind.ORGANISM, lambda i: Claim.organism_id == i),
        (VocabularyKind.OUTCOME, lambda i: Claim.outcome_id == i),
    ]
    for kind, clause in by_name:
        if kind in resolved.ids:
            where.append(clause(resolved.ids[kind]))
    if spec.target_direction is not None:
        target_id = resolved.ids.get(VocabularyKind.TARGET)
        assert target_id is not None  # _resolve_filter refuses targetDirection without target
        at_target = sa.select(ClaimTarget.claim_id).where(
            ClaimTarget.target_id == target_id,
            ClaimTarget.target_direction.in_([d.value for d in spec.target_direction]),
        )
        where.append(Claim.id.in_(at_target))
    if spec.flagged is not None:
        open_flags = sa.select(Flag.claim_id).where(Flag.resolved_at.is_(None))
        where.append(Claim.id.in_(open_flags) if spec.flagged else Claim.id.not_in(open_flags))
    if resolved.target_ids is not None:
        bearing_any = sa.select(ClaimTarget.claim_id).where(ClaimTarget.target_id.in_(resolved.target_ids))
        where.append(Claim.id.in_(bearing_any) if resolved.target_ids else sa.false())

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
    if resolved.source_ids is not None:
        ids = resolved.source_ids
        where.append(Claim.source_id.in_(ids) if ids else sa.false())
    if spec.text is not None and spec.text.strip():
        where.append(text_match(session.bind.dialect.name, spec.text))
    if spec.min_cohort_size is not None:
        where.append(Claim.cohort_id.in_(sa.select(Cohort.id).where(Cohort.size >= spec.min_cohort_size)))
    if spec.published_from is not None or spec.published_to is not None:
        where.append(Claim.source_id.in_(sa.select(Source.id).where(*_published_window(spec))))
    if spec.has_conflict is not None:
        clause = has_conflict(vis, spec.modality, bool(spec.include_retracted))
        where.append(clause if spec.has_conflict else sa.not_(clause))
    return where


def _bears_on_target(target_id: int) -> sa.ColumnElement[bool]:
    return Claim.id.in_(sa.select(ClaimTarget.claim_id).where(ClaimTarget.target_id == target_id))


def _bears_on_target_per_row(target_id: int) -> sa.ColumnElement[bool]:
    """The same condition as a test of each claim (the scan plan: see `claim_list`)."""
    return sa.exists().where(ClaimTarget.claim_id == Claim.id, ClaimTarget.target_id == target_id)


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


class _IndexedBy(Alias):
    """An alias of the claim table read through one index: `claim AS walk INDEXED BY
    ix_claim_created_at_id` (SQLite's way of fixing a plan; SQLAlchemy renders no table hints for
    SQLite)."""

    inherit_cache = True
    index = "ix_claim_created_at_id"  # the only index the scan plan walks (see claim_list)


@compiles(_IndexedBy)
def _compile_indexed_by(element: _IndexedBy, compiler: Any, **kw: Any) -> str:
    text = compiler.visit_alias(element, **kw)
    if kw.get("asfrom"):
        return f"{text} INDEXED BY {compiler.preparer.quote(element.index)}"
    return text


@dataclass
class ClaimList:
    """One claim list's SQL, shared by the ordinary resolvers (`claims_page`: ORM rows) and the
    compiled read path (api/store/queries/documents.py: JSON built in the database): the same
    filter, visibility, scope, ordering and plan, whichever way the page is then fetched.

    A page is fetched in two levels: `page` selects the sort keys of the page's claims (the keyset
    page: filter, order, limit), and the caller joins the claims (or builds their documents) by
    id for that page alone, ordered again by `page_order`."""

    where: list[sa.ColumnElement[bool]]  # the claims' conditions (over `claim`)
    ordering: Ordering  # over `claim`, or (the scan plan) over `walk`
    order_field: ClaimOrderField
    walk: Any = None  # the scan plan: the _IndexedBy alias the page walks, else None
    # The same claims in the form best for counting them all (the scan plan's per-claim bearing
    # test would read every claim; the plain form reads the target's claim_target rows); made
    # only when a total is asked for.
    count_where: Callable[[], list[sa.ColumnElement[bool]]] | None = None

    def page(self, request: PageRequest) -> sa.Subquery:
        """The keyset page of a validated request, as a subquery named "page" whose columns are
        the ordering's sort keys (the claim id last). Raises PageArgumentError for a bad cursor."""
        keys = [k.expression for k in self.ordering.keys]
        if self.walk is not None:
            # Walk the index in order; each claim met is tested (by rowid) against the filter.
            match = sa.select(sa.literal(1)).select_from(Claim).where(Claim.id == self.walk.c.id, *self.where)
            statement = sa.select(*keys).select_from(self.walk).where(sa.exists(match))
        else:
            statement = sa.select(*keys).select_from(Claim).where(*self.where)
            if self.order_field is ClaimOrderField.PUBLISHED:
                statement = statement.join(Source, Source.id == Claim.source_id)
            elif self.order_field is ClaimOrderField.COHORT_SIZE:
                statement = statement.outerjoin(Cohort, Cohort.id == Claim.cohort_id)
        return page_statement(statement, self.ordering, request).subquery("page")

    def page_order(self, page: sa.Subquery, request: PageRequest) -> list[Any]:
        """ORDER BY for a statement over `page` (a join does not keep the subquery's order)."""
        keys = [SortKey(column, key.kind) for column, key in zip(page.c, self.ordering.keys, strict=True)]
        return Ordering(self.ordering.name, keys, self.ordering.descending).order_by(reverse=request.backward)

    def count_statement(self) -> sa.Select:
        where = self.count_where() if self.count_where is not None else self.where
        return sa.select(sa.func.count()).select_from(Claim).where(*where)


async def claim_list(
    session: AsyncSession,
    spec: ClaimFilterSpec,
    vis: ClaimVisibility,
    page: PageRequest,
    order_field: ClaimOrderField = ClaimOrderField.CREATED_AT,
    descending: bool = True,
    scope: ClaimScope | None = None,
) -> ClaimList:
    """Resolve the filter's names and choose the plan for one page of a claim list.

    The plan matters on SQLite when the list is "claims bearing on a target, newest first": its
    planner drives such a query from the status index or the target's claim_target rows and sorts
    every match, which for a target with tens of thousands of claims costs 100 ms to 1 s a page
    (bench/RESULTS.md, finding 1); so it does for the newest of all claims. Walking
    ix_claim_created_at_id instead and testing each claim (bearing as EXISTS) fills a page after a
    few hundred rows when the target is common enough; for a rare one it would walk the whole
    table (`_prefers_scan` decides by the target's claim count), and so it would when another
    filter narrows the list to a few claims (_NARROW, _NAMED). PostgreSQL chooses well by itself,
    from its statistics, and always gets the plain form.
    """
    resolved = await _resolve_filter(session, spec)
    ordering = claim_ordering(order_field, descending)
    target_ids = {resolved.ids.get(VocabularyKind.TARGET), scope.bearing_target_id if scope else None}
    target_ids.discard(None)
    scan = (
        session.bind.dialect.name == "sqlite"
        and order_field is ClaimOrderField.CREATED_AT
        and not any(getattr(spec, name) is not None for name in _NARROW)
        and (
            # claims bearing on a common target
            (
                len(target_ids) == 1
                and (scope is None or scope == ClaimScope(target_id=scope.target_id))
                and await _prefers_scan(session, next(iter(target_ids)), page.validated().size)
            )
            # or every visible claim, at most narrowed by broad filters (directions, modalities,
            # evidence and source kinds): most claims qualify, so a page is found at once
            or (not target_ids and scope is None and not any(getattr(spec, n) is not None for n in _NAMED))
        )
    )

    def conditions(bearing: Any) -> list[sa.ColumnElement[bool]]:
        return [
            *_filter_conditions(session, spec, vis, resolved, bearing),
            *(scope.conditions(bearing) if scope else []),
        ]

    if not scan:
        return ClaimList(conditions(_bears_on_target), ordering, order_field)
    return ClaimList(
        conditions(_bears_on_target_per_row),
        Ordering(ordering.name, _WALK_KEYS, ordering.descending),
        order_field,
        _WALK,
        count_where=lambda: conditions(_bears_on_target),
    )


# Made once: an alias's column collection costs ~1 ms of Python to build.
_WALK = _IndexedBy._construct(Claim.__table__, name="walk")
_WALK_KEYS = [SortKey(_WALK.c.created_at, "datetime"), SortKey(_WALK.c.id, "int")]


# Filters that can leave a target with a handful of claims: with one of them, walking the claim
# index in order could read most of the table before it fills a page.
_NARROW = (
    "intervention", "targets", "source", "text", "min_cohort_size", "published_from", "published_to",
    "flagged",
)  # fmt: skip
# Without a target, these may select few claims too (a rare outcome or condition, drafts only).
_NAMED = ("outcome", "condition", "organism", "status", "has_conflict")


# Up to how many of a target's claims `_prefers_scan` counts: enough to decide for any database
# of up to (_COUNT_CAP ** 2 / page) claims, 4 million for pages of 100, and a bounded cost (one
# covering-index range of at most this many entries) beyond.
_COUNT_CAP = 20_000
_BEARING = (
    sa.select(sa.literal(1)).where(ClaimTarget.target_id == sa.bindparam("target_id")).limit(_COUNT_CAP)
)
_PROBE = sa.select(
    sa.select(sa.func.count()).select_from(_BEARING.subquery()).scalar_subquery(),
    sa.select(sa.func.max(Claim.id)).scalar_subquery(),
)


async def _prefers_scan(session: AsyncSession, target_id: int, page_size: int) -> bool:
    """Whether walking the claims in order (testing each) should fill a page of `page_size` of the
    target's claims sooner than reading all T of the target's claims and sorting them: the walk
    reads about page_size * N / T of the N claims, so it wins when T * T > page_size * N. One
    cheap statement: N from the largest claim id (the last entry of the rowid b-tree), T counted
    on the claim_target index up to _COUNT_CAP; kept for a while per database and target, since
    how common a target is changes slowly and the probe costs as much as the rest of planning."""
    key = (session.bind.url, target_id)
    known = _PROBED.get(key)
    if known is None:
        row = (await session.execute(_PROBE, {"target_id": target_id})).one()
        known = _PROBED.put(key, (int(row[0] or 0), int(row[1] or 0)))
    bearing_count, newest = known
    return bearing_count * bearing_count > (page_size + 1) * newest


# (database URL, target id) → (the target's claims counted up to _COUNT_CAP, the largest claim id)
_PROBED: NamedCache[tuple[Any, int], tuple[int, int]] = NamedCache(
    "how common each target is (SQLite claim-list plans)", maxsize=1024, ttl_seconds=30.0
)


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
    request = page.validated()
    claims = await claim_list(session, spec, vis, request, order_field, descending, scope)
    keys = claims.page(request)
    statement = (
        sa.select(Claim, *keys.c)
        .join_from(keys, Claim, Claim.id == list(keys.c)[-1])
        .order_by(*claims.page_order(keys, request))
    )
    rows = list((await session.execute(statement)).all()) if request.size else []

    async def count() -> int:
        stmt = claims.count_statement()
        if count_session_factory is None:
            return int(await session.scalar(stmt) or 0)
        async with count_session_factory() as count_session:
            return int(await count_session.scalar(stmt) or 0)

    result = page_of_rows(rows, claims.ordering, request, lambda row: row[1:], count)
    result.rows = [row[0] for row in result.rows]
    return result
