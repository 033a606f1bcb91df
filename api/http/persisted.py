"""Persisted queries: Apollo's automatic persisted queries (APQ) and trusted documents.

A client sends the SHA-256 of its document instead of the document, as
`extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}` (Apollo) or
`documentId: "<id>"` (GraphQL over HTTP's draft; `sha256:<hex>` accepted), over POST or GET (as
query parameters, so a CDN can cache the GET).

- APQ (CLAIMSDB_APQ, on by default): an unknown hash is answered PERSISTED_QUERY_NOT_FOUND
  (message "PersistedQueryNotFound", which Apollo Client looks for; HTTP 200, or 404 for a client
  speaking application/graphql-response+json, which must not get 200 without data), and the client
  sends the document with its hash once to register it; a hash that is not the document's is
  refused (PERSISTED_QUERY_HASH_MISMATCH). Registered documents live in Redis when
  CLAIMSDB_REDIS_URL is set (shared by every worker and machine, kept CLAIMSDB_APQ_TTL_SECONDS),
  else in a bounded in-process cache (each worker registers on its own; nothing breaks).
- Trusted documents (CLAIMSDB_PERSISTED_DOCUMENTS: a manifest as graphql-codegen's client preset
  writes it, `persisted-documents.json`, `{"<hash>": "<document>"}`): their ids always resolve.
  With CLAIMSDB_PERSISTED_ONLY=true they are the only documents that may run: an unknown id is
  refused (PERSISTED_QUERY_NOT_FOUND, 400: registering is off), and so is a document sent as text
  unless it is one of the manifest's (PERSISTED_QUERY_REQUIRED).

This middleware sits in front of the HTTP limits (api/limits_http.py): it puts the document into
the request (the POST body, or GET's `query` parameter) so that the limits, the write rate and
Strawberry see an ordinary request. Bodies it does not need to look at pass through unread; it
reads at most CLAIMSDB_MAX_BODY_BYTES and leaves a larger body to the limits' 413.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import orjson

from api.http.media import GRAPHQL_RESPONSE_JSON, preferred_media_type

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("claimsdb.persisted")

GRAPHQL_PATH = "/graphql"
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
REQUIRED = "PERSISTED_QUERY_REQUIRED"
BAD_REQUEST = "BAD_REQUEST"
# In-process APQ cache: documents kept per worker, at most this many characters in all.
MEMORY_BUDGET_CHARS = 16 * 1024 * 1024
REDIS_PREFIX = "claimsdb:apq:"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MARKERS = (b"persistedQuery", b"documentId")


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _normal_id(document_id: str) -> str:
    """graphql-codegen writes `sha256:<hex>` ids; Apollo sends the bare hex: one spelling."""
    return document_id.removeprefix("sha256:")


class ManifestError(ValueError):
    """A trusted-documents manifest that cannot be used; the message says why."""


def load_manifest(path: Path) -> dict[str, str]:
    """id → document, from graphql-codegen's client preset manifest (`{"<hash>": "<document>"}`)
    or Apollo's persisted query manifest (`{"format": "apollo-persisted-query-manifest",
    "operations": [{"id": ..., "body": ...}]}`)."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ManifestError(f"cannot read the persisted documents manifest {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"the persisted documents manifest {path} is not JSON ({exc})") from None
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        operations = data.get("operations")
        if not isinstance(operations, list) or not all(
            isinstance(op, dict) and isinstance(op.get("id"), str) and isinstance(op.get("body"), str)
            for op in operations
        ):
            raise ManifestError(f"{path}: every operation needs a string `id` and `body`")
        return {_normal_id(op["id"]): op["body"] for op in operations}
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise ManifestError(
            f"{path} is not a persisted documents manifest: expected a JSON object of "
            '{"<hash>": "<GraphQL document>"}, as graphql-codegen\'s client preset writes it'
        )
    return {_normal_id(key): value for key, value in data.items()}


# --- where registered documents live --------------------------------------------------------


class DocumentStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, document: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """Least recently used documents, at most `budget` characters in all."""

    def __init__(self, budget: int = MEMORY_BUDGET_CHARS) -> None:
        self.budget = budget
        self.size = 0
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, key: str) -> str | None:
        document = self._documents.get(key)
        if document is not None:
            self._documents.move_to_end(key)
        return document

    async def put(self, key: str, document: str) -> None:
        if len(document) > self.budget:
            return
        old = self._documents.pop(key, None)
        if old is not None:
            self.size -= len(old)
        self._documents[key] = document
        self.size += len(document)
        while self.size > self.budget:
            _, dropped = self._documents.popitem(last=False)
            self.size -= len(dropped)

    async def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._documents)


class RedisStore:
    """Documents in Redis, shared by every worker, each kept `ttl` seconds after it was last
    registered. While Redis cannot be reached a look-up is a miss and a registration is dropped
    (a warning at most every 30 s): the client sends the document in full, and it runs."""

    def __init__(self, url: str, ttl: int, prefix: str = REDIS_PREFIX) -> None:
        import redis.asyncio as redis

        self._errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=1.0, decode_responses=True
        )
        self.ttl = ttl
        self.prefix = prefix
        self._warned_at = float("-inf")

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 30:
            self._warned_at = now
            _log.warning("persisted queries: Redis is not answering (%s); documents are sent in full", exc)

    async def get(self, key: str) -> str | None:
        try:
            return await self.client.get(self.prefix + key)
        except self._errors as exc:
            self._warn(exc)
            return None

    async def put(self, key: str, document: str) -> None:
        try:
            await self.client.set(self.prefix + key, document, ex=self.ttl)
        except self._errors as exc:
            self._warn(exc)

    async def close(self) -> None:
        await self.client.aclose()


# --- the middleware ---------------------------------------------------------------------------


class Refusal(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _document_id(item: dict[str, Any]) -> str | None:
    """The id the request names (documentId or Apollo's sha256Hash), or None."""
    ids: list[str] = []
    document_id = item.get("documentId")
    if document_id is not None:
        if not isinstance(document_id, str) or not document_id:
            raise Refusal(BAD_REQUEST, "`documentId` must be a non-empty string")
        ids.append(_normal_id(document_id))
    extensions = item.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is not None:
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise Refusal(
                BAD_REQUEST,
                'extensions.persistedQuery must be {"version": 1, "sha256Hash": "<hex>"}; '
                "only version 1 is supported",
            )
        sha = persisted.get("sha256Hash")
        if not isinstance(sha, str) or not sha:
            raise Refusal(BAD_REQUEST, "extensions.persistedQuery.sha256Hash must be a non-empty string")
        ids.append(_normal_id(sha))
    if len(set(ids)) > 1:
        raise Refusal(
            BAD_REQUEST, "`documentId` and extensions.persistedQuery.sha256Hash name different documents"
        )
    return ids[0] if ids else None


class PersistedQueries:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: DocumentStore | None,
        manifest: dict[str, str] | None = None,
        persisted_only: bool = False,
        max_body_bytes: int = 1024 * 1024,
    ) -> None:
        self.app = app
        self.store = store
        self.manifest = manifest or {}
        self.trusted_hashes = frozenset(sha256_hex(document) for document in self.manifest.values())
        self.persisted_only = persisted_only
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._closing_on_shutdown(receive), send)
            return
        if scope["type"] != "http" or scope["path"].rstrip("/") != GRAPHQL_PATH:
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] == "GET":
                scope = await self._resolve_get(scope)
            elif scope["method"] == "POST" and _is_json(scope):
                scope, receive = await self._resolve_post(scope, receive)
        except Refusal as refusal:
            await _refuse(scope, send, refusal)
            return
        await self.app(scope, receive, send)

    async def resolve(self, item: dict[str, Any]) -> dict[str, Any]:
        """The request `item` with the document it names in `query` (raises Refusal)."""
        query = item.get("query")
        has_text = isinstance(query, str) and query != ""
        key = _document_id(item)
        if key is None:
            if self.persisted_only and has_text and sha256_hex(query) not in self.trusted_hashes:
                raise Refusal(
                    REQUIRED,
                    "this server runs only trusted documents (CLAIMSDB_PERSISTED_ONLY); send the "
                    "document's id as `documentId` or extensions.persistedQuery.sha256Hash",
                )
            return item
        resolved = {name: value for name, value in item.items() if name != "documentId"}
        trusted = self.manifest.get(key)
        if trusted is not None:
            if has_text and query != trusted:
                raise Refusal(HASH_MISMATCH, f"the query is not the trusted document with the id '{key}'")
            resolved["query"] = trusted
            return resolved
        if self.persisted_only:
            raise Refusal(
                NOT_FOUND,
                f"no trusted document has the id '{key[:80]}'; only the documents of the manifest "
                "(CLAIMSDB_PERSISTED_DOCUMENTS) may run",
            )
        if self.store is None:
            raise Refusal(NOT_SUPPORTED, "PersistedQueryNotSupported", status=200)
        key = key.lower()
        if has_text:
            if not _SHA256.fullmatch(key) or sha256_hex(query) != key:
                raise Refusal(HASH_MISMATCH, "provided sha does not match query")
            await self.store.put(key, query)
            return resolved
        document = await self.store.get(key) if _SHA256.fullmatch(key) else None
        if document is None:
            raise Refusal(NOT_FOUND, "PersistedQueryNotFound", status=200)
        resolved["query"] = document
        return resolved

    async def _resolve_get(self, scope: Scope) -> Scope:
        query_string: bytes = scope.get("query_string", b"")
        if not query_string or (not self.persisted_only and not any(m in query_string for m in _MARKERS)):
            return scope
        params = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        item: dict[str, Any] = {}
        for name, value in params:
            item.setdefault(name, value)
        if "extensions" in item:
            try:
                item["extensions"] = json.loads(item["extensions"]) if item["extensions"] else None
            except ValueError:
                return scope  # Strawberry answers a broken `extensions`
        resolved = await self.resolve(item)
        if resolved is item:
            return scope
        kept = [(name, value) for name, value in params if name not in ("query", "documentId")]
        new = urlencode([("query", resolved["query"]), *kept]).encode()
        return {**scope, "query_string": new}

    async def _resolve_post(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return scope, receive  # the limits answer 413
        body, cut = await _read(receive, self.max_body_bytes)
        if cut is not None or (not self.persisted_only and not any(m in body for m in _MARKERS)):
            return scope, _replay(body, receive, cut)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return scope, _replay(body, receive)  # the limits say why it is not JSON
        if isinstance(data, dict):
            resolved: Any = await self.resolve(data)
            changed = resolved is not data
        elif isinstance(data, list):
            resolved = [await self.resolve(item) if isinstance(item, dict) else item for item in data]
            changed = any(new is not old for new, old in zip(resolved, data, strict=True))
        else:
            return scope, _replay(body, receive)
        if not changed:
            return scope, _replay(body, receive)
        body = orjson.dumps(resolved)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        return {**scope, "headers": headers}, _replay(body, receive)

    def _closing_on_shutdown(self, receive: Receive) -> Receive:
        async def closing() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self.store is not None:
                await self.store.close()
            return message

        return closing


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _is_json(scope: Scope) -> bool:
    return (_header(scope, b"content-type") or "").split(";")[0].strip().lower() == "application/json"


async def _read(receive: Receive, limit: int) -> tuple[bytes, Message | None]:
    """The body as far as `limit`, and the message that ended the reading early (a chunk with
    more to come, or the client leaving), or None when the body is all there."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None
        if size > limit:
            return b"".join(chunks), message


def _replay(body: bytes, receive: Receive, cut: Message | None = None) -> Receive:
    """`receive` with what was read first: the body, then the rest (the limits count it and
    answer 413) or the client's leaving."""
    more = cut is not None and cut["type"] == "http.request"
    queue: list[Message] = [{"type": "http.request", "body": body, "more_body": more}]
    if cut is not None and not more:
        queue.append(cut)  # the client left

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, refusal: Refusal) -> None:
    accept = _header(scope, b"accept")
    media_type = preferred_media_type(accept)
    status = refusal.status
    if status == 200 and media_type == GRAPHQL_RESPONSE_JSON:
        # No data, so not 200 (GraphQL over HTTP); an unknown hash is "not found" (not 400, after
        # which Apollo Client would stop sending hashes).
        status = 404 if refusal.code == NOT_FOUND else 400
    body = orjson.dumps({"errors": [{"message": refusal.message, "extensions": {"code": refusal.code}}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(body)).encode()),
                # A miss must not be kept by a CDN: the next request may register the document.
                (b"cache-control", b"no-store"),
                (b"vary", b"Accept"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
