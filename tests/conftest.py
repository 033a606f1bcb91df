"""Database fixtures, parametrised over SQLite and PostgreSQL (engineering.md, rule 9).

Each backend gets template databases built once per session: one migrated to head, and (only
when a test asks for `seeded_db`) one with the seeds loaded. Every test then gets its own fresh
copy of a template: a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL. So no
test runs migrations or loads seeds itself, and no test sees another's rows.

PostgreSQL runs against the server named by CLAIMSDB_TEST_POSTGRES_URL, in databases this
session creates (`claimsdb_tpl_<pid>...`, `claimsdb_t_<pid>_<n>`) and drops again; it never
touches any other database on that server. Without the variable the PostgreSQL parameters are
skipped, except in CI (CI=true), where they must run and a missing URL or server fails.

Fixtures (function-scoped, ids "sqlite" and "postgresql", so `-k sqlite` picks one backend):
- `backend`: "sqlite" or "postgresql".
- `settings`: Settings for this test's fresh database (a copy of the seeded template when the
  test also uses `seeded_db`, else of the migrated one; one database per test either way).
- `db`: a Database on that fresh migrated database.
- `seeded_db`: a Database on a fresh copy of the seeded template.
- `empty_settings`: Settings for a fresh, EMPTY database (not migrated), for migration tests.
- `api`, `world`: the curation tests' HTTP client of the app over `db`, and its users and
  vocabulary (tests/curation_helpers.py); a module may define its own `world` instead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
from curation_helpers import Api, World, build_world, open_api
from sqlalchemy.engine import URL

from api.settings import Settings, SettingsError, normalize_database_url
from api.store.db import Database
from api.store.migrations import upgrade

POSTGRES_ENV = "CLAIMSDB_TEST_POSTGRES_URL"
SKIP_REASON = f"{POSTGRES_ENV} is not set; PostgreSQL tests skipped"
BACKENDS = ("sqlite", "postgresql")

MIGRATED = "migrated"
SEEDED = "seeded"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _postgres_unavailable(message: str) -> NoReturn:
    """Skip on a laptop; fail in CI, where the PostgreSQL tests must run."""
    if in_ci():
        pytest.fail(f"CI=true requires the PostgreSQL tests to run, but {message}", pytrace=False)
    pytest.skip(message)


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


# --- SQLite -------------------------------------------------------------------------------


@dataclass
class SqliteServer:
    """Databases as files in one temporary directory."""

    root: Path
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def new_path(self, stem: str) -> Path:
        return self.root / f"{stem}_{next(self._counter)}.sqlite3"

    @staticmethod
    def settings_for(path: Path) -> Settings:
        return Settings(database_url=f"sqlite+aiosqlite:///{path}")

    @staticmethod
    def remove(path: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    @staticmethod
    def seal(path: Path) -> None:
        """Fold the WAL into the main file and leave WAL mode, so one file copy is the whole
        database (each test's engine turns WAL back on when it connects)."""
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.execute("PRAGMA journal_mode=DELETE")
        finally:
            connection.close()
        for suffix in ("-wal", "-shm"):
            leftover = path.with_name(path.name + suffix)
            if leftover.exists():
                raise RuntimeError(f"SQLite template {path} still has a {suffix} file")


# --- PostgreSQL ---------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """The test server: databases created through an admin connection to the base database."""

    base_url: URL
    prefix: str = field(default_factory=lambda: f"claimsdb_t_{os.getpid()}")
    created: set[str] = field(default_factory=set)
    _counter: Iterator[int] = field(default_factory=itertools.count)
    _admin: asyncpg.Connection | None = None
    _unreachable: str | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def from_env(cls) -> PostgresServer:
        """The server named by the environment; skips (fails in CI) when there is none."""
        raw = os.environ.get(POSTGRES_ENV, "").strip()
        if not raw:
            if in_ci():
                _postgres_unavailable(f"{POSTGRES_ENV} is not set")
            pytest.skip(SKIP_REASON)
        try:
            url = normalize_database_url(raw)
        except SettingsError as exc:
            pytest.fail(f"{POSTGRES_ENV}: {exc}", pytrace=False)
        if url.get_backend_name() != "postgresql":
            pytest.fail(
                f"{POSTGRES_ENV} must name a PostgreSQL server, not {url.drivername}",
                pytrace=False,
            )
        return cls(url)

    def url_for(self, database: str) -> URL:
        return self.base_url.set(database=database)

    def settings_for(self, database: str) -> Settings:
        return Settings(
            database_url=self.url_for(database).render_as_string(hide_password=False),
            pool_size=2,
        )

    async def admin(self) -> asyncpg.Connection:
        if self._unreachable is not None:  # tried once already: do not wait on it per test
            _postgres_unavailable(self._unreachable)
        if self._admin is None or self._admin.is_closed():
            dsn = self.base_url.set(drivername="postgresql").render_as_string(hide_password=False)
            try:
                self._admin = await asyncpg.connect(dsn, timeout=10)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                self._unreachable = (
                    f"cannot connect to PostgreSQL at {_safe(self.base_url)} "
                    f"({type(exc).__name__}: {exc}); start the server or fix {POSTGRES_ENV}"
                )
                _postgres_unavailable(self._unreachable)
        assert self._admin is not None
        return self._admin

    async def create(self, name: str, template: str | None = None) -> str:
        async with self._lock:
            admin = await self.admin()
            statement = f'CREATE DATABASE "{name}"'
            if template is not None:
                statement += f' TEMPLATE "{template}"'
                # PostgreSQL 15 copies through the WAL by default; copying the files is several
                # times faster for a template this small.
                if admin.get_server_version().major >= 15:
                    statement += " STRATEGY FILE_COPY"
            try:
                await admin.execute(statement)
            except asyncpg.DuplicateDatabaseError:
                pytest.fail(
                    f"database {name} already exists on {_safe(self.base_url)}, probably left "
                    "by an earlier test run that was killed; drop it by hand",
                    pytrace=False,
                )
        self.created.add(name)
        return name

    async def create_test_database(self, template: str | None) -> str:
        return await self.create(f"{self.prefix}_{next(self._counter)}", template)

    async def drop(self, name: str) -> None:
        if name not in self.created:  # never drop what this session did not create
            raise RuntimeError(f"refusing to drop database {name}: this test session did not create it")
        async with self._lock:
            admin = await self.admin()
            statement = f'DROP DATABASE IF EXISTS "{name}"'
            # FORCE (PostgreSQL 13+) ends connections a test left open, which would block the drop.
            if admin.get_server_version().major >= 13:
                statement += " WITH (FORCE)"
            await admin.execute(statement)
        self.created.discard(name)

    async def close(self) -> None:
        for name in sorted(self.created):
            await self.drop(name)
        if self._admin is not None and not self._admin.is_closed():
            await self._admin.close()


# --- templates ----------------------------------------------------------------------------


async def _load_seeds(settings: Settings) -> None:
    # Imported here: the seeding module may not exist yet while other tests already run.
    from api.store.seeding import load_seeds

    database = Database(settings)
    try:
        await load_seeds(database, settings.seeds_dir)
    finally:
        await database.dispose()


class Databases:
    """Per-backend templates, built on first use, and fresh per-test databases copied from them."""

    def __init__(self, tmp_dir: Path) -> None:
        self.sqlite = SqliteServer(tmp_dir)
        self._postgres: PostgresServer | None = None
        self._templates: dict[tuple[str, str], str] = {}

    def postgres(self) -> PostgresServer:
        """Read from the environment on first use, so SQLite-only runs never look at it."""
        if self._postgres is None:
            self._postgres = PostgresServer.from_env()
        return self._postgres

    async def template(self, backend: str, kind: str) -> str:
        """The template's file path (SQLite) or database name (PostgreSQL)."""
        key = (backend, kind)
        if key not in self._templates:
            self._templates[key] = await self._build_template(backend, kind)
        return self._templates[key]

    async def _build_template(self, backend: str, kind: str) -> str:
        if backend == "sqlite":
            if kind == MIGRATED:
                path = self.sqlite.new_path("template_migrated")
                await asyncio.to_thread(upgrade, self.sqlite.settings_for(path))
            else:
                path = self.sqlite.new_path("template_seeded")
                await asyncio.to_thread(shutil.copy, await self.template(backend, MIGRATED), path)
                await _load_seeds(self.sqlite.settings_for(path))
            await asyncio.to_thread(self.sqlite.seal, path)
            return str(path)
        postgres = self.postgres()
        tpl = f"claimsdb_tpl_{os.getpid()}"
        if kind == MIGRATED:
            name = await postgres.create(tpl)
            await asyncio.to_thread(upgrade, postgres.settings_for(name))
        else:
            name = await postgres.create(f"{tpl}_seeded", await self.template(backend, MIGRATED))
            await _load_seeds(postgres.settings_for(name))
        return name

    async def fresh(self, backend: str, kind: str | None) -> tuple[Settings, str]:
        """A new database copied from the `kind` template, or empty when kind is None; returns
        its settings and the handle `discard` takes."""
        if backend == "sqlite":
            path = self.sqlite.new_path("test")
            if kind is not None:
                await asyncio.to_thread(shutil.copy, await self.template(backend, kind), path)
            return self.sqlite.settings_for(path), str(path)
        postgres = self.postgres()
        template = await self.template(backend, kind) if kind is not None else None
        name = await postgres.create_test_database(template)
        return postgres.settings_for(name), name

    async def discard(self, backend: str, handle: str) -> None:
        if backend == "sqlite":
            await asyncio.to_thread(self.sqlite.remove, Path(handle))
        else:
            await self.postgres().drop(handle)

    async def close(self) -> None:
        if self._postgres is not None:
            await self._postgres.close()


@pytest.fixture(scope="session")
async def _databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    databases = Databases(tmp_path_factory.mktemp("claimsdb"))
    try:
        yield databases
    finally:
        await databases.close()


async def _fresh(databases: Databases, backend: str, kind: str | None) -> AsyncIterator[Settings]:
    settings, handle = await databases.fresh(backend, kind)
    try:
        yield settings
    finally:
        await databases.discard(backend, handle)


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def settings(
    backend: str, _databases: Databases, request: pytest.FixtureRequest
) -> AsyncIterator[Settings]:
    kind = SEEDED if "seeded_db" in request.fixturenames else MIGRATED
    async for value in _fresh(_databases, backend, kind):
        yield value


@pytest.fixture
async def empty_settings(backend: str, _databases: Databases) -> AsyncIterator[Settings]:
    async for value in _fresh(_databases, backend, None):
        yield value


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def seeded_db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many query operations the compiled read path answered, each checked against the
    resolvers (tests/graphql_client.py; imported under two names by different test modules)."""
    import sys

    for name in ("graphql_client", "tests.graphql_client"):
        client = sys.modules.get(name)
        tally = getattr(client, "TALLY", None)
        if tally is not None and (tally.compiled or tally.fell_back):
            terminalreporter.write_line(f"compiled read path ({name}): {tally.summary()}")


# --- the curation tests' API client and people ------------------------------------------------


@pytest.fixture
async def api(settings: Settings, db: Database) -> AsyncIterator[Api]:
    """The app (production settings) over this test's database, called through httpx in-process
    (tests/curation_helpers.py)."""
    async with open_api(settings, db) as client:
        yield client


@pytest.fixture
async def world(db: Database) -> World:
    """Users of every role with tokens, and a source and vocabulary to write claims against."""
    return await build_world(db)
