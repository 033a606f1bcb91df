"""The evidence summary of a target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.context import Context
from api.graphql.inputs import ClaimFilter, vocabulary_reference
from api.graphql.types.common import Connection, GraphQLInfo, read_error
from api.graphql.types.enums import EffectDirection
from api.graphql.types.vocabulary import Condition, Outcome, Target
from api.store.errors import StoreError
from api.store.queries.claims import ClaimFilterSpec, ClaimScope
from api.store.queries.summary import PackedCell, SummaryCell, evidence_summary
from api.store.resolve import lookup_id
from schema.enums import VocabularyKind

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]


@dataclass(frozen=True)
class SummaryRows:
    target_id: int
    cells: list[PackedCell]  # SummaryCell's fields, by position
    total: int


async def read_summary(context: Context, target: str, filter: ClaimFilter | None) -> SummaryRows | None:
    """The summary's cells and total for a target named by symbol, alias or CURIE (None when no
    target has that name), in one read: Query.evidenceSummary and its compiled form
    (api/graphql/compiled/summary.py) both answer from this."""
    kind = VocabularyKind.TARGET
    async with context.db.read() as session:
        target_id = await lookup_id(session, kind, vocabulary_reference(kind, target))
        if target_id is None:
            return None
        spec = filter.to_spec() if filter else ClaimFilterSpec()
        try:
            cells, total = await evidence_summary(session, target_id, spec, context.visibility)
        except StoreError as exc:
            raise read_error(exc) from None
    return SummaryRows(target_id, cells, total)


async def _cell_claims(
    root: EvidenceCell, info: GraphQLInfo, first: int | None = None, after: str | None = None
) -> Connection[ClaimRef]:
    from api.graphql.types.claims import resolve_claims

    cell = root._cell
    scope = ClaimScope(
        target_id=root._target_id,
        target_direction=cell.direction,
        outcome_id=cell.outcome_id,
        condition_id=cell.condition_id,
        exact_condition=True,
        without_retracted=not (root._filter is not None and root._filter.include_retracted),
    )
    return await resolve_claims(info, root._filter, None, first, after, None, None, scope)


@strawberry.type(description="How many claims say one direction about one outcome in one condition.")
class EvidenceCell:
    # Plain fields, not resolvers: a hot target has thousands of cells but only a few dozen
    # distinct conditions and outcomes, so EvidenceSummary.of builds each object once and every
    # cell points at it (an async resolver per cell cost ~1 ms per cell, bench Q3).
    direction: EffectDirection = strawberry.field(description="Read at target level.")
    count: int
    condition: Condition | None
    outcome: Outcome
    claims: Connection[ClaimRef] = strawberry.field(
        resolver=_cell_claims,
        description=(
            "The claims counted in this cell (totalCount equals count), newest first: each bears "
            "on the target with this target-level direction, about this outcome, in exactly this "
            "condition, and matches the summary's filter."
        ),
    )
    _target_id: strawberry.Private[int]
    _cell: strawberry.Private[SummaryCell]
    _filter: strawberry.Private[ClaimFilter | None]


@strawberry.type(
    description=(
        "What the visible claims bearing on a target say, by condition, outcome and target-level "
        "direction (an inhibitor's effect turned over). Claims whose intervention only binds or "
        "modulates the target count in `total` but in no cell."
    )
)
class EvidenceSummary:
    target: Target | None
    cells: list[EvidenceCell]
    total: int

    @classmethod
    async def of(
        cls,
        info: GraphQLInfo,
        target: Target,
        packed: Sequence[PackedCell],
        total: int,
        filter: ClaimFilter | None = None,
    ) -> EvidenceSummary:
        loaders = info.context.loaders
        cells = [SummaryCell(*cell) for cell in packed]
        condition_ids = sorted({c.condition_id for c in cells if c.condition_id is not None})
        outcome_ids = sorted({c.outcome_id for c in cells})
        conditions = {
            row.id: Condition.from_row(row) for row in await loaders.condition.load_many(condition_ids)
        }
        outcomes = {row.id: Outcome.from_row(row) for row in await loaders.outcome.load_many(outcome_ids)}
        return cls(
            target=target,
            cells=[
                EvidenceCell(
                    condition=None if c.condition_id is None else conditions[c.condition_id],
                    outcome=outcomes[c.outcome_id],
                    direction=c.direction,
                    count=c.count,
                    _target_id=target._row.id,
                    _cell=c,
                    _filter=filter,
                )
                for c in cells
            ],
            total=total,
        )
