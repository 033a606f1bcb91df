"""`claimsdb db check`: every maintained aggregate (api/store/aggregate_triggers.py) recounted
from the claims and compared with what the triggers kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.aggregate_triggers import AGGREGATES, Aggregate, recount

# Example rows shown per aggregate and side: enough to see the pattern of a difference.
EXAMPLES = 5


@dataclass
class AggregateDifference:
    table: str
    columns: list[str]
    # Rows the table holds that a recount does not give (wrong counts, or keys that count nothing).
    stored_only: int = 0
    # Rows a recount gives that the table does not hold (missing keys, or the right counts).
    recounted_only: int = 0
    examples: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"{self.table}: {self.stored_only} stored rows differ from the claims, "
            f"{self.recounted_only} recounted rows are missing or differ"
        ]
        for side, row in self.examples:
            lines.append(f"  {side}: {row}")
        return "\n".join(lines)


def _columns(agg: Aggregate) -> list[str]:
    return [name for name, _ in agg.keys] + ["n"] + (["first_id"] if agg.first_id else [])


async def _difference(session: AsyncSession, agg: Aggregate) -> AggregateDifference | None:
    columns = _columns(agg)
    stored = f"SELECT {', '.join(columns)} FROM {agg.table}"
    recounted = f"SELECT {', '.join(columns)} FROM ({recount(agg)}) AS recounted"
    found = AggregateDifference(agg.table, columns)
    for side, left, right in (("stored", stored, recounted), ("recounted", recounted, stored)):
        extra = f"{left} EXCEPT {right}"
        n = int(await session.scalar(sa.text(f"SELECT count(*) FROM ({extra}) AS extra")) or 0)
        if side == "stored":
            found.stored_only = n
        else:
            found.recounted_only = n
        if n:
            rows = await session.execute(sa.text(f"{extra} LIMIT {EXAMPLES}"))
            found.examples += [(side, dict(zip(columns, row, strict=True))) for row in rows.all()]
    return found if found.stored_only or found.recounted_only else None


async def aggregate_differences(session: AsyncSession) -> list[AggregateDifference]:
    """Each aggregate whose rows differ from a recount from the claims (none: all is well)."""
    out = []
    for agg in AGGREGATES:
        found = await _difference(session, agg)
        if found is not None:
            out.append(found)
    return out
