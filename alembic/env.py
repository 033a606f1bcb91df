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
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


def _check_foreign_keys(connection: Connection) -> None:
    """Enforcement is off while migrating (below); make sure the result is still consistent."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise RuntimeError(
            f"migration left {len(broken)} broken foreign keys, e.g. {table} row {rowid} -> {parent}"
        )


def _sqlite_foreign_keys_off(engine: object) -> None:
    """SQLite batch migrations rebuild a table (copy, drop, rename); with foreign keys enforced,
    dropping a table that others reference fails once it holds rows. The pragma is a no-op inside
    a transaction, so it is set as each connection opens, after claimsdb's own connect hook."""
    from sqlalchemy import event

    @event.listens_for(engine.sync_engine, "connect")  # type: ignore[attr-defined]
    def _off(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()


async def _run_async() -> None:
    settings = _settings()
    engine = make_engine(settings)
    if settings.is_sqlite:
        _sqlite_foreign_keys_off(engine)
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
