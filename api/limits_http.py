"""Limits a client can see at the HTTP layer: request body size and a write (mutation) rate.

`HttpLimits` is a small pure-ASGI middleware in front of the routes:

- Body size: a request whose `Content-Length` exceeds `max_body_bytes` is answered 413 before
  anything is read; a body sent without a length (chunked) is counted as it streams and refused
  the same way once it passes the limit. The answer is a JSON GraphQL-style error body.
- Request shape: a POST to /graphql with a JSON body must be an object (or, when batching is
  enabled, an array of objects) with string `query`/`operationName`; anything else is a 400 with a
  JSON error instead of reaching Strawberry, which would fail on it with a 500.
- NUL characters: no text in claimsdb may hold U+0000 (PostgreSQL cannot store it, and any
  argument holding one failed its query with an internal error there), so a NUL in the variables
  or in a string literal of the document (POST body or GET query string) is answered 200 with a
  BAD_USER_INPUT GraphQL error naming where it is, before anything runs.
- Write rate: a POST to /graphql that runs a mutation spends one write per mutation from a
  budget (api/rate_limits.py): one per API token (`write_rate_per_minute`) and one per client
  address for requests without a token (`anonymous_write_rate_per_minute`). A write whose token
  turns out to be invalid is also charged to its address, once per distinct token (the GraphQL
  context marks such a request in the ASGI scope: api/observability/request.py), and a request
  with a token is refused while its address has no writes left, so guessing tokens is limited
  too, while a client that keeps sending one stale token cannot use up its address's budget and
  lock out the valid tokens behind the same address. Every write's answer carries
  `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a spent budget answers 429 with
  `Retry-After` and a JSON error body.

The budgets live in Redis when CLAIMSDB_REDIS_URL is set (shared by every worker and host), else
in each worker's memory.

Whether a request is a write is decided cheaply: only POST /graphql bodies whose text contains
"mutation" are parsed (graphql-core's parser, cached, with the same token limit as the schema),
and only the operation that would run is looked at. Queries are never limited here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from email.message import Message
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

import orjson
from graphql import (
    BREAK,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    Visitor,
    parse,
    visit,
)

from api.observability.request import record_for
from api.rate_limits import Budget, Standing, WriteBudgets

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GRAPHQL_PATH = "/graphql"


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    return orjson.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    )


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


@lru_cache(maxsize=256)
def _parse(query: str, max_tokens: int) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None  # Strawberry answers the syntax error itself


def count_writes(query: str, operation_name: str | None, max_tokens: int) -> int:
    """1 when the operation this request would run is a mutation, else 0."""
    if "mutation" not in query:  # cheap: a document without the word runs no mutation
        return 0
    document = _parse(query, max_tokens)
    if document is None:
        return 0
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    # Without an operation name a document with several operations is refused by Strawberry;
    # counting it as a write when any is a mutation errs on the safe side.
    return int(any(o.operation == OperationType.MUTATION for o in operations))


def _bad_request(message: str) -> bytes:
    return error_body(message, "BAD_REQUEST")


NUL = "\x00"


def _nul_path(value: Any, path: str) -> str | None:
    """The path of the first string in `value` holding a NUL character, else None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_path(key, path) or _nul_path(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}.{index}")
            if found:
                return found
    return None


def _document_has_nul(query: str, max_tokens: int) -> bool:
    """True when a string literal of the document holds a NUL (written as an escape)."""
    if NUL in query:
        return True
    if "\\u" not in query:
        return False
    document = _parse(query, max_tokens)
    if document is None:
        return False
    found = False

    class Finder(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
            nonlocal found
            if NUL in node.value:
                found = True
                return BREAK
            return None

    visit(document, Finder())
    return found


def nul_problem(query: str, variables: Any, max_tokens: int) -> bytes | None:
    """An answer refusing a NUL character in the request's text, else None. No text in claimsdb
    may hold one (PostgreSQL cannot store it, and it failed every query that met it)."""
    where = "query" if _document_has_nul(query, max_tokens) else _nul_path(variables, "variables")
    if where is None:
        return None
    return error_body(
        f"text may not contain the NUL character (\\u0000); remove it from `{where}`", "BAD_USER_INPUT"
    )


def inspect_body(body: bytes, max_batch: int, max_tokens: int) -> tuple[int, int, bytes | None]:
    """(writes, status, error): the number of mutations the body would run, or the status and
    body of the answer refusing it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # The parser's reason and position ("number is infinity when parsed as double: line 1
        # column 7"): JSON allows 1e400, but no double holds it, so it is refused, and says why.
        return 0, 400, _bad_request(f"the request body is not valid JSON ({exc}); send one JSON object")
    if isinstance(data, list):
        if max_batch <= 0:
            return (
                0,
                400,
                _bad_request(
                    "batched requests (a JSON array) are not accepted; send one operation per request"
                ),
            )
        if len(data) > max_batch:
            return (
                0,
                400,
                _bad_request(f"a batch may hold at most {max_batch} operations; this one has {len(data)}"),
            )
        items = data
    else:
        items = [data]
    # A NUL can only be in a JSON string as \u0000, and in a GraphQL literal as an escape (\\u).
    maybe_nul = b"\\u0000" in body or b"\\\\u" in body
    writes = 0
    for item in items:
        if not isinstance(item, dict):
            return (
                0,
                400,
                _bad_request('the request body must be a JSON object: {"query": "...", "variables": {...}}'),
            )
        query, operation_name = item.get("query"), item.get("operationName")
        if not isinstance(query, str):
            return 0, 400, _bad_request("`query` must be a string holding the GraphQL document")
        if not isinstance(operation_name, str | None):
            return 0, 400, _bad_request("`operationName` must be a string or null")
        if maybe_nul and (problem := nul_problem(query, item.get("variables"), max_tokens)):
            return 0, 200, problem
        writes += count_writes(query, operation_name, max_tokens)
    return writes, 200, None


def inspect_query_string(query_string: bytes, max_tokens: int) -> bytes | None:
    """For GET /graphql: an answer refusing a NUL character in the query or variables, else None."""
    lowered = query_string.lower()
    if not any(mark in lowered for mark in (b"%00", b"u0000", b"%5cu", b"\\u")):
        return None
    params = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    if any(NUL in value for values in params.values() for value in values):
        return nul_problem(NUL, None, max_tokens)
    variables: Any = None
    if params.get("variables"):
        try:
            variables = orjson.loads(params["variables"][0])
        except orjson.JSONDecodeError:
            variables = None  # Strawberry answers that
    return nul_problem((params.get("query") or [""])[0], variables, max_tokens)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _mime_type(content_type: str) -> str:
    message = Message()
    message["content-type"] = content_type
    return message.get_content_type()


class BodyTooLarge(Exception):
    pass


class HttpLimits:
    """The middleware; see the module docstring. A rate of 0 turns that limit off."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        write_rate_per_minute: int,
        anonymous_write_rate_per_minute: int,
        max_batch_operations: int = 0,
        max_query_tokens: int = 5000,
        redis_url: str | None = None,
        redis_key_prefix: str = "claimsdb",
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch_operations
        self.max_tokens = max_query_tokens
        self.per_token = Budget("token", write_rate_per_minute) if write_rate_per_minute > 0 else None
        self.per_address = (
            Budget("address", anonymous_write_rate_per_minute)
            if anonymous_write_rate_per_minute > 0
            else None
        )
        self.budgets = WriteBudgets(redis_url, redis_key_prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                await send_json(send, 400, _bad_request("the Content-Length header is not a number"))
                return
            if int(length) > self.max_body_bytes:
                await self._too_large(send)
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            if scope["method"] == "GET" and scope["path"].rstrip("/") == GRAPHQL_PATH:
                problem = inspect_query_string(scope.get("query_string", b""), self.max_tokens)
                if problem is not None:
                    await send_json(send, 200, problem)
                    return
            await self.app(scope, self._counting(receive), send)
            return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await self._too_large(send)
            return
        replay = self._replay(body, receive)
        if scope["method"] != "POST" or scope["path"].rstrip("/") != GRAPHQL_PATH:
            await self.app(scope, replay, send)
            return
        if _mime_type(_header(scope, b"content-type") or "") != "application/json":
            await self.app(scope, replay, send)  # Strawberry refuses every other type (CSRF)
            return
        writes, status, problem = inspect_body(body, self.max_batch, self.max_tokens)
        if problem is not None:
            await send_json(send, status, problem)
            return
        record_for(scope).writes = writes
        if writes == 0:
            await self.app(scope, replay, send)
            return
        await self._write(scope, replay, send, writes)

    async def _write(self, scope: Scope, receive: Receive, send: Send, writes: int) -> None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        authorization = _header(scope, b"authorization")
        if authorization is None:
            if self.per_address is None:
                await self.app(scope, receive, send)
                return
            if not await self.budgets.take(self.per_address, address, writes):
                await self._too_many(scope, send, self.per_address, address, writes)
                return
            standing = await self.budgets.standing(self.per_address, address)
            await self.app(scope, receive, _with_rate_headers(send, standing))
            return
        token_key = hashlib.sha256(authorization.encode()).hexdigest()  # no raw token in memory
        if self.per_address is not None and not await self.budgets.has_room(self.per_address, address):
            # This address has used up its failed-authentication allowance.
            await self._too_many(scope, send, self.per_address, address, 1)
            return
        standing = None
        if self.per_token is not None:
            if not await self.budgets.take(self.per_token, token_key, writes):
                await self._too_many(scope, send, self.per_token, token_key, writes)
                return
            standing = await self.budgets.standing(self.per_token, token_key)
        await self.app(scope, receive, _with_rate_headers(send, standing) if standing else send)
        if self.per_address is not None and record_for(scope).auth_failed:
            # Charged once per distinct bad token: a guesser pays for every guess, a client
            # resending one stale token pays once.
            if await self.budgets.first_time("failed-token", address, token_key):
                await self.budgets.take(self.per_address, address)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # disconnected: nobody to answer
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    def _replay(body: bytes, receive: Receive) -> Receive:
        sent = False

        async def replay() -> ASGIMessage:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    def _counting(self, receive: Receive) -> Receive:
        size = 0

        async def counting() -> ASGIMessage:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body_bytes:
                    return {"type": "http.disconnect"}
            return message

        return counting

    async def _too_large(self, send: Send) -> None:
        await send_json(
            send,
            413,
            error_body(
                f"the request body is larger than {self.max_body_bytes} bytes "
                "(CLAIMSDB_MAX_BODY_BYTES); send a smaller document or fewer variables",
                "PAYLOAD_TOO_LARGE",
            ),
        )

    async def _too_many(self, scope: Scope, send: Send, budget: Budget, key: str, writes: int) -> None:
        record_for(scope).rate_limited = budget.per
        standing = await self.budgets.standing(budget, key)
        if writes > budget.per_minute:  # a batch larger than the whole budget never fits
            message = (
                f"too many writes: this request runs {writes} mutations and at most "
                f"{budget.per_minute} a minute are allowed per {budget.per}; send fewer at a time"
            )
            seconds = 60
        else:
            seconds = max(1, standing.reset_seconds)
            message = (
                f"too many writes: at most {budget.per_minute} mutations a minute per {budget.per}; "
                f"retry after {seconds} s"
            )
        await send_json(
            send,
            429,
            error_body(message, "RATE_LIMITED", retryAfter=seconds),
            [(b"retry-after", str(seconds).encode()), *_rate_headers(standing)],
        )


def _rate_headers(standing: Standing) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(standing.limit).encode()),
        (b"ratelimit-remaining", str(standing.remaining).encode()),
        (b"ratelimit-reset", str(standing.reset_seconds).encode()),
    ]


def _with_rate_headers(send: Send, standing: Standing) -> Send:
    """`send`, adding the budget's RateLimit-* headers to the response."""
    extra = _rate_headers(standing)

    async def sending(message: ASGIMessage) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*(message.get("headers") or ()), *extra]}
        await send(message)

    return sending
