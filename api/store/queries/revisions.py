"""Reading revisions: a claim's revisions, and the reviewers' queue of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.queries.pagination import Ordering, Page, PageRequest, SortKey, fetch_page
from schema.enums import ClaimStatus, RevisionStatus
from schema.tables import Claim, ClaimTarget, Revision

CLAIM, REVISION = "CLAIM", "REVISION"
QUEUE_KINDS = (CLAIM, REVISION)


async def revisions_page(
    session: AsyncSession,
    claim_id: int,
    statuses: Sequence[RevisionStatus] | None,
    page: PageRequest,
    session_factory: Any,
) -> Page:
    """A claim's revisions, oldest first (optionally of some statuses only)."""
    where = [Revision.claim_id == claim_id]
    if statuses is not None:
        where.append(Revision.status.in_(list(statuses)))
    ordering = Ordering(f"revisions:{claim_id}", [SortKey(Revision.id, "int")])

    async def count() -> int:
        async with session_factory() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(Revision).where(*where)) or 0)

    result = await fetch_page(
        session, sa.select(Revision).where(*where), ordering, page, lambda r: [r[0].id], count
    )
    result.rows = [row[0] for row in result.rows]
    return result


@dataclass(frozen=True)
class QueueItem:
    """One piece of work for a reviewer: a submitted claim or a pending revision."""

    kind: str  # CLAIM or REVISION
    id: int


async def review_queue_page(
    session: AsyncSession,
    target_id: int | None,
    kinds: Sequence[str] | None,
    page: PageRequest,
    session_factory: Any,
) -> Page:
    """Submitted claims (since they were submitted: their last change) and pending revisions
    (since they were proposed), oldest first; narrowed to those bearing on a target."""
    wanted = set(kinds) if kinds is not None else set(QUEUE_KINDS)
    bearing = sa.select(ClaimTarget.claim_id).where(ClaimTarget.target_id == target_id)
    parts = []
    if CLAIM in wanted:
        claims = sa.select(
            sa.literal(CLAIM).label("kind"), Claim.id.label("id"), Claim.updated_at.label("at")
        ).where(Claim.status == ClaimStatus.SUBMITTED)
        if target_id is not None:
            claims = claims.where(Claim.id.in_(bearing))
        parts.append(claims)
    if REVISION in wanted:
        revisions = sa.select(
            sa.literal(REVISION).label("kind"), Revision.id.label("id"), Revision.created_at.label("at")
        ).where(Revision.status == RevisionStatus.PENDING)
        if target_id is not None:
            revisions = revisions.where(Revision.claim_id.in_(bearing))
        parts.append(revisions)
    if not parts:  # an empty list of kinds matches nothing, like every list filter
        parts.append(
            sa.select(
                sa.literal(CLAIM).label("kind"), Claim.id.label("id"), Claim.updated_at.label("at")
            ).where(sa.false())
        )
    queue = (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery("queue")
    ordering = Ordering(
        "review-queue",
        [SortKey(queue.c.at, "datetime"), SortKey(queue.c.kind, "str"), SortKey(queue.c.id, "int")],
    )

    async def count() -> int:
        async with session_factory() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(queue)) or 0)

    result = await fetch_page(
        session, sa.select(queue), ordering, page, lambda r: [r.at, r.kind, r.id], count
    )
    result.rows = [QueueItem(r.kind, r.id) for r in result.rows]
    return result
