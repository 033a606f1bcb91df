"""The ASGI application: Starlette routes and the lifespan that owns the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.settings import Settings
from api.store.db import Database


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        try:
            yield
        finally:
            await app.state.db.dispose()

    async def healthz(request: Request) -> JSONResponse:
        db: Database = request.app.state.db
        try:
            async with db.read() as session:
                await session.execute(sa.text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means "not healthy"; the body says so
            return JSONResponse({"status": "unhealthy", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/healthz", healthz)], lifespan=lifespan)
