"""Engines, sessions and write transactions.

Reads use plain sessions. Every write goes through `Database.write()`, one transaction that
collects the audit events its commands record and appends them, hash-chained, just before
commit (api.store.audit). On SQLite a write transaction starts with BEGIN IMMEDIATE, so two
writers queue on the lock (busy_timeout) instead of failing mid-transaction when one tries to
upgrade a read lock; WAL lets readers go on meanwhile.

When the database cannot serve (PostgreSQL down or refusing connections, the SQLite file gone,
unopenable or read-only, a PostgreSQL standby), `database_outage` tells such an error from a bug,
so the API can answer "the database is unavailable" / "the database is read-only" instead of
masking it as an internal error. The engines are set up to recover by themselves when the
database comes back: PostgreSQL connections are pinged on checkout, a connection that met a
read-only database is thrown away (it would stay read-only after the database is writable again),
and an SQLite connection whose file was removed or replaced is reopened (it would go on reading
and writing the old, unlinked file).
"""

from __future__ import annotations

import copy
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api.settings import Settings, SettingsError
from api.store.audit import PendingEvent, append_events
from api.store.errors import DatabaseBusy, DatabaseUnavailable
from api.store.replicas import ReadRoute, Replica, Replicas, primary_lsn
from api.store.write_slots import WriteSlots
from schema.users import Actor

_WRITE = "claimsdb_write"
# Set on an exception raised while opening a connection: whatever it says, the database could not
# be reached (refused, unknown host, database missing or not accepting connections, file missing).
_CONNECT_FAILED = "_claimsdb_connect_failed"
# Where an SQLite connection records the state of the file it opened (api.store.db._file_state).
_FILE_STATE = "claimsdb_file_state"

# PostgreSQL SQLSTATEs of an outage: connection exceptions (class 08), operator intervention
# (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now), insufficient resources
# (class 53: too many connections, disk full, out of memory), system errors (class 58).
_PG_UNAVAILABLE_CLASSES = ("08", "53", "58")
_PG_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03"})
# 25006 read_only_sql_transaction: a standby, or default_transaction_read_only set on the database.
_PG_READ_ONLY = "25006"
# SQLite result codes (sqlite3.Error.sqlite_errorname) of a file that cannot be used.
# How long connecting to a replica may take before its reads go elsewhere.
REPLICA_CONNECT_SECONDS = 3.0
_SQLITE_UNAVAILABLE_PREFIXES = ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_NOTADB", "SQLITE_FULL")


def _sqlstate(error: BaseException) -> str:
    return str(getattr(error, "sqlstate", None) or getattr(error, "pgcode", None) or "")


def _is_read_only(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        return str(getattr(error, "sqlite_errorname", "")).startswith("SQLITE_READONLY")
    return _sqlstate(error) == _PG_READ_ONLY


def _is_unavailable(error: BaseException) -> bool:
    if getattr(error, _CONNECT_FAILED, False):
        return True
    if isinstance(error, sqlite3.Error):
        return str(getattr(error, "sqlite_errorname", "")).startswith(_SQLITE_UNAVAILABLE_PREFIXES)
    state = _sqlstate(error)
    return bool(state) and (state in _PG_UNAVAILABLE or state.startswith(_PG_UNAVAILABLE_CLASSES))


def database_outage(error: BaseException) -> DatabaseUnavailable | None:
    """A DatabaseUnavailable when `error` (or what caused it) says the database cannot serve now,
    else None (the error is a bug or the client's, and is handled as such)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable):
            return current
        original = current.orig if isinstance(current, sa_exc.DBAPIError) else None
        for candidate in (original, current):
            if candidate is not None and _is_read_only(candidate):
                return DatabaseUnavailable(read_only=True)
        for candidate in (original, current):
            if candidate is not None and _is_unavailable(candidate):
                return DatabaseUnavailable()
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return DatabaseUnavailable()  # the driver lost the connection mid-statement
        if isinstance(current, sa_exc.TimeoutError):
            # No pooled connection came free in time: the database is up, the API is overloaded.
            return DatabaseUnavailable(busy=True)
        if isinstance(current, sa_exc.PendingRollbackError) and "invalid" in str(current):
            return DatabaseUnavailable()  # a session whose connection was lost earlier
        current = current.__cause__ or current.__context__
    return None


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _file_state(path: Path) -> tuple[int, int, bool] | None:
    """(device, inode, writable) of the SQLite file, or None when there is none. `writable` is
    what the kernel says (os.access: file modes, an immutable file, a read-only mount)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino, os.access(path, os.W_OK)


def make_engine(settings: Settings, *, existing_file: bool = False, **kwargs: Any) -> AsyncEngine:
    """The engine for `settings`. `existing_file`: open an SQLite file only if it exists (a URI
    with mode=rw), never create an empty one in its place; the API's engines do this, so a
    database file that disappears gives "unavailable" rather than an empty database, while
    migrations (alembic/env.py) still create a new file."""
    url = settings.url
    path = _sqlite_file(url) if settings.is_sqlite else None
    if settings.is_sqlite:
        if path is not None and not path.parent.exists():
            raise SettingsError(
                f"CLAIMSDB_DATABASE_URL points into '{path.parent}', which does not exist; "
                "create the directory or choose another path"
            )
        if path is not None and existing_file:
            url = url.set(
                database=f"file:{quote(str(path), safe='/')}",
                query={**url.query, "mode": "rw", "uri": "true"},
            )
        if path is not None:  # a file: a queue pool (an in-memory database has one connection)
            kwargs.setdefault("pool_timeout", settings.pool_timeout_seconds)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms, path)
    else:
        engine = _postgres_engine(url, settings, **kwargs)
    _configure_outages(engine, path if existing_file else None)
    return engine


def _postgres_engine(url: URL, settings: Settings, **kwargs: Any) -> AsyncEngine:
    kwargs.setdefault("pool_size", settings.pool_size)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_timeout", settings.pool_timeout_seconds)
    connect_args = statement_cache_options(url, settings.pg_statement_cache_size)
    connect_args.update(kwargs.pop("connect_args", {}))
    return create_async_engine(url, connect_args=connect_args, **kwargs)


def statement_cache_options(url: URL, size: int) -> dict[str, Any]:
    """The driver's connect arguments for CLAIMSDB_PG_STATEMENT_CACHE_SIZE. With 0 (PgBouncer
    in transaction mode) asyncpg caches no statement and SQLAlchemy's dialect, which still
    prepares each statement to learn its result columns, names each one uniquely: a numbered
    name (__asyncpg_stmt_1__) taken on one server connection by another client would collide."""
    if url.get_driver_name() == "psycopg":
        return {} if size else {"prepare_threshold": None}
    if size:
        return {"statement_cache_size": size, "prepared_statement_cache_size": size}
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def _replicas(settings: Settings, **kwargs: Any) -> Replicas | None:
    if not settings.read_urls:
        return None
    members = []
    for url in settings.read_urls:
        # A replica that does not answer is given up on quickly: its reads have the primary.
        connect_args = {"timeout": REPLICA_CONNECT_SECONDS} if url.get_driver_name() == "asyncpg" else {}
        engine = _postgres_engine(url, settings, connect_args=connect_args, **kwargs)
        _configure_outages(engine, None)
        sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        members.append(Replica(Replicas.describe(url), engine, sessions))
    return Replicas(
        members,
        settings.replica_wait_ms / 1000,
        settings.replica_retry_seconds,
        is_outage=lambda error: database_outage(error) is not None,
    )


def _configure_outages(engine: AsyncEngine, required_file: Path | None) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            if required_file is not None and not required_file.exists():
                # What SQLite would say, without starting aiosqlite's connection thread: when
                # its connect fails, that thread reports back to the event loop later, which
                # prints a traceback if the loop has closed by then (a CLI command that failed).
                raise sqlite3.OperationalError("unable to open database file")
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            # Marked, not replaced: the CLI still words the driver's own message.
            setattr(exc, _CONNECT_FAILED, True)
            raise

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.original_exception is not None and _is_read_only(context.original_exception):
            # Treated as a lost connection, so the pool opens a new one next time: SQLite keeps a
            # connection opened on a read-only file read-only for good, and PostgreSQL keeps a
            # session's read-only default, even after the database is writable again.
            context.is_disconnect = True


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int, path: Path | None) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Take transaction control from the sqlite3 module so we can emit BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            # A read-only file cannot change its journal mode; it can still be read.
            if not _is_read_only(exc):
                raise
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        if path is not None:
            record.info[_FILE_STATE] = _file_state(path)

    if path is None:
        return

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # An SQLite connection keeps what it opened: a file removed or replaced (restored from
        # a backup, say) goes on being served from the unlinked inode, and a connection opened
        # while the file was read-only stays read-only after it is writable again (and one
        # opened read-write would go on writing its WAL beside a file that became read-only).
        # So a connection whose file is no longer what it opened is dropped and a new one
        # opened, which fails with "unavailable" while there is no file. Costs one stat a checkout.
        if record.info.get(_FILE_STATE) != _file_state(path):
            raise sa_exc.DisconnectionError("the SQLite database file changed since it was opened")

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


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

    async def append_pending(self) -> None:
        """Chain and write the events recorded so far (Database.write does so at commit)."""
        await append_events(self.session, self.actor.user_id, self.request_id, self.pending)


class Database:
    def __init__(self, settings: Settings, **engine_kwargs: Any) -> None:
        self.settings = settings
        self.engine = make_engine(settings, existing_file=True, **engine_kwargs)
        self.is_sqlite = settings.is_sqlite
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        write_engine = self.engine.execution_options(**{_WRITE: True})
        self._write = async_sessionmaker(write_engine, expire_on_commit=False, autoflush=False)
        slots = settings.write_concurrency or (1 if self.is_sqlite else 2)
        # A writer waits for a slot as long as it would for the lock or a connection.
        wait = settings.sqlite_busy_timeout_ms / 1000 if self.is_sqlite else settings.pool_timeout_seconds
        self.write_slots = WriteSlots(slots, wait)
        # Read replicas (CLAIMSDB_READ_DATABASE_URLS), and the request whose reads this copy
        # routes (None: every read goes to the primary).
        self.replicas = _replicas(settings, **engine_kwargs)
        self.route: ReadRoute | None = None

    def routed(self, route: ReadRoute) -> Database:
        """This database as one request uses it: reads go where `route` says (api/store/replicas.py)
        and writes tell `route` the primary's WAL position. Shares engines and pools."""
        if self.replicas is None:
            return self
        request_db = copy.copy(self)
        request_db.route = route
        return request_db

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        session = None
        if self.route is not None and self.replicas is not None:
            session = await self.replicas.session(self.route)
        async with session or self._read() as session:
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read session that sees one consistent state of the database however long it runs
        and however many statements it makes (an export, a release): one transaction, REPEATABLE
        READ and READ ONLY on PostgreSQL; on SQLite (WAL) a transaction's reads all see the
        snapshot its first read took."""
        async with self._read() as session, session.begin():
            if not self.is_sqlite:
                await session.connection(
                    execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                )
            yield session

    @asynccontextmanager
    async def write(self, actor: Actor, request_id: str | None = None) -> AsyncIterator[Writer]:
        """A write transaction: commits with its audit events on success, rolls back otherwise.
        It runs once one of the worker's write slots is free (api/store/write_slots.py)."""
        async with self.write_slots.taken(), self._write() as session:
            writer = Writer(session, actor, request_id or uuid.uuid4().hex)
            try:
                async with session.begin():
                    yield writer
                    await session.flush()
                    await writer.append_pending()
                if self.route is not None:
                    self.route.wrote(await primary_lsn(session))
            except OperationalError as exc:
                if self.is_sqlite and "locked" in str(exc.orig).lower():
                    raise DatabaseBusy("the database is busy with another write; retry") from exc
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.replicas is not None:
            await self.replicas.dispose()
