"""Read replicas: which database a request's reads run on.

With CLAIMSDB_READ_DATABASE_URLS set, a request that only runs queries reads from one replica
(PostgreSQL streaming standbys), chosen round robin and kept for the whole request, so its reads
see one replica's state; a request that runs a mutation reads and writes the primary, so what a
mutation checks and returns is what it committed.

Read-your-writes: a session-pinned WAL position. After a request writes, the store reads the
primary's WAL position (pg_current_wal_lsn(), after the commit, so the commit is before it) and
the HTTP layer hands it to the client (api/http/read_your_writes.py: a cookie, and a header for
clients without cookies). A later query that carries it reads a replica only once that replica
has replayed up to it (pg_last_wal_replay_lsn()), waiting up to CLAIMSDB_REPLICA_WAIT_MS, else
it reads the primary. Chosen over "primary reads for a window after a write" because the
position is exact both ways: a replica that has caught up serves the client at once, and a
replica lagging longer than any fixed window still never shows the client an older state than
its own write. The client carries it, so it holds across stateless workers and hosts with
nothing shared between them. Clients that did not write get no such promise: they read
whatever a replica has replayed (typically milliseconds behind).

A replica that cannot be reached is logged and left out for CLAIMSDB_REPLICA_RETRY_SECONDS; its
reads go to the next replica, or to the primary when none is left.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

_log = logging.getLogger("claimsdb.replicas")

_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
# How often a query waiting for a replica to replay the client's write asks it again.
_POLL_SECONDS = 0.005


def parse_lsn(value: str | None) -> int | None:
    """A PostgreSQL WAL position ('16/B374D848') as a number, or None when `value` is not one."""
    if value is None:
        return None
    match = _LSN.fullmatch(value.strip())
    if match is None:
        return None
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass
class Replica:
    name: str  # host:port/database, for log lines (never the password)
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    down_until: float = 0.0


@dataclass
class ReadRoute:
    """How one request reads. Shared by every copy of the request's Database (Database.routed)."""

    # The request runs only queries (decided before it runs: api/graphql/context.py).
    replica_ok: bool = False
    # The client's last write: a replica serves it only once it has replayed this far.
    min_lsn: int | None = None
    # The primary's WAL position after this request's writes, for the client to carry.
    wrote_lsn: int | None = None
    # The replica this request reads, once chosen; `on_primary` once it reads the primary.
    replica: Replica | None = None
    on_primary: bool = False

    def use_primary(self) -> None:
        """From now on this request reads the primary (it turned out to run a mutation)."""
        self.replica_ok = False
        self.replica = None

    def wrote(self, lsn: int | None) -> None:
        if lsn is not None:
            self.wrote_lsn = max(lsn, self.wrote_lsn or 0)


@dataclass
class Replicas:
    members: list[Replica]
    wait_seconds: float
    retry_seconds: float
    # Tells an error of a replica that cannot serve (api.store.db.database_outage) from a bug.
    is_outage: Callable[[BaseException], bool]
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    @staticmethod
    def describe(url: URL) -> str:
        return f"{url.host}:{url.port or 5432}/{url.database}"

    def _candidates(self) -> list[Replica]:
        """The replicas not left out, in round-robin order from this request's turn."""
        start = next(self._turn)
        now = time.monotonic()
        count = len(self.members)
        rotated = [self.members[(start + i) % count] for i in range(count)]
        return [member for member in rotated if member.down_until <= now]

    async def session(self, route: ReadRoute) -> AsyncSession | None:
        """A session on the replica `route` reads, chosen on the request's first read; None when
        the request reads the primary (no replica reachable, or none caught up in time)."""
        if not route.replica_ok or route.on_primary:
            return None
        if route.replica is not None:
            return route.replica.sessions()
        deadline = time.monotonic() + self.wait_seconds
        for member in self._candidates():
            session = member.sessions()
            try:
                caught_up = await _caught_up(session, route.min_lsn, deadline)
            except Exception as exc:
                await session.close()
                if not self.is_outage(exc):
                    raise
                member.down_until = time.monotonic() + self.retry_seconds
                _log.warning(
                    "replica %s cannot serve reads (%s: %s); leaving it out for %g s",
                    member.name, type(exc).__name__, exc, self.retry_seconds,
                )  # fmt: skip
                continue
            if caught_up:
                route.replica = member
                return session
            await session.close()
        if route.min_lsn is not None:
            _log.info("no replica has replayed the client's write in time; reading the primary")
        route.on_primary = True
        return None

    async def dispose(self) -> None:
        for member in self.members:
            await member.engine.dispose()


async def _caught_up(session: AsyncSession, min_lsn: int | None, deadline: float) -> bool:
    """True once the session's replica has replayed up to `min_lsn` (at once without one: the
    connection it checked out, pinged by the pool, shows the replica is up); False at `deadline`."""
    if min_lsn is None:
        await session.connection()
        return True
    while True:
        # NULL on a server that is not in recovery: a primary is always up to date.
        replayed = (await session.execute(text("SELECT pg_last_wal_replay_lsn()::text"))).scalar()
        if replayed is None or (parse_lsn(replayed) or 0) >= min_lsn:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)


async def primary_lsn(session: AsyncSession) -> int | None:
    """The primary's WAL position now (read after a commit: the commit is before it)."""
    value = (await session.execute(text("SELECT pg_current_wal_lsn()::text"))).scalar()
    return parse_lsn(value)
