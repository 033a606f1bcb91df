"""CLAIMSDB_PG_STATEMENT_CACHE_SIZE: 0 for PgBouncer in transaction mode (docs/scaling.md).

Behind PgBouncer a client's next transaction may run on another server connection, so a
statement prepared and cached on one is not there on the next, and a numbered name
(__asyncpg_stmt_1__) prepared by one client can already exist on the server connection another
is given. With the setting at 0 no statement is cached (asyncpg's cache and SQLAlchemy's), and the
statements SQLAlchemy's dialect still prepares carry unique names. SQLite has no such cache and
ignores the setting.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from api.settings import Settings
from api.store.db import Database, statement_cache_options

NUMBERED = re.compile(r"__asyncpg_stmt_[0-9a-f]+__")  # asyncpg counts in hex
QUERY = "SELECT count(*) FROM claim WHERE id > :n"


async def _driver(session: Any) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.dbapi_connection


@pytest.mark.parametrize("size", [0, 100])
async def test_the_statement_cache_follows_the_setting(settings: Settings, backend: str, size: int) -> None:
    db = Database(settings.model_copy(update={"pg_statement_cache_size": size}))
    try:
        async with db.read() as session:
            for n in range(5):  # the same statement again and again: what a cache would keep
                assert (await session.execute(text(QUERY), {"n": n})).scalar() == 0
            if backend == "sqlite":
                return
            adapter = await _driver(session)
            asyncpg_connection = adapter.driver_connection
            assert asyncpg_connection._stmt_cache.get_max_size() == size
            names = (await session.execute(text("SELECT name FROM pg_prepared_statements"))).scalars().all()
            if size == 0:
                assert adapter._prepared_statement_cache is None
                # Nothing numbered, which another PgBouncer client could have taken already.
                assert not [name for name in names if NUMBERED.fullmatch(name)], names
            else:
                assert adapter._prepared_statement_cache is not None
                assert any(NUMBERED.fullmatch(name) for name in names), names
    finally:
        await db.dispose()


def test_a_zero_cache_names_each_statement_uniquely() -> None:
    url = Settings(database_url="postgresql://root@127.0.0.1/db").url
    options = statement_cache_options(url, 0)
    assert options["statement_cache_size"] == 0 and options["prepared_statement_cache_size"] == 0
    names = {options["prepared_statement_name_func"]() for _ in range(100)}
    assert len(names) == 100
    psycopg = Settings(database_url="postgresql+psycopg://root@127.0.0.1/db").url
    assert statement_cache_options(psycopg, 0) == {"prepare_threshold": None}
