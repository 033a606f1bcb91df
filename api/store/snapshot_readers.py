"""More connections that read the very snapshot a session reads, so that a long read (an export)
can keep more than one core of the database server busy.

PostgreSQL can do it: a REPEATABLE READ transaction exports its snapshot (pg_export_snapshot) and
another transaction imports it (SET TRANSACTION SNAPSHOT) before its first query; both then see
exactly the same data however long they run. SQLite cannot hand a snapshot to another connection,
so there a session reads alone (and the export's chunks come one after another).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

# What pg_export_snapshot returns ('00000003-0000001B-1'); checked before it is written into SQL
# (SET TRANSACTION SNAPSHOT takes a literal, not a parameter).
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


@asynccontextmanager
async def sharing_readers(connection: AsyncConnection, helpers: int) -> AsyncIterator[list[AsyncConnection]]:
    """`connection` and up to `helpers` more connections reading its snapshot (none on SQLite,
    nor when `connection`'s transaction does not keep one snapshot: READ COMMITTED takes a new
    one per statement). The helpers' transactions end when the context does."""
    readers = [connection]
    if connection.dialect.name == "sqlite" or helpers < 1:
        yield readers
        return
    isolation = await connection.scalar(sa.text("SELECT current_setting('transaction_isolation')"))
    if isolation not in ("repeatable read", "serializable"):
        yield readers
        return
    snapshot = str(await connection.scalar(sa.text("SELECT pg_export_snapshot()")))
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    async with AsyncExitStack() as stack:
        for _ in range(helpers):
            helper = await stack.enter_async_context(connection.engine.connect())
            await helper.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            await stack.enter_async_context(helper.begin())
            await helper.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            readers.append(helper)
        yield readers
