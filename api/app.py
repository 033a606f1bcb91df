"""The ASGI application: Starlette routes (`/graphql`, `/healthz`) and the lifespan that owns
the database. Stateless apart from the connection pool, so any number of workers can run."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL

from api.graphql.context import Context, build_context
from api.graphql.schema import build_schema
from api.limits_http import HttpLimits
from api.settings import Settings
from api.store.db import Database

# GraphiQL's JavaScript and CSS, vendored from npm (api/static/graphiql/README.md) and served at
# GRAPHIQL_STATIC_PATH, so the page works without internet access.
GRAPHIQL_STATIC_PATH = "/graphql/static"
GRAPHIQL_STATIC_PACKAGE = ("api", "static/graphiql")
_CDN_PREFIX = "https://unpkg.com/"
_ASSET_TAG = re.compile(r"<(?:script|link)\b[^>]*>")
_CDN_ONLY_ATTRIBUTES = re.compile(r"\s+(?:integrity|crossorigin)(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?")


def _without_cdn_attributes(tag: re.Match[str]) -> str:
    return _CDN_ONLY_ATTRIBUTES.sub("", tag.group(0))


def localize_graphiql_html(html: str, static_prefix: str = GRAPHIQL_STATIC_PATH) -> str:
    """Strawberry's GraphiQL page with its unpkg.com URLs pointed at our own copies (which
    mirror unpkg's `<package>@<version>/<path>` layout), minus the `integrity`/`crossorigin`
    attributes of its <script>/<link> tags, which only matter for cross-origin files."""
    html = _ASSET_TAG.sub(_without_cdn_attributes, html)
    return html.replace(_CDN_PREFIX, static_prefix.rstrip("/") + "/")


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and orjson encoding. GET runs queries (never
    mutations) and serves GraphiQL to browsers when it is enabled."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,  # POST bodies are JSON only (no CSRF-able form posts)
        )
        if settings.max_batch_operations > 0:  # batches (a JSON array body) are refused otherwise
            self.schema.config.batching_config = {"max_operations": settings.max_batch_operations}
        self.settings = settings

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        return await build_context(request.app.state.db, self.settings, request)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """Strawberry's GraphiQL page, loading its assets from us instead of unpkg.com."""
        prefix = request.scope.get("root_path", "").rstrip("/") + GRAPHIQL_STATIC_PATH
        return HTMLResponse(localize_graphiql_html(self.graphql_ide_html, prefix))


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
    # Inside CORS, so a 413 or 429 still carries the CORS headers a browser needs to read it.
    middleware.append(
        Middleware(
            HttpLimits,
            max_body_bytes=settings.max_body_bytes,
            write_rate_per_minute=settings.write_rate_per_minute,
            anonymous_write_rate_per_minute=settings.anonymous_write_rate_per_minute,
            max_batch_operations=settings.max_batch_operations,
            max_query_tokens=settings.max_query_tokens,
        )
    )
    routes: list[Route | Mount] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz),
    ]
    if settings.graphiql:
        routes.append(
            Mount(
                GRAPHIQL_STATIC_PATH,
                app=StaticFiles(packages=[GRAPHIQL_STATIC_PACKAGE]),
                name="graphiql-static",
            )
        )
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
    )
