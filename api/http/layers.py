"""The HTTP layers api/app.py puts in front of the routes, as one middleware: gzip for every answer
over 1 KB; the media type the client accepts for refusals made before the GraphQL endpoint
(graphql_over_http.py); then persisted queries (persisted.py), which must come before the HTTP
limits (they see the document a hash names)."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.graphql_over_http import AcceptedMediaType
from api.http.persisted import DocumentStore, MemoryStore, PersistedQueries, RedisStore, load_manifest
from api.settings import Settings

GZIP_MIN_BYTES = 1024
# Level 6: within a few per cent of level 9's size for JSON at a third of its CPU; the vendored
# assets are compressed once at level 9 (static.py).
GZIP_LEVEL = 6


def apq_store(settings: Settings) -> DocumentStore | None:
    """Where APQ documents are registered: Redis when configured, else this worker's memory;
    None when APQ is off or only trusted documents may run."""
    if not settings.apq or settings.persisted_only:
        return None
    if settings.redis_url:
        return RedisStore(settings.redis_url, ttl=settings.apq_ttl_seconds)
    return MemoryStore()


class HttpLayers:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        manifest = load_manifest(settings.persisted_documents) if settings.persisted_documents else None
        self.persisted = PersistedQueries(
            app,
            store=apq_store(settings),
            manifest=manifest,
            persisted_only=settings.persisted_only,
            max_body_bytes=settings.max_body_bytes,
        )
        self.app = GZipMiddleware(
            AcceptedMediaType(self.persisted), minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
