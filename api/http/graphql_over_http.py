"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): the answer's media type,
status code and `data` entry, for the GraphQL endpoint of api/app.py.

- The answer is in the JSON media type the client prefers (media.py).
- With `application/graphql-response+json`, a request the server refused before running it (a
  syntax or validation error, a limit, variables that do not fit: error_codes.is_request_error)
  is answered 400 with no `data` entry; a result with data (even `null` data from a field error)
  is 200.
- With `application/json` (the legacy type) every well-formed request is answered 200, and a
  refused one keeps `"data": null`, as before.
- A mutation sent over GET is 405 with `Allow: POST`.

The endpoint calls `shape_result` for each result (it knows the result's errors) and
`finish_response` on the answer (it knows the status, the body and the request's headers); the
verdicts travel between the two on the request's state. `AcceptedMediaType` (a middleware) does
the same for the refusals answered before the endpoint runs.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.schema.exceptions import InvalidOperationTypeError

from api.graphql.error_codes import is_request_error
from api.http.caching import apply_cache_policy
from api.http.media import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, JSON_TYPES, media_type_of

GRAPHQL_PATH = "/graphql"

# request.state: one entry per result of the request (a batch has several).
_VERDICTS = "graphql_results"


class ResultVerdict:
    __slots__ = ("request_error", "has_errors")

    def __init__(self, request_error: bool, has_errors: bool) -> None:
        self.request_error = request_error
        self.has_errors = has_errors


def shape_result(request: Request, result: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of one result: without `data` when the request was refused before it ran and
    the client speaks application/graphql-response+json. Records the verdict for finish_response."""
    errors = getattr(result, "errors", None)
    refused = is_request_error(getattr(result, "data", None), errors)
    verdicts: list[ResultVerdict] = getattr(request.state, _VERDICTS, None) or []
    verdicts.append(ResultVerdict(refused, bool(errors)))
    setattr(request.state, _VERDICTS, verdicts)
    if refused and media_type_of(request.headers) == GRAPHQL_RESPONSE_JSON:
        body.pop("data", None)
    return body


def finish_response(request: Request, response: Response, max_age: int) -> Response:
    """The endpoint's answer with the media type, status and caching GraphQL over HTTP asks for."""
    media_type = media_type_of(request.headers)
    content_type = response.headers.get("content-type", "")
    if content_type.split(";")[0].strip() not in JSON_TYPES:
        return response  # GraphiQL's page
    response.headers["content-type"] = media_type
    if response.status_code == 405:
        # A mutation over GET needs POST; any other method (HEAD) is not a GraphQL request at all.
        response.headers["Allow"] = "POST" if request.method == "GET" else "GET, POST"
    verdicts: list[ResultVerdict] = getattr(request.state, _VERDICTS, None) or []
    single = len(verdicts) == 1 and bytes(response.body[:1]) != b"["
    if (
        single
        and verdicts[0].request_error
        and media_type == GRAPHQL_RESPONSE_JSON
        and response.status_code == 200
    ):
        response.status_code = 400
    cacheable = single and not verdicts[0].has_errors and response.status_code == 200
    return apply_cache_policy(request, response, cacheable=cacheable, max_age=max_age)


def refusal_status(method: str, status: int, cause: BaseException | None) -> int:
    """The status for one of Strawberry's refusals: 405 for an operation the method may not run
    (a mutation over GET), which Strawberry answers 400."""
    if method == "GET" and isinstance(cause, InvalidOperationTypeError):
        return 405
    return status


class AcceptedMediaType:
    """The refusals answered before the GraphQL endpoint runs (the HTTP limits of
    api/limits_http.py: a body too large or not JSON, a NUL character, the write rate), in the
    media type the client accepts: for application/graphql-response+json the same type, no
    `data` entry, and 400 instead of 200. The endpoint's own answers are right already
    (finish_response); this only touches a /graphql answer still labelled application/json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].rstrip("/") == GRAPHQL_PATH
            and media_type_of(Headers(scope=scope)) == GRAPHQL_RESPONSE_JSON
        ):
            send = _relabelling(send)
        await self.app(scope, receive, send)


def _relabelling(send: Send) -> Send:
    start: Message | None = None

    async def relabel(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            headers = MutableHeaders(raw=list(message["headers"]))
            if headers.get("content-type", "").split(";")[0].strip() == APPLICATION_JSON:
                start = {**message, "headers": headers.raw}
                return  # held until the body shows what it is
            await send(message)
            return
        if start is not None and message["type"] == "http.response.body":
            held, start = start, None
            body = message.get("body", b"")
            if not message.get("more_body", False):
                held, body = _as_graphql_response(held, body)
                message = {**message, "body": body}
            await send(held)
        await send(message)

    return relabel


def _as_graphql_response(start: Message, body: bytes) -> tuple[Message, bytes]:
    headers = MutableHeaders(raw=start["headers"])
    headers["content-type"] = GRAPHQL_RESPONSE_JSON
    status = start["status"]
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {**start, "headers": headers.raw}, body
    if isinstance(data, dict) and data.get("errors") and data.get("data", False) is None:
        del data["data"]  # refused before it ran: no data entry
        body = orjson.dumps(data)
        headers["content-length"] = str(len(body))
        if status == 200:
            status = 400
    return {**start, "status": status, "headers": headers.raw}, body
