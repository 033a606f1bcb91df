"""The evidence summary of a target."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from api.graphql.types.common import GraphQLInfo
from api.graphql.types.enums import EffectDirection
from api.graphql.types.vocabulary import Condition, Outcome, Target
from api.store.queries.summary import SummaryCell


@strawberry.type(description="How many claims say one direction about one outcome in one condition.")
class EvidenceCell:
    # Plain fields, not resolvers: a hot target has thousands of cells but only a few dozen
    # distinct conditions and outcomes, so EvidenceSummary.of builds each object once and every
    # cell points at it (an async resolver per cell cost ~1 ms per cell, bench Q3).
    direction: EffectDirection = strawberry.field(description="Read at target level.")
    count: int
    condition: Condition | None
    outcome: Outcome


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
        cls, info: GraphQLInfo, target: Target, cells: Sequence[SummaryCell], total: int
    ) -> EvidenceSummary:
        loaders = info.context.loaders
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
                )
                for c in cells
            ],
            total=total,
        )
