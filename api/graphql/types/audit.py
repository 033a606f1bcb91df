"""Audit events: the append-only, hash-chained record of every change."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.ids import from_global_id, int_key, to_global_id
from api.graphql.types.changes import FieldChange, readable_changes
from api.graphql.types.common import JSON, Connection, GraphQLInfo, Node, page_request, paged, to_connection
from api.graphql.types.fields import RowObject, related
from api.graphql.types.sources import User
from api.store.queries.audit import AuditFilterSpec, audit_page
from schema import tables as t


def _entity_global_id(root: AuditEvent) -> strawberry.ID:
    return strawberry.ID(to_global_id(root._row.entity_type, root._row.entity_id))


async def _changes(root: AuditEvent, info: GraphQLInfo) -> list[FieldChange]:
    from api.graphql.types.nodes import BY_NAME

    row = root._row
    return await readable_changes(info, BY_NAME.get(row.entity_type), row.before, row.after)


async def _verified(root: AuditEvent, info: GraphQLInfo) -> bool:
    return await info.context.loaders.event_break.load(root._row.id) is None


@strawberry.type(description="One recorded change: who did what to which object, before and after.")
class AuditEvent(RowObject, Node):
    __entity__ = "audit_event"
    at: datetime
    action: str = strawberry.field(description="e.g. claim.create, claim.update, claim.review.accept")
    entity_type: str = strawberry.field(description="The GraphQL type of the changed object.")
    entity_id: strawberry.ID = strawberry.field(
        resolver=_entity_global_id, description="Global ID of the changed object."
    )
    before: JSON | None = strawberry.field(description="The changed fields as they were.")
    after: JSON | None = strawberry.field(description="The changed fields as they became.")
    comment: str | None
    hash: str = strawberry.field(description="SHA-256 over this event's content and previousHash.")
    previous_hash: str | None = strawberry.field(
        description="The hash of the event before (zeros for the first)."
    )
    actor: User | None = related("actor", description="Who made the change (null for system events).")
    changes: list[FieldChange] = strawberry.field(
        resolver=_changes,
        description=(
            "The changed fields in GraphQL names, references with their names (a readable before and after)."
        ),
    )
    request_id: str | None = strawberry.field(
        description=(
            "The id of the request that made the change (the X-Request-Id it came with, or one made up)."
        )
    )
    verified: bool = strawberry.field(
        resolver=_verified,
        description=(
            "Whether the event verifies where it stands in the hash chain: its content still "
            "matches its hash, it names the hash of the event before it, and the event after it "
            "(or the chain's head) names its hash. `claimsdb audit verify` walks the whole chain."
        ),
    )
    _row: strawberry.Private[t.AuditEvent]


@strawberry.input(description="Narrow the audit log.")
class AuditFilter:
    entity: strawberry.ID | None = strawberry.field(default=None, description="Global ID of an object.")
    actor: str | None = strawberry.field(default=None, description="A user name.")
    action: list[str] | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None

    def to_spec(self) -> AuditFilterSpec | None:
        """None when the filter names an entity ID that cannot exist (so nothing matches)."""
        entity_type = entity_id = None
        if self.entity is not None:
            parsed = from_global_id(self.entity)
            key = int_key(parsed[1]) if parsed is not None else None
            if parsed is None or key is None:
                return None
            entity_type, entity_id = parsed[0], key
        return AuditFilterSpec(entity_type, entity_id, self.actor, self.action, self.from_, self.to)


async def resolve_audit(
    info: GraphQLInfo,
    spec: AuditFilterSpec | None,
    first: int | None,
    after: str | None,
    newest_first: bool,
) -> Connection[AuditEvent]:
    ctx = info.context
    request = page_request(first, after, None, None)
    if spec is None:
        spec = AuditFilterSpec(entity_type="", entity_id=-1)  # matches nothing
    async with ctx.db.read() as session:
        page = await paged(audit_page(session, spec, request, ctx.db.read, newest_first))
    return to_connection(page, AuditEvent.from_row)
