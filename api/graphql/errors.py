"""Errors a client can cause, reported as GraphQL errors with a machine-readable code.

Anything else raised while resolving is a bug or an outage: the schema masks it (MaskErrors) so
no internals reach the client, and it is logged on the server.
"""

from __future__ import annotations

from graphql import GraphQLError


class ClientError(GraphQLError):
    """A request the client can fix; never masked."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message, extensions={"code": code})


def unauthenticated(message: str = "a valid API token is required") -> ClientError:
    return ClientError(message, "UNAUTHENTICATED")


def forbidden(message: str) -> ClientError:
    return ClientError(message, "FORBIDDEN")


def should_mask(error: GraphQLError) -> bool:
    """Mask errors that came from an unexpected exception; keep syntax, validation and client
    errors, which carry no internals."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, ClientError | GraphQLError)
