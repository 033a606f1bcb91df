"""Errors a client can cause, reported as GraphQL errors with a machine-readable code.

Anything else raised while resolving is a bug or an outage. An outage (the database down,
unreachable, its file gone or read-only; api.store.db.database_outage) is reported as
SERVICE_UNAVAILABLE with a message that says so, and the HTTP answer is 503 (api/app.py). A bug
is masked by the schema (MaskErrors) so no internals reach the client, and logged on the server.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError

from api.store.db import database_outage
from api.store.errors import DatabaseUnavailable

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"

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


def _report_outage(error: GraphQLError) -> bool:
    """Rewrite an error that came from a database outage, in place, into a SERVICE_UNAVAILABLE
    error naming the outage (and nothing of the driver's message); True when it did."""
    if (error.extensions or {}).get("code") == SERVICE_UNAVAILABLE:
        return True  # rewritten already (the schema looks at each error more than once)
    outage = database_outage(error.original_error) if error.original_error is not None else None
    if outage is None:
        return False
    _log.warning("database outage in %s: %r", error.path, error.original_error)
    error.message = str(outage)
    error.extensions = unavailable_extensions(outage)
    return True


def should_mask(error: GraphQLError) -> bool:
    """Mask errors that came from an unexpected exception; keep syntax, validation and client
    errors, which carry no internals. Outages are not masked but reworded (`_report_outage`):
    MaskErrors and the schema's error logging call this for every error, which makes it the one
    place that sees each error before the client does."""
    original = error.original_error
    if original is None:
        return False
    if _report_outage(error):
        return False
    return not isinstance(original, ClientError | GraphQLError)
