"""A worker's write slots (api/store/write_slots.py): writers take turns, a writer that waits too
long is told "busy", and a write inside a write does not wait on itself."""

from __future__ import annotations

import asyncio

import pytest

from api.settings import Settings
from api.store.errors import DatabaseBusy
from api.store.write_slots import WriteSlots


async def test_no_more_writers_than_slots_run_at_once() -> None:
    slots = WriteSlots(2, timeout_seconds=5)
    running = peak = 0

    async def write() -> None:
        nonlocal running, peak
        async with slots.taken():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(write() for _ in range(10)))
    assert peak == 2


async def test_a_writer_that_waits_past_the_timeout_is_told_busy() -> None:
    slots = WriteSlots(1, timeout_seconds=0.05)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with slots.taken():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    with pytest.raises(DatabaseBusy, match="busy"):
        async with slots.taken():
            pass
    release.set()
    await holder
    async with slots.taken():  # the slot came back
        pass


async def test_a_write_inside_a_write_takes_no_second_slot() -> None:
    slots = WriteSlots(1, timeout_seconds=0.05)
    async with slots.taken(), slots.taken():  # would wait on itself, then be told busy
        pass


async def test_the_database_gives_sqlite_one_slot_and_postgresql_two(tmp_path) -> None:
    from api.store.db import Database

    sqlite = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3"))
    assert sqlite.write_slots.slots == 1
    assert sqlite.write_slots.timeout_seconds == 5.0  # the busy timeout's default
    await sqlite.dispose()
    chosen = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", write_concurrency=3))
    assert chosen.write_slots.slots == 3
    await chosen.dispose()
    postgres = Database(Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    assert postgres.write_slots.slots == 2
    await postgres.dispose()
