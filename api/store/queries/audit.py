"""Reading the audit log: per entity (a claim's history) or filtered, as keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.import_digest import creating_event
from api.store.queries.pagination import Ordering, Page, PageRequest, SortKey, fetch_page
from schema.tables import AuditEvent, User


@dataclass(frozen=True)
class AuditFilterSpec:
    entity_type: str | None = None
    entity_id: int | None = None
    actor: str | None = None  # user name
    actions: list[str] | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


async def audit_page(
    session: AsyncSession, spec: AuditFilterSpec, page: PageRequest, session_factory: Any, newest_first: bool
) -> Page:
    where: list[Any] = []
    if spec.entity_type is not None:
        where.append(AuditEvent.entity_type == spec.entity_type)
    if spec.entity_id is not None:
        entity = AuditEvent.entity_id == spec.entity_id
        # A bulk-imported claim's creation is its import chunk's event, filed under another id.
        if spec.entity_type == "Claim" and (chunk := await creating_event(session, spec.entity_id)):
            entity = sa.or_(entity, AuditEvent.id == chunk)
        where.append(entity)
    if spec.actor is not None:
        where.append(AuditEvent.actor_id.in_(sa.select(User.id).where(User.name == spec.actor)))
    if spec.actions is not None:
        where.append(AuditEvent.action.in_(spec.actions))
    if spec.at_from is not None:
        where.append(AuditEvent.at >= spec.at_from)
    if spec.at_to is not None:
        where.append(AuditEvent.at <= spec.at_to)
    ordering = Ordering("audit", [SortKey(AuditEvent.id, "int")], descending=newest_first)
    statement = sa.select(AuditEvent).where(*where)

    async def count() -> int:
        async with session_factory() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(*where)) or 0)

    result = await fetch_page(session, statement, ordering, page, lambda row: [row[0].id], count)
    result.rows = [row[0] for row in result.rows]
    return result
