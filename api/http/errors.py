"""JSON for every error the app answers outside GraphQL: an unknown path (404), a method a route
does not take (405, with its `Allow`), any other HTTP refusal, and an unexpected exception (500,
logged, nothing of it in the answer). The same shape as a GraphQL error, with a code."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}
_MESSAGES = {
    404: "there is nothing at this path; the API is at /graphql",
    405: "this path does not take that method",
}


def json_error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = _MESSAGES.get(status, exc.detail)
    if status == 405 and exc.headers and "Allow" in exc.headers:
        message = f"{message}; it takes {exc.headers['Allow']}"
    code = HTTP_ERROR_CODES.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST")
    return json_error(status, message, code, dict(exc.headers or {}))


async def unexpected_exception(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware logs the exception (it re-raises it after this answer).
    return json_error(500, "Internal server error.", "INTERNAL_SERVER_ERROR")


def exception_handlers() -> dict[Any, Any]:
    """For Starlette(exception_handlers=...)."""
    return {HTTPException: http_exception, Exception: unexpected_exception}
