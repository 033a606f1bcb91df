"""Write budgets: how many mutations a key (an API token, a client address) may run a minute.

Kept by the `limits` library with its moving-window strategy: a write is allowed while the key
has made fewer than N writes in the last 60 seconds, so a budget never allows more than N in any
minute, and the time until the next write is allowed is when the oldest of those N turns a
minute old. The windows live in Redis when CLAIMSDB_REDIS_URL is set, so every worker process and
every host behind a load balancer draw from one budget per key; otherwise in this process's
memory (one budget per worker).

When Redis cannot be reached, the budgets fall back to this process's memory for a few seconds
at a time (a warning is logged): writes stay limited, per worker, rather than failing or going
unlimited while Redis is away.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError

from api.settings import SettingsError, normalize_redis_url

_log = logging.getLogger("claimsdb.rate_limits")
# After Redis failed, how long the process keeps to its own memory before trying Redis again.
REDIS_RETRY_SECONDS = 5.0
# Redis must answer quickly: a write waits for it.
REDIS_TIMEOUT_SECONDS = 1.0
INSTALL_HINT = "pip install 'redis>=5.2' (a dependency of claimsdb: reinstall it)"


@dataclass(frozen=True)
class Budget:
    """`per_minute` writes a minute for each key of one kind ("token" or "address")."""

    per: str
    per_minute: int

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerMinute(self.per_minute)


@dataclass(frozen=True)
class Standing:
    """A key's budget after a request: what the RateLimit-* headers say."""

    limit: int
    remaining: int
    reset_seconds: int  # until the oldest write in the window turns a minute old (0: no writes)


class _Strategies:
    def __init__(self, storage: Storage) -> None:
        self.window = MovingWindowRateLimiter(storage)
        self.once = FixedWindowRateLimiter(storage)


def redis_storage(redis_url: str, key_prefix: str) -> Storage:
    try:
        from limits.aio.storage import RedisStorage

        return RedisStorage(
            normalize_redis_url(redis_url),
            implementation="redispy",
            key_prefix=key_prefix,
            wrap_exceptions=True,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
    except SettingsError:
        raise
    except Exception as exc:  # the redis package missing (limits' ConfigurationError), a bad URL
        if "redis" in str(exc).lower() and ("install" in str(exc).lower() or "dependenc" in str(exc).lower()):
            raise SettingsError(f"CLAIMSDB_REDIS_URL needs the redis package: {INSTALL_HINT}") from None
        raise SettingsError(f"CLAIMSDB_REDIS_URL cannot be used: {exc}") from None


class WriteBudgets:
    """The budgets of every key, in Redis (shared) or in memory (this process)."""

    # A bad token is charged to its address once per this item's window, however often it is sent.
    ONCE = RateLimitItemPerHour(1)

    def __init__(self, redis_url: str | None = None, key_prefix: str = "claimsdb") -> None:
        self._memory = _Strategies(MemoryStorage())
        self._shared = _Strategies(redis_storage(redis_url, key_prefix)) if redis_url else None
        self._redis_down_until = 0.0
        self.shared = self._shared is not None

    def _strategies(self) -> _Strategies:
        if self._shared is not None and time.monotonic() >= self._redis_down_until:
            return self._shared
        return self._memory

    def _redis_failed(self, exc: Exception) -> None:
        if time.monotonic() >= self._redis_down_until:
            _log.warning(
                "Redis is unavailable for the write budgets (%s); keeping them in this process's memory "
                "for %.0f s",
                exc,
                REDIS_RETRY_SECONDS,
            )
        self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS

    async def take(self, budget: Budget, key: str, cost: int = 1) -> bool:
        """Spend `cost` writes of `key`'s budget: False (nothing spent) when it has not that many."""
        strategies = self._strategies()
        try:
            return await strategies.window.hit(budget.item, budget.per, key, cost=cost)
        except StorageError as exc:
            self._redis_failed(exc)
            return await self._memory.window.hit(budget.item, budget.per, key, cost=cost)

    async def has_room(self, budget: Budget, key: str) -> bool:
        strategies = self._strategies()
        try:
            return await strategies.window.test(budget.item, budget.per, key)
        except StorageError as exc:
            self._redis_failed(exc)
            return await self._memory.window.test(budget.item, budget.per, key)

    async def first_time(self, what: str, *key: str) -> bool:
        """True the first time (within an hour) this is called with `what` and `key`."""
        strategies = self._strategies()
        try:
            return await strategies.once.hit(self.ONCE, what, *key)
        except StorageError as exc:
            self._redis_failed(exc)
            return await self._memory.once.hit(self.ONCE, what, *key)

    async def standing(self, budget: Budget, key: str) -> Standing:
        strategies = self._strategies()
        try:
            stats = await strategies.window.get_window_stats(budget.item, budget.per, key)
        except StorageError as exc:
            self._redis_failed(exc)
            stats = await self._memory.window.get_window_stats(budget.item, budget.per, key)
        remaining = max(0, stats.remaining)
        used = remaining < budget.per_minute
        reset = max(1, math.ceil(stats.reset_time - time.time())) if used else 0
        return Standing(budget.per_minute, remaining, reset)
