"""OpenTelemetry tracing, on with CLAIMSDB_OTEL=true (needs the `otel` extra).

Three kinds of span, nested: the HTTP request (opentelemetry-instrumentation-asgi's middleware),
the GraphQL operation (api/observability/graphql_extension.py) and each SQL statement
(opentelemetry-instrumentation-sqlalchemy, on the app's engine).

Everything else is the standard OTEL_* variables, read by the SDK: OTEL_SERVICE_NAME (default
here "claimsdb") and OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* for the batch
processor, OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / _HEADERS / _TIMEOUT for the exporter, and
OTEL_TRACES_EXPORTER: "otlp" (the default; OTLP over HTTP/protobuf), "console" (to standard
output) or "none", comma-separated for several. When the process already has an SDK tracer
provider (started under `opentelemetry-instrument`, say), that one is used as it is.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from api.settings import SettingsError

SERVICE_NAME = "claimsdb"
INSTALL_HINT = "pip install 'claimsdb[otel]'"
_REQUIRED = (
    "opentelemetry.sdk",
    "opentelemetry.instrumentation.asgi",
    "opentelemetry.instrumentation.sqlalchemy",
)
# Paths the request span skips: probes and scrapes would drown the traces that matter.
EXCLUDED_PATHS = "healthz,metrics"

_provider: Any = None


def check_available() -> None:
    """Raise SettingsError naming the extra when the OpenTelemetry packages are missing."""
    for module in _REQUIRED:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise SettingsError(f"CLAIMSDB_OTEL=true needs the OpenTelemetry packages: {INSTALL_HINT}")


def _exporters() -> list[Any]:
    names = [
        n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()
    ]
    exporters: list[Any] = []
    for name in names:
        if name == "none":
            continue
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
            )
            if protocol.strip() not in ("", "http/protobuf"):
                raise SettingsError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: claimsdb exports OTLP over http/protobuf "
                    "(port 4318); set it to http/protobuf or leave it unset"
                )
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                raise SettingsError(
                    f"OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: {INSTALL_HINT}"
                ) from None
            exporters.append(OTLPSpanExporter())
        else:
            raise SettingsError(f"OTEL_TRACES_EXPORTER={name} is not supported; use otlp, console or none")
    return exporters


def provider_from_environment() -> Any:
    """The process's tracer provider: an SDK provider already installed, else one built from the
    OTEL_* variables and installed (once per process)."""
    global _provider
    if _provider is not None:
        return _provider
    check_available()
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        _provider = existing
        return _provider
    named = "OTEL_SERVICE_NAME" in os.environ or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(resource=Resource.create({} if named else {"service.name": SERVICE_NAME}))
    for exporter in _exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


class Tracing:
    """Tracing for one app: its tracer, the request middleware's options, and the engine it
    instruments while the app runs."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        self.provider = provider
        self.tracer = provider.get_tracer("claimsdb")
        self.middleware_class = OpenTelemetryMiddleware
        self.middleware_options = {
            "tracer_provider": provider,
            "excluded_urls": EXCLUDED_PATHS,
            # One span per request, not one more per chunk sent or received.
            "exclude_spans": ["receive", "send"],
        }
        self._instrumented = False

    def instrument(self, engine: Any) -> None:
        """SQL statement spans on `engine` (an AsyncEngine). The instrumentor is one per process;
        when something else instrumented SQLAlchemy already, its spans are the ones made."""
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        instrumentor = SQLAlchemyInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            return
        # skip_dep_check: the instrumentation declares "sqlalchemy < 2.1" while its event listeners
        # (before/after_cursor_execute) work the same on 2.1; without it, it silently does nothing.
        instrumentor.instrument(engine=engine.sync_engine, tracer_provider=self.provider, skip_dep_check=True)
        self._instrumented = True

    def uninstrument(self) -> None:
        if self._instrumented:
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

            SQLAlchemyInstrumentor().uninstrument()
            self._instrumented = False


def current_trace_id() -> str | None:
    """The current span's trace id (hex), for the request's log line; None when not tracing."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
