"""Running the workbench's GraphQL documents in-process, as the signed-in user.

The pages are clients of the API like any other: the context is built by the same function the
HTTP endpoint uses (api/graphql/context.py's `build_context`), from the page's request with the
session's token as its `Authorization` header, and each document runs through the same schema
object (`schema.execute`), so visibility, four eyes, versions and every limit are the API's. Each
operation gets fresh DataLoaders, as each request to /graphql would.

Errors are sorted by what a page can do with them: an outage is a 503 page, a token that stopped
working ends the session, FORBIDDEN is a 403 page, a masked internal error is a 500 page; every
other error (an unknown name in a filter, a bad value) is the page's to show next to its form.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import strawberry
from starlette.requests import Request

from api.graphql.context import Context, build_context
from api.graphql.errors import SERVICE_UNAVAILABLE
from api.graphql.loaders import Loaders
from api.settings import Settings
from api.store.db import Database
from api.store.errors import DatabaseUnavailable
from api.web.documents import Documents

_log = logging.getLogger("claimsdb.web")
MASKED = "Internal server error."


class Outage(Exception):
    """The database cannot answer now (503, retry later)."""


class SignedOut(Exception):
    """The session's token is no longer valid (revoked, expired, user deactivated)."""


class Forbidden(Exception):
    """The API refused the viewer (e.g. a reader opening the review queue)."""


class Failure(Exception):
    """The API failed unexpectedly (masked internal error)."""


@dataclass(frozen=True)
class ApiError:
    message: str
    code: str | None = None


@dataclass
class Result:
    data: dict[str, Any]
    errors: list[ApiError] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        return [e.message for e in self.errors]


def _with_token(request: Request, token: str | None) -> Request:
    """The page's request as an API request: its own Authorization header (none from outside
    counts) replaced by the session's token."""
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"authorization"]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    return Request({**request.scope, "headers": headers})


class Api:
    """The GraphQL API as one visitor sees it."""

    def __init__(self, schema: strawberry.Schema, documents: Documents, context: Context) -> None:
        self.schema = schema
        self.documents = documents
        self.context = context

    @classmethod
    async def open(
        cls,
        schema: strawberry.Schema,
        documents: Documents,
        db: Database,
        settings: Settings,
        request: Request,
        token: str | None,
    ) -> Api:
        try:
            context = await build_context(db, settings, _with_token(request, token))
        except DatabaseUnavailable as outage:
            raise Outage(str(outage)) from outage
        if token is not None and context.auth_problem is not None:
            raise SignedOut(context.auth_problem)
        return cls(schema, documents, context)

    @property
    def request_id(self) -> str:
        return self.context.request_id

    async def run(self, operation: str, **variables: Any) -> Result:
        document = self.documents[operation]
        context = dataclasses.replace(self.context, loaders=Loaders(self.context.db))
        result = await self.schema.execute(
            document.text, variable_values=variables, context_value=context, operation_name=operation
        )
        errors: list[ApiError] = []
        for error in result.errors or ():
            code = (error.extensions or {}).get("code")
            if code == SERVICE_UNAVAILABLE:
                raise Outage(error.message)
            if code == "UNAUTHENTICATED":
                raise SignedOut(error.message)
            if code == "FORBIDDEN":
                raise Forbidden(error.message)
            if error.message == MASKED:
                _log.error("%s failed (request %s)", operation, self.request_id)
                raise Failure(f"{operation} failed")
            errors.append(ApiError(error.message, code))
        return Result(result.data or {}, errors)
