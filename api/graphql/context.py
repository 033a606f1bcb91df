"""The per-request context: database, settings, who is asking, loaders.

Over HTTP it also fills in the request's record (api/observability/request.py), which the HTTP
layer shares through the ASGI scope: the request id (the client's X-Request-Id or a new one, the
id the store writes on the request's audit events and the response echoes), the user for the
request's log line, and whether the request carried a token that is not valid (the write rate
limit charges such a request to its address).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from starlette.requests import Request
from strawberry.extensions import SchemaExtension

from api.graphql.errors import unauthenticated
from api.graphql.internals import OperationType
from api.graphql.loaders import Loaders
from api.http.read_your_writes import route_for
from api.observability.request import RequestRecord, new_request_id, record_for
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
    request_id: str = field(default_factory=new_request_id)
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
    if request is None:
        return Context(db=db, settings=settings, loaders=Loaders(db))
    record = record_for(request.scope)
    route = route_for(request.scope)
    if route is not None:  # read replicas are configured (api/store/replicas.py)
        route.replica_ok = _runs_only_queries(request, record)
        db = db.routed(route)
    context = Context(
        db=db, settings=settings, loaders=Loaders(db), request=request, request_id=record.request_id
    )
    await _authenticate(context, db, request)
    if context._actor is None:
        record.auth_failed = True
    else:
        record.user = context._actor.name
    return context


def _runs_only_queries(request: Request, record: RequestRecord) -> bool:
    """Known, before anything runs, to run no mutation: a GET (GraphQL over HTTP never runs one;
    a workbench page that is not a form post) or a POST whose operations the HTTP limits counted
    and found no mutation in. Anything else reads the primary, so a mutation's token check and
    every read inside it see the primary; MutationsReadPrimary catches what this cannot see."""
    return request.method in ("GET", "HEAD") or record.writes == 0


class MutationsReadPrimary(SchemaExtension):
    """A mutation reads the primary even where the request was taken for a read (a workbench
    page that runs one in-process): what it checks and returns must be what it wrote."""

    def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        context = self.execution_context.context
        route = getattr(getattr(context, "db", None), "route", None)
        if route is not None and self.execution_context.operation_type is OperationType.MUTATION:
            route.use_primary()
        yield


async def _authenticate(context: Context, db: Database, request: Request) -> None:
    header = request.headers.get("authorization")
    if header is None:
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        context._actor = None
        context.auth_problem = "the Authorization header must be 'Bearer <token>'"
        return
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
