"""The Strawberry extension that tells the request record (api/observability/request.py) what
each GraphQL operation was: its name and type, whether the compiled read path answered it, the
codes of its errors; and, while tracing is on, wraps it in an OpenTelemetry span that is the
current span while it runs, so the SQL statements it causes (in its resolvers, its DataLoader
tasks, or the compiled path) are that span's children.

Strawberry's own OpenTelemetryExtension is not used: it does not make the operation's span the
current one (SQL run by the compiled path would hang off the request span instead), and it wraps
every field resolver in a span of its own, which makes each plain field async and costs more than
the rest of a page of claims.

It is listed first in build_schema, so it enters first and leaves last: it sees the errors as the
client will (after MaskErrors), and its span encloses parsing, validation and execution. In-process
execution (tests, the benchmark's in-process runs) has no request record, and it does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from api.graphql.compiled.report import outcomes, report
from api.observability.request import Operation, current_record
from api.store.db import database_outage


def error_code(error: GraphQLError) -> str:
    """The error's extensions.code, or what its kind is called when it has none."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str) and code:
        return code
    if error.path:  # raised while executing and masked: a bug
        return "INTERNAL_SERVER_ERROR"
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def _exception_code(exc: BaseException) -> str:
    if isinstance(exc, GraphQLError):
        return error_code(exc)
    return "SERVICE_UNAVAILABLE" if database_outage(exc) is not None else "INTERNAL_SERVER_ERROR"


class ObserveOperations(SchemaExtension):
    _operation: Operation | None = None

    def on_operation(self) -> Iterator[None]:
        record = current_record()
        if record is None:
            yield
            return
        execution = self.execution_context
        operation = self._operation = Operation(execution.operation_name, None, None)
        record.operations.append(operation)
        span = token = None
        if record.tracer is not None:
            from opentelemetry import context, trace

            span = record.tracer.start_span("GraphQL operation")
            token = context.attach(trace.set_span_in_context(span))
        failure: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._finish(operation, failure)
            if span is not None:
                self._end_span(span, operation)
                from opentelemetry import context

                context.detach(token)

    def on_execute(self) -> Iterator[None]:
        """Listens for the compiled path's outcome (it runs in a later extension's on_execute),
        then hands it on to any outer listener (a test's), which this one hid meanwhile."""
        with outcomes() as seen:
            yield
        for outcome in seen:
            report(outcome)
        if self._operation is not None:
            self._operation.executed = True
            if seen:
                self._operation.compiled = seen[-1].compiled

    def _finish(self, operation: Operation, failure: BaseException | None) -> None:
        execution = self.execution_context
        operation.name = execution.operation_name
        try:
            operation.type = execution.operation_type.value
        except Exception:  # noqa: BLE001 - no document, or no operation in it: there is no type
            operation.type = None
        if operation.type == "query" and operation.executed and operation.compiled is None:
            operation.compiled = False  # executed, and the compiled path did not answer (or is off)
        result = execution.result
        errors: list[GraphQLError] = list(getattr(result, "errors", None) or [])
        if not errors and execution.pre_execution_errors:
            errors = list(execution.pre_execution_errors)
        operation.error_codes = [error_code(e) for e in errors]
        if failure is not None and not isinstance(failure, GeneratorExit):
            operation.error_codes.append(_exception_code(failure))

    @staticmethod
    def _end_span(span: Any, operation: Operation) -> None:
        from opentelemetry.trace import Status, StatusCode

        kind = operation.type or "operation"
        span.update_name(f"{kind} {operation.name}" if operation.name else f"GraphQL {kind}")
        if operation.name:
            span.set_attribute("graphql.operation.name", operation.name)
        if operation.type:
            span.set_attribute("graphql.operation.type", operation.type)
        if operation.compiled is not None:
            span.set_attribute("claimsdb.compiled", operation.compiled)
        if operation.error_codes:
            span.set_attribute("claimsdb.error_codes", operation.error_codes)
            span.set_status(Status(StatusCode.ERROR, ", ".join(operation.error_codes)))
        span.end()
