"""The ASGI application: Starlette routes (`/graphql`, `/healthz`) and the lifespan that owns
the database. Stateless apart from the connection pool, so any number of workers can run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from api.graphql.context import Context, build_context
from api.graphql.schema import build_schema
from api.settings import Settings
from api.store.db import Database


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and orjson encoding. GET runs queries (never
    mutations) and serves GraphiQL to browsers when it is enabled."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
        )
        self.settings = settings

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        return await build_context(request.app.state.db, self.settings, request)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(settings: Settings | None = None, database: Database | None = None) -> Starlette:
    """The app; pass `database` to share one (tests), else the lifespan opens its own."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.db = database or Database(settings)
        try:
            yield
        finally:
            if database is None:
                await app.state.db.dispose()

    async def healthz(request: Request) -> Response:
        db: Database = request.app.state.db
        try:
            async with db.read() as session:
                await session.execute(sa.text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means "not healthy"; the body says so
            return JSONResponse({"status": "unhealthy", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    graphql = GraphQLEndpoint(settings)
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            )
        )
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
