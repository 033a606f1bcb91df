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

import sqlalchemy as sa

from api.store.queries.standing import from_retracted_source
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


def counted_and_retracted(vis: ClaimVisibility, *, live_only: bool) -> sa.ColumnElement[bool]:
    """The claims counted in the aggregate rows the viewer sees whose source a retraction
    reaches: what is subtracted unless retracted sources are asked for."""
    return sa.and_(
        Claim.status.in_(counted_statuses(vis, live_only=live_only)), from_retracted_source(Claim.source_id)
    )
