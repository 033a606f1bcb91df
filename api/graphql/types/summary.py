"""The evidence summary of a target."""

from __future__ import annotations

import strawberry

from api.graphql.types.common import GraphQLInfo
from api.graphql.types.enums import EffectDirection
from api.graphql.types.vocabulary import Condition, Outcome, Target
from api.store.queries.summary import SummaryCell


@strawberry.type(description="How many claims say one direction about one outcome in one condition.")
class EvidenceCell:
    direction: EffectDirection = strawberry.field(description="Read at target level.")
    count: int
    _cell: strawberry.Private[SummaryCell]

    @strawberry.field
    async def condition(self, info: GraphQLInfo) -> Condition | None:
        if self._cell.condition_id is None:
            return None
        return Condition.from_row(await info.context.loaders.condition.load(self._cell.condition_id))

    @strawberry.field
    async def outcome(self, info: GraphQLInfo) -> Outcome:
        return Outcome.from_row(await info.context.loaders.outcome.load(self._cell.outcome_id))


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
