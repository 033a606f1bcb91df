"""Reading the maintained aggregates (schema.tables.ClaimCell, ClaimGroup) as a viewer sees them.

The aggregates count every claim by status, so a viewer's counts are the rows of the statuses
they see on every claim (ACCEPTED for readers, all for reviewers), plus two corrections read
from the claims themselves, both small:
- a curator's own DRAFT / SUBMITTED / REJECTED claims, which only they see (added);
- claims whose source a retraction reaches, which leave conflicts and summaries unless
  `includeRetracted` (subtracted; retractions are rare).
Key columns hold 0 / '' for "none" (see schema.tables): NULL again here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.queries.standing import from_retracted_source, retracted_sources
from schema.tables import LIVE_STATUSES, Claim
from schema.visibility import ClaimVisibility


def none_if(column: sa.ColumnElement, empty: object, label: str) -> sa.ColumnElement:
    """A key column read back: its stand-in for "none" (0 or '') as NULL."""
    return sa.func.nullif(column, empty).label(label)


def counted_statuses(vis: ClaimVisibility, *, live_only: bool) -> list[str]:
    """The statuses whose aggregate rows this viewer sees in full (only live ones for conflicts:
    rejected and retracted claims say nothing there)."""
    return sorted(s.value for s in vis.all_statuses if not live_only or s in LIVE_STATUSES)


def own_only(vis: ClaimVisibility, *, live_only: bool) -> sa.ColumnElement[bool] | None:
    """The claims this viewer sees only because they are theirs (None: there are none)."""
    statuses = {s for s in vis.own_statuses - vis.all_statuses if not live_only or s in LIVE_STATUSES}
    if vis.own_user_id is None or not statuses:
        return None
    return sa.and_(Claim.created_by_id == vis.own_user_id, Claim.status.in_(sorted(statuses)))


# Built once: every conflicts page and summary reads it first, and building the recursive
# statement cost more than running it.
_RETRACTED_IDS = sa.select(retracted_sources().c.id)


async def retracted_source_ids(session: AsyncSession) -> tuple[int, ...]:
    """Every source a retraction reaches (few): read first, so that the claims to subtract are
    found through claim.source_id, not by testing each of a hot target's claims."""
    return tuple(sorted(await session.scalars(_RETRACTED_IDS)))


def from_retracted(source_ids: Sequence[int] | None) -> sa.ColumnElement[bool] | None:
    """Whether a claim's source is reached by a retraction: over `source_ids` when read
    (retracted_source_ids; None when there are none), else by the recursive query."""
    if source_ids is None:
        return from_retracted_source(Claim.source_id)
    return Claim.source_id.in_(list(source_ids)) if source_ids else None


def corrections(
    vis: ClaimVisibility, include_retracted: bool, source_ids: Sequence[int] | None, *, live_only: bool
) -> list[tuple[sa.ColumnElement[bool], int]]:
    """The claims added to (weight 1) or taken from (-1) the aggregate rows this viewer sees:
    their own unpublished claims (unless retracted, when retracted sources leave), and the
    counted claims of retracted sources."""
    out: list[tuple[sa.ColumnElement[bool], int]] = []
    retracted = None if include_retracted else from_retracted(source_ids)
    own = own_only(vis, live_only=live_only)
    if own is not None:
        out.append((own if retracted is None else sa.and_(own, sa.not_(retracted)), 1))
    if retracted is not None:
        out.append((sa.and_(Claim.status.in_(counted_statuses(vis, live_only=live_only)), retracted), -1))
    return out
