"""Validating a document once, not on every request.

graphql-core's validation walks the whole document with every rule: ~8 ms for the benchmark's
claim page, as much as the hand-written SQL of that page takes altogether (bench/RESULTS.md). Its
result depends on the document and the schema's rules, except for the cost limit, whose page
sizes may come from variables (api/graphql/limits.py marks its rule `per_request`). So the other
rules' errors are kept per query text (the schema's rules never change), and per request only
the per-request rules run. When a document has errors of its own, every rule runs together
again, so the errors and their order are exactly what one validation pass reports.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    ValidationContext,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


class ValidationResults:
    """The errors of the document-only rules, per query text (least recently used dropped)."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._errors: OrderedDict[str, list[GraphQLError]] = OrderedDict()

    def get(self, query: str) -> list[GraphQLError] | None:
        errors = self._errors.get(query)
        if errors is not None:
            self._errors.move_to_end(query)
        return errors

    def put(self, query: str, errors: list[GraphQLError]) -> None:
        self._errors[query] = errors
        self._errors.move_to_end(query)
        while len(self._errors) > self.maxsize:
            self._errors.popitem(last=False)


class CachedValidation(SchemaExtension):
    """Must come after every extension that adds rules in `on_validate` (the cost limit);
    rules added in `on_operation` (depth, aliases, introspection) are in place by then anyway."""

    def __init__(self, results: ValidationResults) -> None:
        self.results = results

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, query = context.graphql_document, context.query
        if document is not None and query is not None and context.pre_execution_errors is None:
            rules = context.validation_rules
            per_request = tuple(r for r in rules if getattr(r, "per_request", False))
            errors = self.results.get(query)
            if errors is None:
                fixed = tuple(r for r in rules if not getattr(r, "per_request", False))
                errors = validate_document(context.schema._schema, document, fixed)
                self.results.put(query, errors)
            if errors:
                context.pre_execution_errors = validate_document(context.schema._schema, document, rules)
            else:
                context.pre_execution_errors = _run_per_request(context.schema._schema, document, per_request)
        yield


def _run_per_request(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """The per-request rules judge each operation as a whole (api/graphql/limits.py): they are
    given the operations directly, without graphql-core's walk of the whole document with type
    information, which would cost as much again as the rest of a compiled request."""
    if not rules:
        return []
    errors: list[GraphQLError] = []
    validation = ValidationContext(schema, document, TypeInfo(schema), errors.append)
    for rule in rules:
        instance = rule(validation)
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                instance.enter_operation_definition(definition)  # type: ignore[attr-defined]
    return errors
