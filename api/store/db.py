"""Engines, sessions and write transactions.

Reads use plain sessions. Every write goes through `Database.write()`, one transaction that
collects the audit events its commands record and appends them, hash-chained, just before
commit (api.store.audit). On SQLite a write transaction starts with BEGIN IMMEDIATE, so two
writers queue on the lock (busy_timeout) instead of failing mid-transaction when one tries to
upgrade a read lock; WAL lets readers go on meanwhile.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api.settings import Settings, SettingsError
from api.store.errors import DatabaseBusy
from schema.users import Actor

_WRITE = "claimsdb_write"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    url = settings.url
    if url.get_backend_name() == "sqlite":
        path = _sqlite_file(url)
        if path is not None and not path.parent.exists():
            raise SettingsError(
                f"CLAIMSDB_DATABASE_URL points into '{path.parent}', which does not exist; "
                "create the directory or choose another path"
            )
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    kwargs.setdefault("pool_size", settings.pool_size)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so we can emit BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@dataclass
class PendingEvent:
    action: str
    entity_type: str
    entity_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    comment: str | None


@dataclass
class Writer:
    """One write transaction: the session, who is acting, and the audit events to append."""

    session: AsyncSession
    actor: Actor
    request_id: str
    pending: list[PendingEvent] = field(default_factory=list)

    def record(
        self,
        action: str,
        entity_type: str,
        entity_id: int,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> None:
        from schema.audit import json_safe

        self.pending.append(
            PendingEvent(action, entity_type, entity_id, json_safe(before), json_safe(after), comment)
        )


class Database:
    def __init__(self, settings: Settings, **engine_kwargs: Any) -> None:
        self.settings = settings
        self.engine = make_engine(settings, **engine_kwargs)
        self.is_sqlite = settings.is_sqlite
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        write_engine = self.engine.execution_options(**{_WRITE: True})
        self._write = async_sessionmaker(write_engine, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session:
            yield session

    @asynccontextmanager
    async def write(self, actor: Actor, request_id: str | None = None) -> AsyncIterator[Writer]:
        """A write transaction: commits with its audit events on success, rolls back otherwise."""
        from api.store.audit import append_events

        async with self._write() as session:
            writer = Writer(session, actor, request_id or uuid.uuid4().hex)
            try:
                async with session.begin():
                    yield writer
                    await session.flush()
                    await append_events(session, writer)
            except OperationalError as exc:
                if self.is_sqlite and "locked" in str(exc.orig).lower():
                    raise DatabaseBusy("the database is busy with another write; retry") from exc
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
