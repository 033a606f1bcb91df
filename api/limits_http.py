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
- Write rate: a POST to /graphql that runs a mutation takes one token per mutation from an
  in-memory token bucket: one per API token (`write_rate_per_minute`) and one per client address
  for requests without a token (`anonymous_write_rate_per_minute`). A write whose token turns out
  to be invalid (the answer says UNAUTHENTICATED) is also charged to its address, and a token
  request is refused while its address has no tokens left, so guessing tokens is rate-limited
  too. An empty bucket answers 429 with `Retry-After` and a JSON error body.

The buckets live in process memory: with several workers each worker has its own, so the limit
is per worker. At scale a shared limiter belongs in front of the API (a reverse proxy).

Whether a request is a write is decided cheaply: only POST /graphql bodies whose text contains
"mutation" are parsed (graphql-core's parser, cached, with the same token limit as the schema),
and only the operation that would run is looked at. Queries are never limited here.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
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

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GRAPHQL_PATH = "/graphql"
# Most buckets a limiter keeps; beyond it, full (idle) buckets are dropped first, then the oldest.
MAX_BUCKETS = 10_000
# What an answer to a write with a bad token contains (the error code from build_context).
_UNAUTHENTICATED = b'"UNAUTHENTICATED"'


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


class TokenBucket:
    """Buckets of `capacity` tokens, refilled at `capacity` per minute, one per key."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, key: str, now: float) -> float:
        entry = self._buckets.get(key)
        if entry is None:
            return self.capacity
        tokens, then = entry
        return min(self.capacity, tokens + (now - then) * self.rate)

    def wait(self, key: str, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens are there (0 when they are), without taking any."""
        level = self._level(key, self.clock())
        if level >= cost:
            return 0.0
        if cost > self.capacity:
            return 60.0
        return (cost - level) / self.rate

    def take(self, key: str, cost: float = 1.0, *, force: bool = False) -> float:
        """Take `cost` tokens: 0 when taken, else the seconds to wait (nothing taken). `force`
        takes them anyway (the bucket may go below zero): a charge for something already done."""
        now = self.clock()
        level = self._level(key, now)
        if level < cost and not force:
            return self.wait(key, cost)
        self._buckets[key] = (level - cost, now)
        self._buckets.move_to_end(key)
        self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= MAX_BUCKETS:
            return
        for key in [k for k in self._buckets if self._level(k, now) >= self.capacity]:
            del self._buckets[key]
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch_operations
        self.max_tokens = max_query_tokens
        self.per_token = TokenBucket(write_rate_per_minute, clock) if write_rate_per_minute > 0 else None
        self.per_address = (
            TokenBucket(anonymous_write_rate_per_minute, clock)
            if anonymous_write_rate_per_minute > 0
            else None
        )

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
        if writes == 0:
            await self.app(scope, replay, send)
            return
        await self._write(scope, replay, send, writes)

    async def _write(self, scope: Scope, receive: Receive, send: Send, writes: int) -> None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        authorization = _header(scope, b"authorization")
        if authorization is None:
            if self.per_address is not None:
                wait = self.per_address.take(address, writes)
                if wait:
                    await self._too_many(send, wait, self.per_address.capacity, "address")
                    return
            await self.app(scope, receive, send)
            return
        token_key = hashlib.sha256(authorization.encode()).hexdigest()  # no raw token in memory
        if self.per_address is not None:
            wait = self.per_address.wait(address)
            if wait:  # this address has used up its failed-authentication allowance
                await self._too_many(send, wait, self.per_address.capacity, "address")
                return
        if self.per_token is not None:
            wait = self.per_token.take(token_key, writes)
            if wait:
                await self._too_many(send, wait, self.per_token.capacity, "token")
                return
        failed = False

        async def watch(message: ASGIMessage) -> None:
            nonlocal failed
            if message["type"] == "http.response.body" and _UNAUTHENTICATED in message.get("body", b""):
                failed = True
            await send(message)

        await self.app(scope, receive, watch)
        if failed and self.per_address is not None:
            self.per_address.take(address, 1, force=True)

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

    @staticmethod
    async def _too_many(send: Send, wait: float, per_minute: float, per: str) -> None:
        seconds = max(1, math.ceil(wait))
        await send_json(
            send,
            429,
            error_body(
                f"too many writes: at most {int(per_minute)} mutations a minute per {per}; "
                f"retry after {seconds} s",
                "RATE_LIMITED",
                retryAfter=seconds,
            ),
            [(b"retry-after", str(seconds).encode())],
        )
