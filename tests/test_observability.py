"""Operations (api/observability): request ids end to end, the request log line, /metrics after
traffic, the pool gauges, OpenTelemetry spans nested request → GraphQL operation → SQL, and CORS
(preflight, allowed and exposed headers), over the real ASGI app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import orjson
import pytest
from curation_helpers import build_world, events_after, last_event_id, mutation_document
from graphql_client import production_settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.observability.logs import REQUEST_LOGGER, JsonFormatter, TextFormatter
from api.observability.metrics import POOL_IN_USE, POOL_WAITING, MeteredPool
from api.settings import DEFAULT_CORS_EXPOSE_HEADERS, Settings
from api.store.db import Database

CREATE_SOURCE = mutation_document("createSource", "title")
CLAIMS_PAGE = "query Page { claims(first: 2) { totalCount nodes { statement } } }"
ORIGIN = "https://app.example.org"


@asynccontextmanager
async def client_for(app: Any, address: str = "192.0.2.10") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as client:
        yield client


def app_on(settings: Settings, db: Database, **overrides: Any) -> Any:
    app = create_app(production_settings(settings, **overrides), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    return app


class Lines(logging.Handler):
    """The request log's records, formatted as the server writes them."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def by_request_id(self) -> dict[str, dict[str, Any]]:
        parsed = [orjson.loads(line) for line in self.lines]
        return {line["request_id"]: line for line in parsed}


@contextmanager
def request_log(formatter: logging.Formatter | None = None) -> Iterator[Lines]:
    handler = Lines(formatter or JsonFormatter())
    logger = logging.getLogger(REQUEST_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)


# --- request ids and the log line ------------------------------------------------------------


async def test_a_request_id_is_echoed_stored_on_audit_events_and_logged(
    settings: Settings, db: Database
) -> None:
    world = await build_world(db)
    mark = await last_event_id(db)
    app = app_on(settings, db)
    with request_log() as log:
        async with client_for(app) as client:
            sent = await post(
                client,
                CREATE_SOURCE,
                {"input": {"kind": "PREPRINT", "title": "Traced end to end"}},
                token=world.tokens["alice"],
                headers={"X-Request-Id": "ops-trace-0042"},
            )
            made = await post(client, CLAIMS_PAGE)
            refused = await post(client, "{ __typename }", headers={"X-Request-Id": "has spaces in it"})
            invalid = await post(
                client, CREATE_SOURCE, {"input": {"kind": "PREPRINT", "title": "x"}}, token="bad"
            )
            health = await client.get("/healthz", headers={"X-Request-Id": "probe-1"})

    assert sent.status_code == 200 and sent.json()["data"]["createSource"]["userErrors"] == []
    assert sent.headers["x-request-id"] == "ops-trace-0042"
    events = await events_after(db, mark)
    assert [(e.action, e.request_id) for e in events] == [("source.create", "ops-trace-0042")]
    lines = log.by_request_id()
    line = lines["ops-trace-0042"]
    assert line["method"] == "POST" and line["path"] == "/graphql" and line["status"] == 200
    assert (line["operation_name"], line["operation_type"]) == ("Run", "mutation")
    assert line["user"] == "alice" and line["auth_failed"] is False and line["client"] == "192.0.2.10"
    assert line["sql_statements"] >= 3 and line["compiled"] is None and line["duration_ms"] > 0
    assert line["time"].endswith("Z") and isinstance(line["pid"], int)

    generated = made.headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0, "a request without an id gets a new one"
    assert lines[generated]["operation_name"] == "Page" and lines[generated]["compiled"] is True
    assert lines[generated]["user"] == "anonymous" and lines[generated]["sql_statements"] >= 1

    replaced = refused.headers["x-request-id"]
    assert replaced != "has spaces in it" and replaced in lines, "an unusable id is replaced, not echoed"
    assert lines[invalid.headers["x-request-id"]]["auth_failed"] is True
    assert lines[invalid.headers["x-request-id"]]["user"] is None
    assert health.headers["x-request-id"] == "probe-1" and lines["probe-1"]["path"] == "/healthz"


async def test_refusals_before_graphql_carry_the_id_and_are_logged(settings: Settings, db: Database) -> None:
    app = app_on(settings, db, max_body_bytes=2048, anonymous_write_rate_per_minute=1)
    with request_log() as log:
        async with client_for(app) as client:
            big = await post(client, "#" + "x" * 3000 + "\n{ __typename }", headers={"X-Request-Id": "big-1"})
            writes = [
                await post(client, CREATE_SOURCE, {"input": {"kind": "PREPRINT", "title": f"t{n}"}})
                for n in range(2)
            ]
    assert big.status_code == 413 and big.headers["x-request-id"] == "big-1"
    assert log.by_request_id()["big-1"]["status"] == 413
    limited = writes[1]
    assert limited.status_code == 429
    line = log.by_request_id()[limited.headers["x-request-id"]]
    assert line["status"] == 429 and line["rate_limited"] == "address" and line["user"] is None


def test_the_text_format_is_one_readable_line() -> None:
    record = logging.LogRecord(REQUEST_LOGGER, logging.INFO, __file__, 1, "request", None, None)
    record.claimsdb_request = {  # type: ignore[attr-defined]
        "time": "2026-01-01T00:00:00.000Z",
        "request_id": "r-1",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "duration_ms": 12.5,
        "client": "192.0.2.1",
        "user": "alice",
        "auth_failed": False,
        "operation_name": "Page",
        "operation_type": "query",
        "compiled": True,
        "sql_statements": 3,
        "rate_limited": None,
        "trace_id": None,
        "pid": 7,
    }
    line = TextFormatter().format(record)
    assert line == (
        "2026-01-01T00:00:00.000Z r-1 POST /graphql 200 12.5ms query Page client=192.0.2.1 user=alice "
        "compiled=True sql_statements=3 pid=7"
    )
    assert "\n" not in line
    assert orjson.loads(JsonFormatter().format(record))["operation_name"] == "Page"


# --- metrics ---------------------------------------------------------------------------------


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_after_traffic(settings: Settings, db: Database) -> None:
    world = await build_world(db)
    app = app_on(settings, db, anonymous_write_rate_per_minute=1)
    async with client_for(app) as client:
        before = scrape((await client.get("/metrics")).text)
        for _ in range(3):
            assert (await post(client, CLAIMS_PAGE)).status_code == 200
        written = await post(
            client,
            CREATE_SOURCE,
            {"input": {"kind": "PREPRINT", "title": "Metered"}},
            token=world.tokens["alice"],
        )
        assert written.json()["data"]["createSource"]["userErrors"] == []
        anonymous = await post(client, CREATE_SOURCE, {"input": {"kind": "PREPRINT", "title": "Anon"}})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        limited = await post(client, CREATE_SOURCE, {"input": {"kind": "PREPRINT", "title": "Anon 2"}})
        assert limited.status_code == 429
        assert (await post(client, "{ nope }")).status_code == 200
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = scrape(response.text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("claimsdb_requests_total", operation="Page", type="query", outcome="ok") == 3
    assert grew("claimsdb_request_duration_seconds_count", operation="Page", type="query", outcome="ok") == 3
    assert grew("claimsdb_requests_total", operation="Run", type="mutation", outcome="ok") == 1
    assert grew("claimsdb_requests_total", operation="Run", type="mutation", outcome="error") == 1
    assert grew("claimsdb_requests_total", operation="none", type="none", outcome="rejected") == 1
    assert grew("claimsdb_graphql_errors_total", code="UNAUTHENTICATED") == 1
    assert grew("claimsdb_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert grew("claimsdb_rate_limit_refusals_total", per="address") == 1
    assert grew("claimsdb_http_responses_total", route="/graphql", status="429") == 1
    assert value(after, "claimsdb_audit_chain_length") == await last_event_id(db) > 0
    for gauge in ("claimsdb_db_pool_connections_in_use", "claimsdb_db_pool_connections_waiting"):
        assert (gauge, ()) in after, f"{gauge} is not exposed"


async def test_metrics_can_be_turned_off(settings: Settings, db: Database) -> None:
    async with client_for(app_on(settings, db, metrics=False)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404


def gauge(metric: Any) -> float:
    value = REGISTRY.get_sample_value(metric._name)
    return 0.0 if value is None else value


async def test_the_pool_gauges_count_connections_in_use_and_waiting(settings: Settings) -> None:
    """One connection, held; a second request for one waits: in use 1, waiting 1; then both 0."""
    db = Database(settings, poolclass=MeteredPool, pool_size=1, max_overflow=0, pool_timeout=30)
    in_use, waiting = gauge(POOL_IN_USE), gauge(POOL_WAITING)
    try:
        held = await db.engine.connect()
        assert gauge(POOL_IN_USE) == in_use + 1 and gauge(POOL_WAITING) == waiting

        async def second() -> None:
            async with db.engine.connect():
                pass

        task = asyncio.create_task(second())
        for _ in range(200):
            if gauge(POOL_WAITING) == waiting + 1:
                break
            await asyncio.sleep(0.01)
        assert gauge(POOL_WAITING) == waiting + 1, "the second checkout should be waiting"
        await held.close()
        await asyncio.wait_for(task, 30)
        assert (gauge(POOL_IN_USE), gauge(POOL_WAITING)) == (in_use, waiting)
    finally:
        await db.dispose()


# --- tracing ---------------------------------------------------------------------------------


async def test_spans_nest_request_operation_and_sql(settings: Settings, seeded_db: Database) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(production_settings(settings, otel=True), tracer_provider=provider)
    async with app.router.lifespan_context(app), client_for(app) as client:
        for query in (
            CLAIMS_PAGE,
            # another root field: the resolvers and DataLoaders answer it, not the compiled path
            "query Named { viewer { name } claims(first: 2) { nodes { statement source { title } } } }",
        ):
            exporter.clear()
            response = await post(client, query, headers={"X-Request-Id": "traced-1"})
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            spans = exporter.get_finished_spans()
            requests = [s for s in spans if s.kind == SpanKind.SERVER]
            assert len(requests) == 1, [s.name for s in spans]
            request = requests[0]
            assert request.attributes["claimsdb.request_id"] == "traced-1"
            operations = [s for s in spans if s.name.startswith("query ")]
            assert len(operations) == 1, [s.name for s in spans]
            operation = operations[0]
            assert operation.parent is not None and operation.parent.span_id == request.context.span_id
            assert operation.attributes["graphql.operation.type"] == "query"
            statements = [s for s in spans if s.attributes and "db.system" in s.attributes]
            statements += [s for s in spans if s.attributes and "db.system.name" in s.attributes]
            assert statements, f"no SQL spans among {[s.name for s in spans]}"
            for statement in statements:
                assert (
                    statement.parent is not None and statement.parent.span_id == operation.context.span_id
                ), f"{statement.name} is not a child of the operation span"
                assert statement.context.trace_id == request.context.trace_id
    provider.shutdown()


# --- CORS ------------------------------------------------------------------------------------


async def test_cors_preflight_and_exposed_headers(settings: Settings, db: Database) -> None:
    world = await build_world(db)
    app = app_on(settings, db, cors_origins=[ORIGIN], write_rate_per_minute=5)
    async with client_for(app) as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "x-request-id"} <= allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-max-age"] == "600"
        assert preflight.headers["x-request-id"]

        stranger = await client.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers

        written = await post(
            client,
            CREATE_SOURCE,
            {"input": {"kind": "PREPRINT", "title": "Cross-origin"}},
            token=world.tokens["alice"],
            headers={"Origin": ORIGIN},
        )
        assert written.status_code == 200
        exposed = {h.strip() for h in written.headers["access-control-expose-headers"].split(",")}
        assert exposed == set(DEFAULT_CORS_EXPOSE_HEADERS)
        assert written.headers["ratelimit-limit"] == "5" and written.headers["ratelimit-remaining"] == "4"

    custom = app_on(
        settings,
        db,
        cors_origins=[ORIGIN],
        cors_allow_headers=["Authorization", "Content-Type", "X-Client-Version"],
        cors_expose_headers=["X-Request-Id"],
        cors_max_age_seconds=60,
    )
    async with client_for(custom) as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-client-version",
            },
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-max-age"] == "60"
        answer = await post(client, "{ __typename }", headers={"Origin": ORIGIN})
        assert answer.headers["access-control-expose-headers"] == "X-Request-Id"


def test_cors_defaults_expose_the_headers_a_client_needs() -> None:
    defaults = Settings()
    assert set(defaults.cors_expose_headers) == {
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "X-Request-Id",
        "X-Claimsdb-Lsn",  # the client's last write, for read-your-writes on replicas
    }
    assert {"Authorization", "Content-Type", "X-Request-Id", "X-Claimsdb-Lsn"} <= set(
        defaults.cors_allow_headers
    )


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_log_format_is_a_setting(log_format: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMSDB_LOG_FORMAT", log_format)
    assert Settings().log_format == log_format
    monkeypatch.setenv("CLAIMSDB_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="json"):
        Settings()
