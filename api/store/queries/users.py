"""Who a request is: API token → actor."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from schema.tables import ApiToken, User
from schema.users import Actor, hash_token, same_hash

# Built once: every authenticated request runs it (building it anew cost about 0.1 ms of CPU).
_ACTIVE_TOKEN = (
    sa.select(User.id, User.name, User.role, ApiToken.token_hash)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == sa.bindparam("digest"), ApiToken.revoked_at.is_(None), User.active.is_(True)
    )
)


async def actor_for_token(session: AsyncSession, token: str) -> Actor | None:
    """The active user holding this unrevoked token, or None."""
    digest = hash_token(token)
    row = (await session.execute(_ACTIVE_TOKEN, {"digest": digest})).first()
    if row is None or not same_hash(row.token_hash, digest):
        return None
    return Actor(row.id, row.name, row.role)
