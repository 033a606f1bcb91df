"""Whether the compiled path answered an operation, and if not why, for whoever listens.

The test client listens to every operation it runs (to compare the two paths, and to show that
the compiled one was really taken); a fallback's reason is also logged at DEBUG on
"claimsdb.graphql.compiled".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger("claimsdb.graphql.compiled")


@dataclass(frozen=True)
class Outcome:
    compiled: bool
    reason: str  # why it fell back ("" when compiled)


_LISTENERS: ContextVar[list[Outcome] | None] = ContextVar("claimsdb_compiled_outcomes", default=None)


@contextmanager
def outcomes() -> Iterator[list[Outcome]]:
    """Collects the outcome of each query operation executed in this context (this task, or
    tasks it starts) while the block runs."""
    collected: list[Outcome] = []
    token = _LISTENERS.set(collected)
    try:
        yield collected
    finally:
        _LISTENERS.reset(token)


def report(outcome: Outcome) -> None:
    if not outcome.compiled:
        log.debug("query operation not compiled: %s", outcome.reason)
    listener = _LISTENERS.get()
    if listener is not None:
        listener.append(outcome)
