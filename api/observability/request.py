"""What one HTTP request did, gathered while it runs and reported once when it ends.

A `RequestRecord` lives in the request's ASGI scope (so every layer that sees the scope, the HTTP
limits, the GraphQL context, finds the same one) and in a context variable (so code without the
scope finds it: the Strawberry extension, the SQLAlchemy statement counter, and the DataLoader
tasks a request starts, which copy the context at their creation).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

SCOPE_KEY = "claimsdb.request"
REQUEST_ID_HEADER = "X-Request-Id"
# What a client may send as its request id: printable ASCII without spaces, at most 64 characters
# (the audit log's request_id column holds 64). Anything else is replaced by one of ours, so a
# log line or an audit event never carries a client's control characters.
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,64}")

_CURRENT: ContextVar[RequestRecord | None] = ContextVar("claimsdb_request", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str | None:
    """`value` when it can serve as a request id, else None."""
    if value is None:
        return None
    value = value.strip()
    return value if _REQUEST_ID.fullmatch(value) else None


@dataclass
class Operation:
    """One GraphQL operation the request ran (a batch runs several)."""

    name: str | None
    type: str | None  # "query", "mutation", "subscription"; None when the document did not parse
    compiled: bool | None  # answered by the compiled read path; None unless a query was executed
    error_codes: list[str] = field(default_factory=list)
    executed: bool = False  # got past parsing and validation


@dataclass
class RequestRecord:
    request_id: str
    method: str = ""
    path: str = ""
    client: str | None = None
    user: str | None = None
    auth_failed: bool = False  # the request carried a token that is not valid
    operations: list[Operation] = field(default_factory=list)
    sql_statements: int = 0
    rate_limited: str | None = None  # "token" or "address" when refused with 429
    # Mutations the request runs, as the HTTP limits counted them before it ran (POST /graphql
    # with a JSON body); None when they did not look. Reads go to a replica only when this is 0
    # or the request is a GET (api/graphql/context.py).
    writes: int | None = None
    tracer: Any = None  # an OpenTelemetry Tracer while tracing is on

    @property
    def operation_name(self) -> str | None:
        names = [o.name or "" for o in self.operations]
        return ",".join(names) if any(names) else None

    @property
    def operation_type(self) -> str | None:
        types = [o.type for o in self.operations if o.type]
        return ",".join(types) if types else None

    @property
    def compiled(self) -> bool | None:
        flags = [o.compiled for o in self.operations if o.compiled is not None]
        return all(flags) if flags else None

    @property
    def error_codes(self) -> list[str]:
        return [code for o in self.operations for code in o.error_codes]


def record_for(scope: MutableMapping[str, Any]) -> RequestRecord:
    """The scope's record, made on first use (with the client's X-Request-Id when acceptable)."""
    record = scope.get(SCOPE_KEY)
    if record is None:
        sent = None
        for key, value in scope.get("headers") or ():
            if key.lower() == b"x-request-id":
                sent = accepted_request_id(value.decode("latin-1"))
                break
        client = scope.get("client")
        record = RequestRecord(
            request_id=sent or new_request_id(),
            method=scope.get("method", ""),
            path=scope.get("path", ""),
            client=client[0] if client else None,
        )
        scope[SCOPE_KEY] = record
    return record


def current_record() -> RequestRecord | None:
    """The record of the request this code runs for, if any (None in-process, e.g. tests)."""
    return _CURRENT.get()


@contextmanager
def recording(record: RequestRecord) -> Iterator[RequestRecord]:
    token = _CURRENT.set(record)
    try:
        yield record
    finally:
        _CURRENT.reset(token)


def _count_statement(*_: Any) -> None:
    record = _CURRENT.get()
    if record is not None:
        record.sql_statements += 1


def count_sql_statements() -> None:
    """Count every SQL statement a request runs, on every engine (once per process). One context
    variable look-up per statement outside requests; SQLAlchemy runs the listener in the greenlet
    of the awaiting task, which shares that task's context."""
    if not event.contains(Engine, "before_cursor_execute", _count_statement):
        event.listen(Engine, "before_cursor_execute", _count_statement)
