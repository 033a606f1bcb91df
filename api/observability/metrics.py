"""Prometheus metrics (prometheus-client), served at /metrics.

With several worker processes (`claimsdb serve --workers N`, or any launcher that sets
PROMETHEUS_MULTIPROC_DIR before the workers start) prometheus-client's multiprocess mode is on:
each worker writes its values to files in that directory and a scrape, answered by whichever
worker gets it, adds up all of them. Gauges count only live workers ("livesum"); counters and
histograms keep what exited workers counted, so they never go backwards.

What is measured:
- claimsdb_requests_total / claimsdb_request_duration_seconds: GraphQL requests by operation
  name (names beyond the first MAX_OPERATION_NAMES seen are counted as "other", so a client
  cannot blow up the number of series), operation type and outcome ("ok", "error": answered
  with GraphQL errors, "rejected": 4xx, "failed": 5xx);
- claimsdb_http_responses_total: every HTTP response by route and status;
- claimsdb_graphql_errors_total: GraphQL errors by extensions.code;
- claimsdb_db_pool_connections_in_use / claimsdb_db_pool_connections_waiting: the database
  connection pool (MeteredPool);
- claimsdb_rate_limit_refusals_total: writes refused with 429, per token or per address;
- claimsdb_audit_chain_length: read from the database on each scrape.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.pool import AsyncAdaptedQueuePool

from api.observability.request import RequestRecord

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATION_NAMES = 100
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "claimsdb_requests",
    "GraphQL requests by operation name, operation type and outcome.",
    ["operation", "type", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "claimsdb_request_duration_seconds",
    "Time to answer a GraphQL request, by operation name, operation type and outcome.",
    ["operation", "type", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_RESPONSES = Counter(
    "claimsdb_http_responses", "HTTP responses by route and status code.", ["route", "status"]
)
GRAPHQL_ERRORS = Counter("claimsdb_graphql_errors", "GraphQL errors by extensions.code.", ["code"])
RATE_LIMIT_REFUSALS = Counter(
    "claimsdb_rate_limit_refusals", "Writes refused with HTTP 429, by budget (token or address).", ["per"]
)
POOL_IN_USE = Gauge(
    "claimsdb_db_pool_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "claimsdb_db_pool_connections_waiting",
    "Requests waiting for a pooled database connection (or for a new one to open).",
    multiprocess_mode="livesum",
)

_operation_names: set[str] = set()
_ROUTES = ("/graphql/static", "/graphql", "/healthz", "/metrics")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def _operation_label(record: RequestRecord) -> str:
    if len(record.operations) > 1:
        return "batch"
    if not record.operations:
        return "none"
    name = record.operations[0].name
    if not name:
        return "anonymous"
    if name in _operation_names:
        return name
    if len(_operation_names) >= MAX_OPERATION_NAMES:
        return "other"
    _operation_names.add(name)
    return name


def _outcome(status: int, record: RequestRecord) -> str:
    if status >= 500:
        return "failed"
    if status >= 400:
        return "rejected"
    return "error" if record.error_codes else "ok"


def _route(path: str) -> str:
    for route in _ROUTES:
        if path == route or path.startswith(route + "/"):
            return route
    return "other"


def observe_request(record: RequestRecord, status: int, seconds: float) -> None:
    HTTP_RESPONSES.labels(_route(record.path), str(status)).inc()
    for code in record.error_codes:
        GRAPHQL_ERRORS.labels(code).inc()
    if record.rate_limited:
        RATE_LIMIT_REFUSALS.labels(record.rate_limited).inc()
    if _route(record.path) != "/graphql" or record.method not in ("GET", "POST"):
        return
    if not record.operations and status < 400:
        return  # GraphiQL's page, not a GraphQL request
    labels = (_operation_label(record), record.operation_type or "none", _outcome(status, record))
    REQUESTS.labels(*labels).inc()
    REQUEST_SECONDS.labels(*labels).observe(seconds)


class MeteredPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's pool for asyncio engines, keeping the pool gauges: connections checked out,
    and callers inside a checkout (waiting for a connection to come back, or for a new one)."""

    def _do_get(self) -> Any:
        POOL_WAITING.inc()
        try:
            connection = super()._do_get()
        finally:
            POOL_WAITING.dec()
        POOL_IN_USE.inc()
        return connection

    def _do_return_conn(self, record: Any) -> None:
        POOL_IN_USE.dec()
        super()._do_return_conn(record)


def metered_pool_options(is_sqlite: bool, sqlite_file: bool) -> dict[str, Any]:
    """Engine options that put MeteredPool where SQLAlchemy would use AsyncAdaptedQueuePool
    (PostgreSQL, an SQLite file); an in-memory SQLite database keeps its single connection."""
    if is_sqlite and not sqlite_file:
        return {}
    return {"poolclass": MeteredPool}


def _forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of worker processes that have exited (a crash, a restart): uvicorn
    has no hook to say so, so each scrape looks for them."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = re.search(r"_(\d+)\.db$", path)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, someone else's


def worker_exiting() -> None:
    """A worker's clean exit: its live gauges leave the sum."""
    directory = multiprocess_dir()
    if directory:
        multiprocess.mark_process_dead(os.getpid(), directory)


class _Value:
    """A collector for one gauge whose value was read just before the scrape."""

    def __init__(self, name: str, documentation: str, value: float | None) -> None:
        self.name, self.documentation, self.value = name, documentation, value

    def collect(self) -> list[GaugeMetricFamily]:
        if self.value is None:
            return []
        return [GaugeMetricFamily(self.name, self.documentation, value=self.value)]


def exposition(audit_chain_length: int | None) -> bytes:
    """The text exposition format: every process's metrics, and the audit chain's length (left
    out when the database could not say)."""
    directory = multiprocess_dir()
    registry: CollectorRegistry
    if directory:
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    registry.register(
        _Value(
            "claimsdb_audit_chain_length",
            "Audit events in the hash chain (the newest event's id).",
            audit_chain_length,
        )
    )
    return generate_latest(registry)


class _Everything:
    """The process's default registry as a collector, so one more gauge can be added per scrape
    without registering it in the global registry."""

    def collect(self) -> Any:
        return REGISTRY.collect()
