"""The per-request context: database, settings, who is asking, loaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from starlette.requests import Request

from api.graphql.errors import unauthenticated
from api.graphql.loaders import Loaders
from api.settings import Settings
from api.store.db import Database, database_outage
from api.store.queries.users import actor_for_token
from schema.users import ANONYMOUS, Actor
from schema.visibility import ClaimVisibility, claim_visibility


@dataclass
class Context:
    db: Database
    settings: Settings
    loaders: Loaders
    request: Request | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # None when the request carried a token that is not valid (reported on first use).
    _actor: Actor | None = ANONYMOUS
    auth_problem: str | None = None

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise unauthenticated(self.auth_problem or "the API token is not valid")
        return self._actor

    @property
    def visibility(self) -> ClaimVisibility:
        return claim_visibility(self.actor)


async def build_context(db: Database, settings: Settings, request: Request | None) -> Context:
    context = Context(db=db, settings=settings, loaders=Loaders(db), request=request)
    if request is None:
        return context
    incoming = request.headers.get("x-request-id", "")
    if incoming and len(incoming) <= 64 and incoming.isprintable():
        context.request_id = incoming
    header = request.headers.get("authorization")
    if header is None:
        return context
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        context._actor = None
        context.auth_problem = "the Authorization header must be 'Bearer <token>'"
        return context
    try:
        async with db.read() as session:
            actor = await actor_for_token(session, token.strip())
    except Exception as exc:
        # Raised before GraphQL runs, where nothing would turn it into an error the client can
        # read; the endpoint answers DatabaseUnavailable with a 503 (api/app.py).
        outage = database_outage(exc)
        if outage is None:
            raise
        raise outage from exc
    if actor is None:
        context._actor = None
        context.auth_problem = "the API token is not valid (unknown, revoked, or its user deactivated)"
    else:
        context._actor = actor
    return context
