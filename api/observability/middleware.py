"""The ASGI middleware that gives each request its id and reports it once it is answered.

- Request id: the client's `X-Request-Id` when it is acceptable (printable ASCII, at most 64
  characters), else a new one; echoed on every response (the store puts it on the request's
  audit events through the GraphQL context).
- One log line per request (api/observability/logs.py) and the request's metrics
  (api/observability/metrics.py), after the response has been sent.

It sits outside CORS and the HTTP limits, so preflights, 413s and 429s are logged and carry the
id too; with tracing on it sits inside the request span, whose trace id goes into the log line.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from api.observability.logs import log_request
from api.observability.metrics import observe_request
from api.observability.request import RequestRecord, record_for, recording
from api.observability.tracing import current_trace_id

_REQUEST_ID = b"x-request-id"


class ObserveRequests:
    def __init__(self, app: Any, *, metrics: bool = True, tracer: Any = None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer
        self.pid = os.getpid()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = record_for(scope)
        record.tracer = self.tracer
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering
        id_header = (_REQUEST_ID, record.request_id.encode("ascii"))
        trace_id = None
        if self.tracer is not None:
            trace_id = current_trace_id()
            from opentelemetry import trace

            trace.get_current_span().set_attribute("claimsdb.request_id", record.request_id)

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers") or () if h[0].lower() != _REQUEST_ID]
                message = {**message, "headers": [*headers, id_header]}
            await send(message)

        with recording(record):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                log_request(self._fields(record, status, seconds, trace_id))
                if self.metrics:
                    observe_request(record, status, seconds)

    def _fields(
        self, record: RequestRecord, status: int, seconds: float, trace_id: str | None
    ) -> dict[str, Any]:
        return {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": record.request_id,
            "method": record.method,
            "path": record.path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": record.client,
            "user": record.user,
            "auth_failed": record.auth_failed,
            "operation_name": record.operation_name,
            "operation_type": record.operation_type,
            "compiled": record.compiled,
            "sql_statements": record.sql_statements,
            "rate_limited": record.rate_limited,
            "trace_id": trace_id,
            "pid": self.pid,
        }
