"""Errors a user can cause, raised by the store. The GraphQL layer turns them into `userErrors`; the CLI
prints them. UserError and its codes are declared in schema.errors (the pure validators return them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from schema.errors import Ref, UserError, UserErrorCode

__all__ = [
    "DatabaseBusy",
    "DatabaseUnavailable",
    "Ref",
    "StoreError",
    "UserError",
    "UserErrorCode",
    "invalid",
]


@dataclass
class StoreError(Exception):
    """Raised by a store command; nothing it was doing is kept (the transaction rolls back)."""

    errors: list[UserError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join((f"{'.'.join(e.field)}: " if e.field else "") + e.message for e in self.errors)

    @classmethod
    def one(cls, code: UserErrorCode, message: str, field: Sequence[str] = ()) -> StoreError:
        return cls([UserError(code, message, tuple(field))])

    @classmethod
    def naming(cls, code: UserErrorCode, field: Sequence[str], *parts: str | Ref) -> StoreError:
        """One error whose message names other objects (schema.errors.Ref)."""
        return cls([UserError.naming(code, field, *parts)])


def invalid(message: str, *field: str) -> StoreError:
    return StoreError.one(UserErrorCode.INVALID, message, field)


class DatabaseBusy(Exception):
    """The database could not take the write in time (SQLite lock held); safe to retry."""


class DatabaseUnavailable(Exception):
    """The database cannot serve now: unreachable, refusing connections, its file missing or
    unopenable, (`read_only`) refusing writes, or (`busy`) every pooled connection in use by other
    requests for longer than the pool timeout. Neither the client's fault nor a bug; the API
    answers it with SERVICE_UNAVAILABLE (HTTP 503), and recovers by itself when the database does."""

    UNAVAILABLE = "the database is unavailable; retry later"
    READ_ONLY = "the database is read-only: reads work, but nothing can be written now; retry later"
    BUSY = "the server is busy: every database connection stayed in use by other requests; retry later"

    def __init__(self, *, read_only: bool = False, busy: bool = False) -> None:
        super().__init__(self.READ_ONLY if read_only else self.BUSY if busy else self.UNAVAILABLE)
        self.read_only = read_only
        self.busy = busy

    @property
    def reason(self) -> str:
        """extensions.reason of the error the API answers with."""
        return "read-only" if self.read_only else "busy" if self.busy else "unavailable"
