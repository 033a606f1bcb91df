"""How many write transactions one API worker runs at once; the others wait their turn.

A write costs a worker several times a read's CPU (validation, the audit hash, the aggregates'
triggers), and one worker's requests share one event loop: sixteen writers at once left each
reader a sixteenth of the loop, and a conflicts page took 0.4-0.7 s (tests/test_load.py). Writes
gain nothing from running side by side anyway: SQLite takes one writer at a time, and on
PostgreSQL every write ends by appending to the one audit chain, whose head it locks. So a
writer waits here, costing nothing, until a slot is free; readers keep their share meanwhile.

A writer that waits longer than the store's write timeout (SQLite's busy timeout, PostgreSQL's
pool timeout) gets DatabaseBusy, the same "busy, retry" answer a held SQLite lock gives. A write
opened inside another in the same task (none does today) takes no second slot, so it cannot wait
on itself.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from api.store.errors import DatabaseBusy

# Whether this task already holds a slot (of any WriteSlots).
_HOLDING: ContextVar[bool] = ContextVar("claimsdb_holding_write_slot", default=False)


class WriteSlots:
    def __init__(self, slots: int, timeout_seconds: float) -> None:
        self.slots = slots
        self.timeout_seconds = timeout_seconds
        # One semaphore per event loop (a Database outlives a test's loop; asyncio's primitives
        # belong to the loop they first wait on).
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.slots)
        return semaphore

    @asynccontextmanager
    async def taken(self) -> AsyncIterator[None]:
        if _HOLDING.get():
            yield
            return
        semaphore = self._semaphore()
        try:
            await asyncio.wait_for(semaphore.acquire(), self.timeout_seconds)
        except TimeoutError:
            raise DatabaseBusy("the database is busy with other writes; retry") from None
        token = _HOLDING.set(True)
        try:
            yield
        finally:
            _HOLDING.reset(token)
            semaphore.release()
