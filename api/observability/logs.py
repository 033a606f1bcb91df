"""Logging: one line per request on standard output, and the app's own warnings and errors on
standard error, as JSON (one object a line, for a log shipper) or as text (for a terminal).

The request line's fields (`REQUEST_FIELDS`): time, request_id, method, path, status,
duration_ms, client, user (the token's user, "anonymous" without one, null when the request
never reached GraphQL), auth_failed, operation_name, operation_type, compiled (the compiled read
path answered; null when no query ran), sql_statements, rate_limited ("token"/"address"),
trace_id (while tracing), pid (which worker).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

REQUEST_LOGGER = "claimsdb.requests"
APP_LOGGER = "claimsdb"
# The attribute of a LogRecord that carries the request line's fields.
FIELDS_ATTRIBUTE = "claimsdb_request"
REQUEST_FIELDS = (
    "time",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "client",
    "user",
    "auth_failed",
    "operation_name",
    "operation_type",
    "compiled",
    "sql_statements",
    "rate_limited",
    "trace_id",
    "pid",
)

LogFormat = Literal["json", "text"]


def _time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """A request record as its fields; any other record as time, level, logger, message and, for
    an exception, its traceback, all on one line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if fields is None:
            fields = {
                "time": _time(record.created),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                fields["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(fields, default=str).decode()


class TextFormatter(logging.Formatter):
    """A request as `time request_id method path status duration user operation sql=N ...`."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] | None = getattr(record, FIELDS_ATTRIBUTE, None)
        if fields is None:
            line = f"{_time(record.created)} {record.levelname.lower()} {record.name}: {record.getMessage()}"
            if record.exc_info:
                line += "\n" + self.formatException(record.exc_info)
            return line
        operation = " ".join(str(fields[k]) for k in ("operation_type", "operation_name") if fields.get(k))
        extras = [
            f"{key}={fields[key]}"
            for key in ("client", "user", "compiled", "sql_statements", "rate_limited", "trace_id", "pid")
            if fields.get(key) is not None
        ]
        if fields.get("auth_failed"):
            extras.append("auth_failed=true")
        parts = [
            fields["time"],
            fields["request_id"],
            fields["method"],
            fields["path"],
            str(fields["status"]),
            f"{fields['duration_ms']}ms",
            operation or "-",
            *extras,
        ]
        return " ".join(parts)


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours (so configuring again replaces its format instead of adding a second handler). Looks
    up the stream on each line, so a redirected sys.stdout (a test capturing it) is honoured."""

    def __init__(self, stream_name: str) -> None:
        super().__init__()
        self.stream_name = stream_name

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = getattr(sys, self.stream_name)
        super().emit(record)


def _install(logger: logging.Logger, stream_name: str, log_format: LogFormat) -> None:
    for handler in logger.handlers:
        if isinstance(handler, _Handler):
            handler.setFormatter(formatter(log_format))
            return
    handler = _Handler(stream_name)
    handler.setFormatter(formatter(log_format))
    logger.addHandler(handler)


def configure_logging(log_format: LogFormat) -> None:
    """Request lines to standard output (only there: they are not the app's messages), and the
    app's warnings and errors to standard error in the same format, unless the process has set
    up logging itself (a handler on the root logger: pytest, gunicorn's or a deployment's config)."""
    requests = logging.getLogger(REQUEST_LOGGER)
    requests.setLevel(logging.INFO)
    requests.propagate = False
    _install(requests, "stdout", log_format)
    app = logging.getLogger(APP_LOGGER)
    if not logging.getLogger().handlers or any(isinstance(h, _Handler) for h in app.handlers):
        app.setLevel(logging.INFO)
        _install(app, "stderr", log_format)
        app.propagate = False


_requests = logging.getLogger(REQUEST_LOGGER)


def log_request(fields: dict[str, Any]) -> None:
    """Hands the line to the handlers; the record is made directly, without logging's look-up of
    the calling frame (a stack walk per request, for a source line no one reads)."""
    if _requests.isEnabledFor(logging.INFO):
        record = _requests.makeRecord(
            REQUEST_LOGGER, logging.INFO, __file__, 0, "request", None, None, extra={FIELDS_ATTRIBUTE: fields}
        )
        _requests.handle(record)


def uvicorn_log_config(log_format: LogFormat) -> dict[str, Any]:
    """uvicorn's logging (its start-up lines and errors) in our format on standard error; its
    access log off (our request line replaces it). Applied by uvicorn in every worker."""
    formatter_class = "JsonFormatter" if log_format == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"claimsdb": {"()": f"{__name__}.{formatter_class}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "claimsdb",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
