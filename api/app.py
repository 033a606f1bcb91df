"""The ASGI application: Starlette routes (`/graphql`, `/healthz`, `/metrics`) and the lifespan
that owns the database. Stateless apart from the connection pool (the write budgets live in Redis
when CLAIMSDB_REDIS_URL is set), so any number of workers can run.

Middleware, outermost first: the OpenTelemetry request span (CLAIMSDB_OTEL=true), the request id
and the request's log line and metrics (api/observability), CORS, the HTTP limits."""

from __future__ import annotations

import logging
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
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

try:  # where Strawberry's view raises its HTTP refusals from (cross-web since 0.33x)
    from cross_web import HTTPException
except ImportError:  # pragma: no cover - older Strawberry
    from strawberry.http.exceptions import HTTPException  # type: ignore[no-redef]

from api.graphql.context import Context, build_context
from api.graphql.errors import SERVICE_UNAVAILABLE, unavailable_extensions
from api.graphql.schema import build_schema
from api.http.errors import exception_handlers
from api.http.graphiql import graphiql_page
from api.http.graphql_over_http import finish_response, refusal_status, shape_result
from api.http.layers import HttpLayers
from api.http.static import CachedStaticFiles
from api.limits_http import HttpLimits
from api.observability import metrics as prometheus
from api.observability.logs import configure_logging
from api.observability.middleware import ObserveRequests
from api.observability.request import count_sql_statements
from api.observability.tracing import Tracing, provider_from_environment
from api.settings import Settings
from api.store.db import Database, database_outage
from api.store.errors import DatabaseUnavailable
from api.store.queries.audit_chain import audit_chain_length

# GraphiQL's JavaScript and CSS, vendored from npm (api/static/graphiql/README.md) and served at
# GRAPHIQL_STATIC_PATH, so the page works without internet access.
GRAPHIQL_STATIC_PATH = "/graphql/static"
GRAPHIQL_STATIC_PACKAGE = ("api", "static/graphiql")
_CDN_PREFIX = "https://unpkg.com/"
_ASSET_TAG = re.compile(r"<(?:script|link)\b[^>]*>")
_CDN_ONLY_ATTRIBUTES = re.compile(r"\s+(?:integrity|crossorigin)(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?")


_log = logging.getLogger("claimsdb.app")
# While the database is unavailable: HTTP 503, and when to try again.
RETRY_AFTER_SECONDS = 5
_HTTP_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def request_error(status: int, message: str, extensions: dict[str, Any], **headers: str) -> Response:
    """An answer refusing a request before it ran: GraphQL errors and no `data` (GraphQL over
    HTTP: a request error has no data entry)."""
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def unavailable_response(outage: DatabaseUnavailable) -> Response:
    """The answer to a request the database could not serve before it ran (its token could not
    be looked up): the same error an outage during execution gives."""
    return request_error(
        503, str(outage), unavailable_extensions(outage), **{"Retry-After": str(RETRY_AFTER_SECONDS)}
    )


def _is_outage(data: object) -> bool:
    items = data if isinstance(data, list) else [data]
    return any(
        (error.get("extensions") or {}).get("code") == SERVICE_UNAVAILABLE
        for item in items
        if isinstance(item, dict)
        for error in item.get("errors") or ()
    )


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's HTTP handling, with its refusals (a malformed request, a mutation over GET)
        as JSON GraphQL errors rather than plain text, and a request the database cannot serve
        (its token could not be looked up) answered 503 like any other outage."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        response: Response
        try:
            response = await self.run(request)
        except HTTPException as exc:
            code = _HTTP_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
            response = request_error(exc.status_code, exc.reason, {"code": code})
        except DatabaseUnavailable as outage:
            response = unavailable_response(outage)
        response = finish_response(request, response, self.settings.http_cache_max_age)
        await response(scope, receive, send)

    async def execute_single(  # type: ignore[override]
        self, request: Request, request_adapter: Any, *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return await super().execute_single(request, request_adapter, *args, **kwargs)
        except HTTPException as exc:  # a mutation over GET is 405 (GraphQL over HTTP), not 400
            exc.status_code = refusal_status(request.method, exc.status_code, exc.__cause__)
            raise

    async def process_result(self, request: Request, result: Any) -> Any:  # type: ignore[override]
        return shape_result(request, result, await super().process_result(request, result))

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        return await build_context(request.app.state.db, self.settings, request)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """orjson, as the HTTP limits read POST bodies: it refuses a lone surrogate escape
        ("\\udeb2"), which the standard library decodes into a string that no database driver
        can encode (GET variables with one failed their query with an internal error). Its
        JSONDecodeError is the standard library's, so Strawberry answers 400."""
        return orjson.loads(data)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:  # type: ignore[override]
        """A result with an outage error (errors.py) is answered 503 with Retry-After, so clients
        and proxies see "retry later" for reads and writes alike."""
        response = super().create_response(response_data, sub_response)
        if _is_outage(response_data):
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """Strawberry's GraphiQL page, loading its assets from us instead of unpkg.com."""
        prefix = request.scope.get("root_path", "").rstrip("/") + GRAPHIQL_STATIC_PATH
        return HTMLResponse(localize_graphiql_html(graphiql_page(self.graphql_ide_html), prefix))


def _sqlite_file(settings: Settings) -> bool:
    database = settings.url.database
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")


def create_app(
    settings: Settings | None = None, database: Database | None = None, tracer_provider: Any = None
) -> Starlette:
    """The app; pass `database` to share one (tests), else the lifespan opens its own.
    `tracer_provider` (tests: an in-memory exporter) replaces the one built from the OTEL_*
    variables when CLAIMSDB_OTEL is on."""
    settings = settings or Settings()
    configure_logging(settings.log_format)
    count_sql_statements()
    tracing = Tracing(tracer_provider or provider_from_environment()) if settings.otel else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if database is None:
            pool = prometheus.metered_pool_options(settings.is_sqlite, _sqlite_file(settings))
            app.state.db = Database(settings, **(pool if settings.metrics else {}))
        else:
            app.state.db = database
        if tracing is not None:
            tracing.instrument(app.state.db.engine)
        try:
            yield
        finally:
            if tracing is not None:
                tracing.uninstrument()
            if database is None:
                await app.state.db.dispose()
            prometheus.worker_exiting()

    async def healthz(request: Request) -> Response:
        db: Database = request.app.state.db
        try:
            async with db.read() as session:
                await session.execute(sa.text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"; the body says so
            state = "unreachable" if database_outage(exc) is not None else "failing"
            if state == "failing":  # not an outage we know: worth a traceback in the log
                _log.exception("health check failed")
            return JSONResponse(
                {"status": "unhealthy", "database": state},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        """Prometheus' text format, with the audit chain's length read now (left out, and the
        rest still served, when the database cannot answer)."""
        length = None
        try:
            async with request.app.state.db.read() as session:
                length = await audit_chain_length(session)
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because the database does
            if database_outage(exc) is None:
                _log.exception("reading the audit chain's length for /metrics failed")
        return Response(prometheus.exposition(length), media_type=prometheus.CONTENT_TYPE)

    graphql = GraphQLEndpoint(settings)
    middleware = []
    if tracing is not None:
        middleware.append(Middleware(tracing.middleware_class, **tracing.middleware_options))
    middleware.append(
        Middleware(ObserveRequests, metrics=settings.metrics, tracer=tracing.tracer if tracing else None)
    )
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=settings.cors_allow_headers,
                expose_headers=settings.cors_expose_headers,
                max_age=settings.cors_max_age_seconds,
            )
        )
    # Gzip and persisted queries (api/http/layers.py): before the limits, which see the document.
    middleware.append(Middleware(HttpLayers, settings=settings))
    # Inside CORS, so a 413 or 429 still carries the CORS headers a browser needs to read it.
    middleware.append(
        Middleware(
            HttpLimits,
            max_body_bytes=settings.max_body_bytes,
            write_rate_per_minute=settings.write_rate_per_minute,
            anonymous_write_rate_per_minute=settings.anonymous_write_rate_per_minute,
            max_batch_operations=settings.max_batch_operations,
            max_query_tokens=settings.max_query_tokens,
            redis_url=settings.redis_url,
            redis_key_prefix=settings.redis_key_prefix,
        )
    )
    routes: list[Route | Mount] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", healthz),
    ]
    if settings.metrics:
        routes.append(Route("/metrics", metrics))
    if settings.graphiql:
        routes.append(
            Mount(
                GRAPHIQL_STATIC_PATH,
                app=CachedStaticFiles(packages=[GRAPHIQL_STATIC_PACKAGE]),
                name="graphiql-static",
            )
        )
    if settings.releases_dir is not None:  # published data releases (api/http/releases.py)
        from api.http.releases import release_routes

        routes.extend(release_routes(settings.releases_dir))
    if settings.ui:  # the web workbench (api/web): pages under /ui/, and / redirecting there
        from api.web import workbench_routes

        routes.extend(workbench_routes(settings, graphql.schema))
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers=exception_handlers(),
    )
