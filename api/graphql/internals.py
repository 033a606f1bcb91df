"""Every use claimsdb makes of graphql-core's and Strawberry's internals, in one place.

The compiled read path reads a validated operation exactly as graphql-core's executor does (by
calling the executor's own functions: collect_fields, Executor.build, get_argument_values),
converts arguments with Strawberry's own converter, and answers an operation by setting
Strawberry's execution result before Strawberry executes it. The field declarations
(api/graphql/types/fields.py) read Strawberry's field and type definitions. None of this is
public API: pyproject.toml pins both libraries to the minor versions tested here, and
`check()` (run by tests/test_library_internals.py) fails with a message naming what changed when
an upgrade moves any of it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from importlib.metadata import version
from typing import Any

import strawberry
from graphql import ExecutionResult, GraphQLField, GraphQLNamedType
from graphql.execution.collect_fields import (
    FieldDetails,
    FieldDetailsList,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import Executor
from graphql.execution.values import get_argument_values
from strawberry.extensions import SchemaExtension
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType
from strawberry.types.lazy_type import LazyType
from strawberry.types.private import is_private
from strawberry.types.union import StrawberryUnion

__all__ = [
    "DEFINITION",
    "Executor",
    "FieldDetailsList",
    "GroupedFieldSet",
    "LazyType",
    "OperationType",
    "StrawberryField",
    "StrawberryList",
    "StrawberryOptional",
    "StrawberryUnion",
    "check",
    "collect_fields",
    "collect_subfields",
    "convert_field_arguments",
    "get_argument_values",
    "graphql_schema",
    "is_private",
    "strawberry_definition",
]

# The versions the code here was written and tested against (pyproject.toml pins the same).
TESTED = {"graphql-core": "3.3", "strawberry-graphql": "0.341"}

# Where Strawberry keeps its own definition of a GraphQL type or field.
DEFINITION = "strawberry-definition"


def strawberry_definition(element: GraphQLNamedType | GraphQLField) -> Any:
    """Strawberry's definition behind a graphql-core type or field (None for built-ins)."""
    return (element.extensions or {}).get(DEFINITION)


def graphql_schema(schema: strawberry.Schema) -> Any:
    """The graphql-core schema inside a Strawberry schema."""
    return schema._schema


def convert_field_arguments(
    schema: strawberry.Schema, field: GraphQLField, raw: dict[str, Any]
) -> dict[str, Any]:
    """A field's coerced arguments converted as Strawberry converts them for its resolver (input
    objects to their classes, enums to members), so the resolver's own code can take them."""
    definition = strawberry_definition(field)
    if definition is None:
        raise LookupError("the field has no Strawberry definition")
    return convert_arguments(  # type: ignore[no-any-return]
        raw,
        definition.arguments,
        scalar_registry=schema.schema_converter.scalar_registry,
        config=schema.config,
    )


# --- the check ----------------------------------------------------------------------------


class InternalsChanged(AssertionError):
    """A library upgrade changed something claimsdb relies on."""


def _minor(package: str) -> str:
    return ".".join(version(package).split(".")[:2])


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise InternalsChanged(
            f"{what}. claimsdb was tested with graphql-core {TESTED['graphql-core']}.x and "
            f"strawberry-graphql {TESTED['strawberry-graphql']}.x (installed: "
            f"{version('graphql-core')}, {version('strawberry-graphql')}); adapt "
            "api/graphql/internals.py and its users, then the pins in pyproject.toml"
        )


def check() -> None:
    """Raise InternalsChanged, naming the change, unless every internal used still behaves as
    the code expects."""
    for package, tested in TESTED.items():
        _expect(_minor(package) == tested, f"{package} is at {_minor(package)}, not {tested}")
    _expect(
        _parameters(collect_fields)[:5]
        == ["schema", "fragments", "variable_values", "runtime_type", "operation"],
        "graphql.execution.collect_fields.collect_fields changed its parameters",
    )
    _expect(
        _parameters(collect_subfields)[:6]
        == ["schema", "fragments", "variable_values", "operation", "return_type", "field_details_list"],
        "graphql.execution.collect_fields.collect_subfields changed its parameters",
    )
    _expect(
        _parameters(Executor.build)[:6]
        == ["schema", "document", "root_value", "context_value", "raw_variable_values", "operation_name"],
        "graphql.execution.executor.Executor.build changed its parameters",
    )
    _expect(
        _parameters(get_argument_values)[:3] == ["type_def", "node", "variable_values"],
        "graphql.execution.values.get_argument_values changed its parameters",
    )
    _expect(
        {"node", "fragment_variable_values"} <= set(getattr(FieldDetails, "__annotations__", {})),
        "graphql.execution.collect_fields.FieldDetails no longer has node and fragment_variable_values",
    )
    _expect(
        _parameters(convert_arguments)[:4] == ["value", "arguments", "scalar_registry", "config"],
        "strawberry.types.arguments.convert_arguments changed its parameters",
    )
    asyncio.run(_check_schema())


@strawberry.input
class _Probe:
    word: str


_RESOLVED: list[str] = []


@strawberry.type
class _ProbeQuery:
    @strawberry.field(metadata={"probe": 1})
    def echo(self, probe: _Probe) -> str:
        _RESOLVED.append(probe.word)
        return probe.word


class _Answer(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        execution = self.execution_context
        if execution.operation_type is OperationType.QUERY and execution.result is None:
            execution.result = ExecutionResult(data={"echo": "answered"}, errors=None)
        yield


async def _check_schema() -> None:
    """What a small schema shows: definitions in the extensions, metadata kept, argument
    conversion, and an execution result set by an extension answering without execution."""
    _RESOLVED.clear()
    schema = strawberry.Schema(query=_ProbeQuery, extensions=[_Answer])
    core = graphql_schema(schema)
    field = core.query_type.fields["echo"]
    definition = strawberry_definition(field)
    _expect(definition is not None, f"GraphQL fields no longer carry '{DEFINITION}' in their extensions")
    _expect(
        isinstance(definition, StrawberryField)
        and all(hasattr(definition, a) for a in ("base_resolver", "type_annotation", "python_name", "type")),
        "Strawberry field definitions no longer have base_resolver, type_annotation, python_name, type",
    )
    _expect(definition.metadata == {"probe": 1}, "Strawberry fields no longer keep their metadata")
    _expect(
        getattr(strawberry_definition(core.query_type), "origin", None) is _ProbeQuery,
        f"GraphQL types no longer carry their Strawberry definition's origin under '{DEFINITION}'",
    )
    converted = convert_field_arguments(schema, field, {"probe": {"word": "w"}})
    _expect(isinstance(converted.get("probe"), _Probe), "convert_arguments no longer builds input classes")
    result = await schema.execute('{ echo(probe: {word: "executed"}) }')
    _expect(
        result.data == {"echo": "answered"} and not _RESOLVED,
        "Strawberry executes an operation even when an extension set execution_context.result "
        "in on_execute (the compiled read path relies on it skipping execution)",
    )
