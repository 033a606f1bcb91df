"""The query cost limit: a field's cost is its page size times the cost beneath it.

Each field returning an object costs 1. A connection field multiplies what is under it by its
page size (`first`/`last`, from literals or variables; the default page when absent); a plain list
field by a nominal LIST_ESTIMATE. Lists inside a connection (edges, nodes) are the page itself and
multiply by 1. Scalars cost nothing. Computed once per request at validation, before any SQL.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_composite_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from api.store.queries.pagination import DEFAULT_PAGE

LIST_ESTIMATE = 5


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _page_size(node: FieldNode, variables: dict[str, Any]) -> int:
    for arg in node.arguments or ():
        if arg.name.value in ("first", "last"):
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
            else:
                value = value_from_ast_untyped(arg.value, variables)
            if isinstance(value, int) and value >= 0:
                return value
    return DEFAULT_PAGE


# The variables of the request being validated, for CostLimiter's rule: each request runs in
# a task (and context) of its own, so one rule class serves every request; making a graphql-core
# rule class per request cost ~0.5 ms of a request.
_VARIABLES: ContextVar[dict[str, Any] | None] = ContextVar("claimsdb_cost_variables", default=None)


def make_cost_rule(max_cost: int, variables: dict[str, Any] | None) -> type[ValidationRule]:
    """The cost rule, for these variables, or (None) for those CostLimiter set for the request."""

    class CostLimitRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            schema = self.context.schema
            root = schema.get_root_type(node.operation)
            if root is None:
                return
            self.variables = variables if variables is not None else (_VARIABLES.get() or {})
            cost = self._cost(node.selection_set, root, frozenset())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"query cost {cost} exceeds the limit of {max_cost}; "
                        "ask for smaller pages or fewer nested lists",
                        node,
                        extensions={"code": "QUERY_TOO_COSTLY"},
                    )
                )

        def _cost(self, selection_set: SelectionSetNode | None, parent: Any, seen: frozenset[str]) -> int:
            if selection_set is None:
                return 0
            total = 0
            schema = self.context.schema
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    total += self._field_cost(selection, parent, seen)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    inner = schema.get_type(condition.name.value) if condition else parent
                    total += self._cost(selection.selection_set, inner or parent, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is None or name in seen:  # cycles are reported by validation
                        continue
                    inner = schema.get_type(fragment.type_condition.name.value)
                    total += self._cost(fragment.selection_set, inner or parent, seen | {name})
            return total

        def _field_cost(self, node: FieldNode, parent: Any, seen: frozenset[str]) -> int:
            fields = getattr(parent, "fields", None)
            if not fields or node.name.value not in fields:
                return 0
            field_type = fields[node.name.value].type
            named = get_named_type(field_type)
            if not is_composite_type(named):
                return 0
            beneath = self._cost(node.selection_set, named, seen)
            in_connection = isinstance(parent, GraphQLObjectType) and parent.name.endswith("Connection")
            if named.name.endswith("Connection"):
                multiplier = _page_size(node, self.variables)
            elif _is_list(field_type) and not in_connection:
                multiplier = LIST_ESTIMATE
            else:
                multiplier = 1
            return multiplier * (1 + beneath)

    # Its page sizes may come from variables: it runs on every request, while the other rules'
    # verdict is kept per document (api/graphql/validation.py), and it judges each operation as
    # a whole (enter_operation_definition only), so it is run on the operations directly.
    CostLimitRule.per_request = True  # type: ignore[attr-defined]
    return CostLimitRule


class CostLimiter(SchemaExtension):
    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_validate(self):  # type: ignore[no-untyped-def]
        variables = self.execution_context.variables or {}
        _VARIABLES.set(variables if isinstance(variables, dict) else {})
        rule = _shared_cost_rule(self.max_cost)
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, rule)
        yield


@lru_cache(maxsize=16)
def _shared_cost_rule(max_cost: int) -> type[ValidationRule]:
    return make_cost_rule(max_cost, None)
