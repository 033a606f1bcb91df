"""Errors a client can cause, reported as GraphQL errors with a machine-readable code.

Every error a client sees carries `extensions.code` (api/graphql/error_codes.py gives one to those
graphql-core and Strawberry raise without). Anything raised while resolving that is not a
ClientError is a bug or an outage. The schema's `process_errors` (api/graphql/schema.py) takes
each error through three explicit steps: an outage (the database down, unreachable, its file
gone or read-only; api.store.db.database_outage) is rewritten as SERVICE_UNAVAILABLE with a
message that says so (`report_outage`), and the HTTP answer is 503 (api/app.py); a bug
(`should_mask`) is logged with its traceback and masked (`mask`), so no internals reach the
client; then every error gets its code.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError

from api.store.db import database_outage
from api.store.errors import DatabaseUnavailable

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
MASKED_MESSAGE = "Internal server error."

_log = logging.getLogger("claimsdb.graphql")


class ClientError(GraphQLError):
    """A request the client can fix; never masked."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message, extensions={"code": code})


def unauthenticated(message: str = "a valid API token is required") -> ClientError:
    return ClientError(message, "UNAUTHENTICATED")


def forbidden(message: str) -> ClientError:
    return ClientError(message, "FORBIDDEN")


def unavailable_extensions(outage: DatabaseUnavailable) -> dict[str, str]:
    return {"code": SERVICE_UNAVAILABLE, "reason": outage.reason}


def error_code(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def report_outage(error: GraphQLError) -> bool:
    """Rewrite an error that came from a database outage, in place, into a SERVICE_UNAVAILABLE
    error naming the outage (and nothing of the driver's message); True when it is one."""
    if error_code(error) == SERVICE_UNAVAILABLE:
        return True  # rewritten already
    outage = database_outage(error.original_error) if error.original_error is not None else None
    if outage is None:
        return False
    _log.warning("database outage in %s: %r", error.path, error.original_error)
    error.message = str(outage)
    error.extensions = unavailable_extensions(outage)
    return True


def should_mask(error: GraphQLError) -> bool:
    """Mask errors that came from an unexpected exception and are not masked yet; keep syntax,
    validation and client errors, which carry no internals, and outages, which `report_outage`
    has reworded."""
    original = error.original_error
    if original is None or error_code(error) in (SERVICE_UNAVAILABLE, INTERNAL_SERVER_ERROR):
        return False
    return not isinstance(original, ClientError | GraphQLError)


def mask(error: GraphQLError) -> None:
    """Replace, in place, what an unexpected error would tell the client (the exception stays
    on `original_error` for the log, never in the answer)."""
    error.message = MASKED_MESSAGE
    error.extensions = {"code": INTERNAL_SERVER_ERROR}
