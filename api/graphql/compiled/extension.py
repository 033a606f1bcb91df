"""The Strawberry extension that answers query operations through the compiled path.

Strawberry runs each extension's `on_execute` before execution (after parsing, validation and the
limit extensions, which are listed before this one in build_schema) and skips its own execution
when `execution_context.result` is already set (strawberry/schema/schema.py, _execute_operation:
`if not execution_context.result`). Mutations and subscriptions are never touched; introspection
root fields are not compiled, so they run the ordinary way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from api.caches import NamedCache
from api.graphql.compiled.operation import OperationPlan, plan_operation
from api.graphql.compiled.report import Outcome, report
from api.graphql.compiled.selection import Selection, Unsupported
from api.graphql.context import Context
from api.graphql.internals import OperationType, graphql_schema
from api.store.errors import StoreError
from api.store.queries.documents import UnsupportedShape
from api.store.queries.pagination import PageArgumentError

_log = logging.getLogger("claimsdb.graphql.compiled")


class CompiledQueries(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        execution = self.execution_context
        # Strawberry's own OperationType (graphql-core's enum of the same name never compares equal).
        if execution.operation_type is OperationType.QUERY and execution.result is None:
            outcome, data = await self._answer()
            report(outcome)
            if data is not None:
                execution.result = ExecutionResult(data=data, errors=None)
        yield

    async def _answer(self) -> tuple[Outcome, dict | None]:
        execution = self.execution_context
        context = execution.context
        if not isinstance(context, Context) or execution.graphql_document is None:
            return Outcome(False, "no claimsdb context or document"), None
        plan = _plan(execution)
        if isinstance(plan, str):
            return Outcome(False, plan), None
        try:
            data = await plan.run(context)
        except (GraphQLError, PageArgumentError, StoreError, UnsupportedShape) as exc:
            # What the ordinary path reports as a GraphQL error (bad paging arguments or cursor,
            # an unknown name in the filter, an invalid token) or cannot be built exactly: the
            # ordinary path answers.
            return Outcome(False, f"{type(exc).__name__}: {exc}"), None
        except Exception as exc:  # noqa: BLE001  (a bug or an outage; the ordinary path decides)
            _log.warning("compiled query failed; answering it the ordinary way", exc_info=exc)
            return Outcome(False, f"{type(exc).__name__}: {exc}"), None
        return Outcome(True, ""), data


# Plans (or why there is none) by schema, query text, operation name and variables: a plan holds
# nothing of a request, so a repeated operation (a frontend's, a page reloaded) is planned once.
_PLANS: NamedCache[tuple[Any, ...], OperationPlan | str] = NamedCache("compiled query plans", maxsize=256)


def _plan(execution: Any) -> OperationPlan | str:
    """The operation's plan, or the reason it has none."""
    key: tuple[Any, ...] | None
    try:
        variables = orjson.dumps(execution.variables, option=orjson.OPT_SORT_KEYS)
        key = (execution.schema, execution.query, execution.operation_name, variables)
    except TypeError:  # variables JSON cannot hold (only in-process callers pass such)
        key = None
    cached = _PLANS.get(key) if key is not None and key[1] is not None else None
    if cached is not None:
        return cached
    plan: OperationPlan | str
    try:
        selection = Selection.of(
            graphql_schema(execution.schema),
            execution.graphql_document,
            execution.variables,
            execution.operation_name,
        )
        plan = plan_operation(selection, execution.schema)
    except Unsupported as exc:
        plan = str(exc)
    if key is not None and key[1] is not None:
        _PLANS.put(key, plan)
    return plan
