"""Revisions of accepted claims, and the reviewers' queue (submitted claims and pending revisions)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.auth import require_role
from api.graphql.errors import ClientError
from api.graphql.inputs import vocabulary_reference
from api.graphql.types.changes import FieldChange, readable_changes
from api.graphql.types.common import (
    Connection,
    GraphQLInfo,
    Node,
    page_request,
    paged,
    read_error,
    to_connection,
)
from api.graphql.types.enums import RevisionStatus
from api.graphql.types.fields import RowObject, related
from api.graphql.types.sources import User
from api.store.errors import StoreError
from api.store.queries.claims import resolve_filter_name
from api.store.queries.revisions import CLAIM, QUEUE_KINDS, QueueItem, review_queue_page, revisions_page
from schema import tables as t
from schema.enums import Role, VocabularyKind

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]


async def _changes(root: Revision, info: GraphQLInfo) -> list[FieldChange]:
    from api.graphql.types.claims import Claim

    return await readable_changes(info, Claim, root._row.before, root._row.changes)


@strawberry.type(
    description=(
        "A proposed change to an ACCEPTED claim; readers keep seeing the accepted version until a "
        "reviewer other than its author accepts it, and then every change applies at once."
    )
)
class Revision(RowObject, Node):
    __entity__ = "revision"
    claim: ClaimRef = related("claim")
    status: RevisionStatus
    base_version: int = strawberry.field(description="The claim's version the change was made against.")
    changes: list[FieldChange] = strawberry.field(
        resolver=_changes, description="Each changed field: its value at baseVersion and the one proposed."
    )
    comment: str | None = strawberry.field(description="Why, in its author's words.")
    created_by: User | None = related("created_by")
    created_at: datetime
    decided_by: User | None = related("decided_by")
    decided_at: datetime | None
    decision_comment: str | None
    _row: strawberry.Private[t.Revision]


async def resolve_revisions(
    info: GraphQLInfo,
    claim_id: int,
    status: list[RevisionStatus] | None,
    first: int | None,
    after: str | None,
) -> Connection[Revision]:
    ctx = info.context
    request = page_request(first, after, None, None)
    async with ctx.db.read() as session:
        page = await paged(revisions_page(session, claim_id, status, request, ctx.db.read))
    return to_connection(page, Revision.from_row)


ReviewItem = Annotated[
    ClaimRef | Revision,
    strawberry.union(
        "ReviewItem", description="A reviewer's piece of work: a submitted claim or a pending revision."
    ),
]


@strawberry.input(description="Narrow the review queue.")
class ReviewQueueFilter:
    target: str | None = strawberry.field(
        default=None, description="Only work on claims bearing on this target (symbol, alias or CURIE)."
    )
    kind: list[str] | None = strawberry.field(default=None, description='"CLAIM", "REVISION" or both.')


async def resolve_review_queue(
    info: GraphQLInfo, filter: ReviewQueueFilter | None, first: int | None, after: str | None
) -> Connection[ReviewItem]:
    from api.graphql.types.claims import Claim

    require_role(info, Role.REVIEWER, "reading the review queue")
    ctx = info.context
    request = page_request(first, after, None, None)
    kinds = filter.kind if filter is not None else None
    if kinds is not None and (unknown := sorted(set(kinds) - set(QUEUE_KINDS))):
        raise ClientError(f"filter.kind {unknown} is not one of {', '.join(QUEUE_KINDS)}")
    async with ctx.db.read() as session:
        target_id = None
        if filter is not None and filter.target is not None:
            reference = vocabulary_reference(VocabularyKind.TARGET, filter.target)
            try:
                target_id = await resolve_filter_name(
                    session, VocabularyKind.TARGET, reference, ("filter", "target")
                )
            except StoreError as exc:
                raise read_error(exc) from None
        page = await paged(review_queue_page(session, target_id, kinds, request, ctx.db.read))
    items: list[QueueItem] = page.rows
    claims = await ctx.loaders.claim.load_many([i.id for i in items if i.kind == CLAIM])
    revisions = await ctx.loaders.rows("revision").load_many([i.id for i in items if i.kind != CLAIM])
    claim_rows, revision_rows = iter(claims), iter(revisions)
    page.rows = [
        Claim.from_row(next(claim_rows)) if i.kind == CLAIM else Revision.from_row(next(revision_rows))
        for i in items
    ]
    return to_connection(page, lambda node: node)
