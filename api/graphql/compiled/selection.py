"""Reading a validated operation the way graphql-core's executor reads it.

The executor's own functions do the work, so the compiled path sees exactly the fields the
ordinary execution would: `Executor.build` picks the operation and coerces the variables (and
reports the same errors, which send the operation back to the ordinary path), `collect_fields` /
`collect_subfields` merge fields by response key (aliases), expand named and inline fragments
whose type condition matches the object's runtime type, and drop what @skip / @include exclude;
`get_argument_values` coerces arguments (literals, variables, defaults).
"""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, GraphQLField, GraphQLObjectType, GraphQLSchema

from api.graphql.internals import (
    Executor,
    FieldDetailsList,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
    convert_field_arguments,
    get_argument_values,
)


class Unsupported(Exception):
    """The operation asks for something the compiled path does not build; the message says what
    (it is reported, and the ordinary resolvers run the whole operation)."""


class Selection:
    """One operation of a document, with its fragments and coerced variables."""

    def __init__(self, schema: GraphQLSchema, executor: Executor) -> None:
        self.schema = schema
        self.operation = executor.operation
        self.fragments = executor.fragments
        self.variables = executor.variable_values

    @classmethod
    def of(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        raw_variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> Selection:
        if schema.get_directive("defer") or schema.get_directive("stream"):
            raise Unsupported("incremental delivery (@defer, @stream)")
        executor = Executor.build(schema, document, None, None, raw_variables, operation_name)
        if isinstance(executor, list):  # the operation or its variables are in error
            raise Unsupported("the operation cannot run as given: " + "; ".join(e.message for e in executor))
        return cls(schema, executor)

    def root_fields(self) -> GroupedFieldSet:
        root = self.schema.query_type
        if root is None:
            raise Unsupported("no query type")
        return collect_fields(
            self.schema, self.fragments, self.variables, root, self.operation
        ).grouped_field_set

    def subfields(self, type_: GraphQLObjectType, details: FieldDetailsList) -> GroupedFieldSet:
        self._no_fragment_variables(details)
        return collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, type_, details
        ).grouped_field_set

    def arguments(self, field: GraphQLField, details: FieldDetailsList) -> dict[str, Any]:
        """The field's coerced arguments (validation made every merged node agree on them)."""
        self._no_fragment_variables(details)
        return get_argument_values(field, details[0].node, self.variables)

    def resolver_arguments(
        self, schema: Any, field: GraphQLField, details: FieldDetailsList, expected: set[str]
    ) -> dict[str, Any]:
        """The arguments as the field's resolver takes them (`schema`: the Strawberry schema,
        whose conversion turns input objects into their classes and enums into members); only
        the `expected` ones, each present (None when not given)."""
        converted = convert_field_arguments(schema, field, self.arguments(field, details))
        if not set(converted) <= expected:
            raise Unsupported(f"{details[0].node.name.value} arguments {sorted(set(converted) - expected)}")
        return {name: converted.get(name) for name in sorted(expected)}

    def require_plain(self, details: FieldDetailsList) -> None:
        """A field the compiled path builds takes no arguments."""
        if any(d.node.arguments for d in details):
            raise Unsupported(f"arguments on {details[0].node.name.value}")

    @staticmethod
    def _no_fragment_variables(details: FieldDetailsList) -> None:
        # Fragment variables are an experimental syntax the ordinary path may treat differently.
        if any(d.fragment_variable_values is not None for d in details):
            raise Unsupported("fragment variables")
