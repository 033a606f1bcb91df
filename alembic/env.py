"""Alembic environment: async engines, SQLite batch mode, type comparison.

The database URL comes from the Alembic config's `sqlalchemy.url` when the caller set it
(api.store.migrations does), else from CLAIMSDB_DATABASE_URL like the rest of claimsdb.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection

from alembic import context
from api.settings import Settings
from api.store.db import make_engine
from api.store.migrations import include_name
from schema import tables  # noqa: F401  (registers every table on the metadata)
from schema.base import metadata

config = context.config


def _settings() -> Settings:
    url = config.get_main_option("sqlalchemy.url")
    return Settings(database_url=url) if url else Settings()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_settings())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(
        url=str(_settings().url),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=_settings().is_sqlite,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (connection := config.attributes.get("connection")) is not None:
    _run_sync(connection)
else:
    asyncio.run(_run_async())
