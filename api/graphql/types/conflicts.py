"""Conflicts: opposing claims about one question (a target's effect on an outcome)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.graphql.ids import int_key, to_global_id
from api.graphql.inputs import reference
from api.graphql.types.common import Connection, GraphQLInfo, Node, page_request, paged, to_connection
from api.graphql.types.enums import ConflictKind, ContextAspect, EffectDirection, Modality
from api.graphql.types.vocabulary import Outcome, Target
from api.store.queries.claims import ClaimScope
from api.store.queries.conflicts import (
    ConflictFilterSpec,
    PairRow,
    Question,
    claim_pairs_page,
    pairs_page,
    question,
    questions_page,
)
from schema.conflicts import ClaimContext, differing_aspects
from schema.conflicts import ContextAspect as Aspect
from schema.tables import Claim as ClaimRow

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]


def conflict_global_id(target_id: int, outcome_id: int) -> str:
    return to_global_id("Conflict", f"{target_id}.{outcome_id}")


def parse_conflict_key(key: str) -> tuple[int, int] | None:
    target, _, outcome = key.partition(".")
    target_id, outcome_id = int_key(target), int_key(outcome)
    if target_id is None or outcome_id is None:
        return None
    return target_id, outcome_id


@strawberry.type(description="How many claims of a conflict say one target-level direction.")
class DirectionCount:
    direction: EffectDirection
    count: int


@strawberry.type(description="One aspect of context in which two opposing claims differ.")
class ContextDifference:
    aspect: ContextAspect
    left: str | None
    right: str | None


def _context(row: ClaimRow) -> ClaimContext:
    return ClaimContext(
        organism_id=row.organism_id,
        condition_id=row.condition_id,
        cohort_id=row.cohort_id,
        sample_type=row.sample_type,
        evidence_type=row.evidence_type.value,
        intervention_id=row.subject_intervention_id,
        modality=row.modality.value,
    )


async def _describe(info: GraphQLInfo, aspect: Aspect, row: ClaimRow) -> str | None:
    loaders = info.context.loaders

    async def name(loader: Any, key: int | None, attribute: str) -> str | None:
        if key is None:
            return None
        found = await loader.load(key)
        return getattr(found, attribute) if found is not None else None

    if aspect is Aspect.ORGANISM:
        return await name(loaders.organism, row.organism_id, "scientific_name")
    if aspect is Aspect.CONDITION:
        return await name(loaders.condition, row.condition_id, "name")
    if aspect is Aspect.COHORT:
        return await name(loaders.cohort, row.cohort_id, "label")
    if aspect is Aspect.INTERVENTION:
        return await name(loaders.intervention, row.subject_intervention_id, "name")
    if aspect is Aspect.SAMPLE_TYPE:
        return row.sample_type
    if aspect is Aspect.MODALITY:
        return row.modality.value
    return row.evidence_type.value


@strawberry.type(
    description="Two claims whose target-level directions oppose, and how their contexts differ."
)
class ConflictPair:
    # Plain fields read from what _resolved_pairs loaded for the whole page at once: a page of
    # conflicts with their pairs has hundreds of these, and an async resolver per field cost more
    # than the pairs' SQL (bench Q2). Loaded only when the query asks for them (None otherwise,
    # and then these fields are not resolved).
    kind: ConflictKind
    _left: strawberry.Private[ClaimRow | None]
    _right: strawberry.Private[ClaimRow | None]
    _differences: strawberry.Private[list[ContextDifference] | None]

    @strawberry.field
    def left(self) -> ClaimRef:
        from api.graphql.types.claims import Claim

        assert self._left is not None, "loaded when selected (_resolved_pairs)"
        return Claim.from_row(self._left)

    @strawberry.field
    def right(self) -> ClaimRef:
        from api.graphql.types.claims import Claim

        assert self._right is not None, "loaded when selected (_resolved_pairs)"
        return Claim.from_row(self._right)

    @strawberry.field(description="Every aspect of context that differs: organism, condition, cohort, ...")
    def differences(self) -> list[ContextDifference]:
        assert self._differences is not None, "loaded when selected (_resolved_pairs)"
        return self._differences


_CLAIM_FIELDS = frozenset({"left", "right", "differences"})


def _asks_for_claims(selections: Any) -> bool:
    """Whether a pair's claims or differences are selected anywhere below (fragments included)."""
    return any(
        getattr(selection, "name", None) in _CLAIM_FIELDS or _asks_for_claims(selection.selections)
        for selection in selections
    )


async def _resolved_pairs(info: GraphQLInfo, rows: list[PairRow]) -> list[ConflictPair]:
    """A page of pairs with their claims and differences: the claims in one DataLoader batch, the
    names of differing aspects gathered, so each loader batches them too."""
    if not _asks_for_claims(info.selected_fields):
        return [_pair(r) for r in rows]
    loaders = info.context.loaders
    ids = sorted({i for r in rows for i in (r.left_id, r.right_id)})
    claims = dict(zip(ids, await loaders.claim.load_many(ids), strict=True))
    aspects = [differing_aspects(_context(claims[r.left_id]), _context(claims[r.right_id])) for r in rows]
    wanted = [(claims[getattr(r, side)], aspect) for r, found in zip(rows, aspects, strict=True)
              for aspect in found for side in ("left_id", "right_id")]  # fmt: skip
    names = iter(await asyncio.gather(*(_describe(info, aspect, row) for row, aspect in wanted)))
    out = []
    for r, found in zip(rows, aspects, strict=True):
        differences = [ContextDifference(aspect=a, left=next(names), right=next(names)) for a in found]
        out.append(_pair(r, claims[r.left_id], claims[r.right_id], differences))
    return out


def _pair(
    row: PairRow,
    left: ClaimRow | None = None,
    right: ClaimRow | None = None,
    differences: list[ContextDifference] | None = None,
) -> ConflictPair:
    kind = ConflictKind.DIRECT if row.direct else ConflictKind.CONTEXTUAL
    return ConflictPair(kind=kind, _left=left, _right=right, _differences=differences)


async def _pairs_connection(info: GraphQLInfo, page: Any) -> Connection[ConflictPair]:
    page.rows = await _resolved_pairs(info, page.rows)
    return to_connection(page, lambda pair: pair)


@strawberry.type(description="A disagreement about one question: one target's effect on one outcome.")
class Conflict(Node):
    kind: ConflictKind = strawberry.field(description="DIRECT when any opposing pair is direct.")
    _question: strawberry.Private[Question]

    @classmethod
    def from_question(cls, q: Question) -> Conflict:
        return cls(id=conflict_global_id(q.target_id, q.outcome_id), kind=q.kind, _question=q)

    @strawberry.field
    async def target(self, info: GraphQLInfo) -> Target:
        return Target.from_row(await info.context.loaders.target.load(self._question.target_id))

    @strawberry.field
    async def outcome(self, info: GraphQLInfo) -> Outcome:
        return Outcome.from_row(await info.context.loaders.outcome.load(self._question.outcome_id))

    @strawberry.field(description="How many claims say each target-level direction.")
    def direction_counts(self) -> list[DirectionCount]:
        return [
            DirectionCount(direction=EffectDirection(d.value), count=n)
            for d, n in sorted(
                self._question.counts.items(), key=lambda item: list(EffectDirection).index(item[0])
            )
        ]

    @strawberry.field(
        description="The claims taking part, optionally those saying one target-level direction."
    )
    async def claims(
        self,
        info: GraphQLInfo,
        direction: EffectDirection | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ClaimRef]:
        from api.graphql.types.claims import resolve_claims

        scope = ClaimScope(
            target_id=self._question.target_id,
            outcome_id=self._question.outcome_id,
            question_only=True,
            target_direction=direction.value if direction else None,
            condition_id=self._question.scope.condition_id,
            organism_id=self._question.scope.organism_id,
            modalities=self._question.scope.modalities,
            without_retracted=not self._question.scope.include_retracted,
        )
        return await resolve_claims(info, None, None, first, after, None, None, scope)

    @strawberry.field(
        description="Opposing pairs, most similar context first (direct, then fewer differences)."
    )
    async def pairs(
        self, info: GraphQLInfo, first: int | None = None, after: str | None = None
    ) -> Connection[ConflictPair]:
        ctx = info.context
        q = self._question
        request = page_request(first, after, None, None)
        if request.after is None:
            key = (q.target_id, q.outcome_id, q.scope, request.size, ctx.visibility)
            page = await ctx.loaders.first_pairs.load(key)
        else:
            async with ctx.db.read() as session:
                page = await paged(pairs_page(session, q, ctx.visibility, request))
        total = q.pair_count

        async def count() -> int:
            return total

        page.count = count
        return await _pairs_connection(info, page)


async def resolve_conflicts(
    info: GraphQLInfo, spec: ConflictFilterSpec, first: int | None, after: str | None
) -> Connection[Conflict]:
    ctx = info.context
    request = page_request(first, after, None, None)
    async with ctx.db.read() as session:
        page = await paged(questions_page(session, spec, ctx.visibility, request, ctx.db.read))
    return to_connection(page, Conflict.from_question)


async def resolve_claim_conflicts(
    info: GraphQLInfo, claim_id: int, first: int | None, after: str | None
) -> Connection[ConflictPair]:
    ctx = info.context
    request = page_request(first, after, None, None)
    async with ctx.db.read() as session:
        page = await paged(claim_pairs_page(session, claim_id, ctx.visibility, request, ctx.db.read))
    return await _pairs_connection(info, page)


async def load_conflict(info: GraphQLInfo, key: str) -> Conflict | None:
    parsed = parse_conflict_key(key)
    if parsed is None:
        return None
    async with info.context.db.read() as session:
        found = await question(session, parsed[0], parsed[1], info.context.visibility)
    return Conflict.from_question(found) if found else None


@strawberry.input(description="Narrow conflicts. Names accept labels, aliases and CURIEs.")
class ConflictFilter:
    target: str | None = None
    condition: str | None = strawberry.field(
        default=None, description="Only claims in this condition or its descendants take part."
    )
    organism: str | None = None
    outcome: str | None = None
    kind: list[ConflictKind] | None = None
    modality: list[Modality] | None = strawberry.field(
        default=None,
        description=(
            "Only claims said with these modalities take part: [ASSERTED] leaves out hedges and hypotheses."
        ),
    )

    include_retracted: bool | None = strawberry.field(
        default=None,
        description="Let claims whose source (or a source it retells) is RETRACTED take part.",
    )

    def to_spec(self) -> ConflictFilterSpec:
        return ConflictFilterSpec(
            reference(self.target, "Target"),
            reference(self.condition, "Condition"),
            reference(self.organism, "Organism"),
            reference(self.outcome, "Outcome"),
            self.kind,
            self.modality,
            bool(self.include_retracted),
        )
