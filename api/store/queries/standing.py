"""Source standing as claims inherit it: the worst along a source's derivedFrom chain.

A blog post retelling a retracted paper is as unreliable as the paper, so a claim's standing is
the worst standing of its source and every source that source (transitively) reports on. Chains
are short (a comment on a post on a paper), and retractions rare: both questions below are small
recursive queries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from schema.enums import SourceStanding, worst_standing
from schema.tables import Source


def retracted_sources() -> sa.CTE:
    """The ids of every source a retraction reaches: the retracted sources and the sources that
    (transitively) report on one."""
    base = sa.select(Source.id.label("id")).where(Source.standing == SourceStanding.RETRACTED)
    reached = base.cte("retracted_sources", recursive=True)
    child = aliased(Source)
    return reached.union(sa.select(child.id).join(reached, child.derived_from_id == reached.c.id))


# One CTE object, so a statement may test several claims against it (a CTE is named once).
_RETRACTED = retracted_sources()


def from_retracted_source(claim_source_id: sa.ColumnElement[int]) -> sa.ColumnElement[bool]:
    """Whether a claim's source is reached by a retraction (its claims leave conflicts and
    evidence summaries unless asked for)."""
    return claim_source_id.in_(sa.select(_RETRACTED.c.id))


async def chain_standings(session: AsyncSession, source_ids: Sequence[int]) -> dict[int, SourceStanding]:
    """For each source, the worst standing along its derivedFrom chain (itself included)."""
    start = sa.select(
        Source.id.label("origin"), Source.id.label("id"), Source.derived_from_id.label("parent"),
        Source.standing.label("standing"), sa.literal(0).label("depth"),
    ).where(Source.id.in_(set(source_ids)))  # fmt: skip
    chain = start.cte("chain", recursive=True)
    up = aliased(Source)
    chain = chain.union_all(
        sa.select(chain.c.origin, up.id, up.derived_from_id, up.standing, chain.c.depth + 1)
        .join(up, up.id == chain.c.parent)
        .where(chain.c.depth < 50)  # a chain is never this long; a cycle cannot loop forever
    )
    found: dict[int, list[SourceStanding]] = {}
    for origin, standing in (await session.execute(sa.select(chain.c.origin, chain.c.standing))).all():
        found.setdefault(origin, []).append(SourceStanding(standing))
    return {source_id: worst_standing(found.get(source_id, [])) for source_id in source_ids}


async def retelling_sources(session: AsyncSession, source_id: int) -> list[int]:
    """The source and every source that (transitively) reports on it: whose claims inherit its
    standing."""
    base = sa.select(Source.id.label("id")).where(Source.id == source_id)
    reached = base.cte("retelling", recursive=True)
    child = aliased(Source)
    # UNION, not UNION ALL: a cycle (which writes never make) would end rather than loop.
    reached = reached.union(sa.select(child.id).join(reached, child.derived_from_id == reached.c.id))
    return list((await session.scalars(sa.select(reached.c.id))).all())
