"""Declaring the object graph's GraphQL fields once.

A GraphQL object type built from one stored row (a claim, a target, a source, ...) subclasses
`RowObject`, names its store entity (`__entity__`, api/store/queries/relations.py) and declares
each field once:

    @strawberry.type
    class Claim(RowObject, Node):
        __entity__ = "claim"
        statement: str                                   # the row's column of that name
        outcome: Outcome = related("outcome")            # a to-one relation
        evidence: list[Evidence] = listed("evidence")    # a list relation, in its declared order
        subject: ClaimSubject = one_of("subject_target", "subject_intervention")
        _row: strawberry.Private[t.Claim]

From that one declaration come both ways of answering:
- the resolvers: `from_row` fills the plain fields from the row's columns (enums converted, `id`
  as the type's global ID), and `related` / `listed` / `names` / `one_of` make the resolver that
  loads the relation through the request's DataLoaders (api/graphql/loaders.py);
- the compiled read path (api/graphql/compiled), which reads each field's `FieldSource` from the
  field's metadata in the built schema (`field_source`) and asks the database for the same rows
  as JSON.

A field with a hand-written resolver and no `FieldSource` (statistics, a nested connection, ...)
is answered by the resolvers only: an operation selecting it is not compiled.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import strawberry

from api.graphql.ids import to_global_id
from api.graphql.internals import (
    LazyType,
    StrawberryField,
    StrawberryList,
    StrawberryOptional,
    StrawberryUnion,
    is_private,
)
from api.graphql.types.common import GraphQLInfo
from api.store.queries import relations
from api.store.queries.relations import Names, ToMany, ToOne

# The key of a field's FieldSource in its Strawberry metadata.
SOURCE = "claimsdb.source"


# --- where a field's value comes from (what the compiled planner reads) ---------------------


@dataclass(frozen=True)
class Column:
    """A column of the object's row (`from_row` copies it; the planner selects it)."""

    column: str


@dataclass(frozen=True)
class Related:
    """The row a to-one relation leads to (relations.ToOne)."""

    relation: str


@dataclass(frozen=True)
class Listed:
    """The rows of a list relation (relations.ToMany)."""

    relation: str


@dataclass(frozen=True)
class NameList:
    """A vocabulary entity's aliases or cross-references (relations.Names)."""

    relation: str


@dataclass(frozen=True)
class FirstOf:
    """The first of several to-one relations whose key is set (a claim's subject: its target or
    its intervention); each leads to a different member of the field's union."""

    relations: tuple[str, ...]


FieldSource = Column | Related | Listed | NameList | FirstOf


@dataclass(frozen=True)
class ClaimListing:
    """A root field answering a list of claims through resolve_claims (its arguments: filter,
    orderBy and the paging arguments): the compiled path plans such a field as a whole."""


def field_source(field: StrawberryField) -> FieldSource | None:
    """Where a field of a RowObject type takes its value from: its declared source, or its
    column when it is a plain field; None for a field with its own resolver."""
    declared = field.metadata.get(SOURCE) if field.metadata else None
    if isinstance(declared, ClaimListing):
        return None
    if declared is not None:
        return declared  # type: ignore[no-any-return]
    if field.base_resolver is None and not is_private(field.type_annotation.annotation):
        return Column(field.python_name)
    return None


# --- object types built from rows -------------------------------------------------------------


class RowObject:
    """A GraphQL object type whose objects are built from rows of one store entity."""

    __entity__: ClassVar[str]
    _from_row: ClassVar[Callable[[Any], Any] | None] = None

    @classmethod
    def from_row(cls, row: Any) -> Any:
        """The object for a row: its plain fields from the row's columns."""
        build = cls.__dict__.get("_from_row")
        if build is None:
            build = _row_builder(cls)
            cls._from_row = build
        return build(row)


def _row_builder(cls: type) -> Callable[[Any], Any]:
    """Made once per type: which attribute of the row fills which field, and how converted."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    type_name = definition.name
    plain: list[tuple[str, str, Callable[[Any], Any] | None]] = []
    keeps_row = False
    for field in definition.fields:
        if is_private(field.type_annotation.annotation):
            keeps_row = keeps_row or field.python_name == "_row"
            continue
        source = field_source(field)
        if not isinstance(source, Column):
            continue
        if field.python_name == "id":
            plain.append(("id", source.column, lambda key: to_global_id(type_name, key)))
        else:
            plain.append((field.python_name, source.column, _enum_of(field.type)))

    def build(row: Any) -> Any:
        values: dict[str, Any] = {}
        for name, column, convert in plain:
            value = getattr(row, column)
            values[name] = convert(value) if convert is not None and value is not None else value
        if keeps_row:
            values["_row"] = row
        return cls(**values)

    return build


def _enum_of(type_: Any) -> Callable[[Any], Any] | None:
    """The enum class a column's text must become for an enum field (stored as text)."""
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    wrapped = getattr(type_, "wrapped_cls", None)  # a Strawberry enum definition
    return wrapped if isinstance(wrapped, type) and issubclass(wrapped, enum.Enum) else None


def _object_class(type_: Any) -> type:
    """The RowObject class a relation field's values are (its type without Optional / list)."""
    while True:
        if isinstance(type_, StrawberryOptional | StrawberryList):
            type_ = type_.of_type
        elif isinstance(type_, LazyType):
            type_ = type_.resolve_type()
        else:
            break
    if not (isinstance(type_, type) and issubclass(type_, RowObject)):
        raise TypeError(f"{type_!r} is not a RowObject type; a relation field must return one")
    return type_


def _relation(cls: type, name: str, kind: type) -> Any:
    entity = getattr(cls, "__entity__", None)
    if entity is None:
        raise TypeError(f"{cls.__name__} declares relation fields but no __entity__")
    found = relations.relation(entity, name)
    if not isinstance(found, kind):
        raise TypeError(f"{entity}.{name} is a {type(found).__name__}, not a {kind.__name__}")
    return found


def _checked_child(relation: ToOne | ToMany, target: type, where: str) -> None:
    if getattr(target, "__entity__", None) != relation.child:
        raise TypeError(
            f"{where}: relation {relation.parent}.{relation.name} leads to {relation.child}, "
            f"but the field's type {target.__name__} is built from {getattr(target, '__entity__', None)}"
        )


class _Binding:
    """What a relation field's resolver needs, worked out on first use per object class (the
    field's declared type is resolved once the schema is built)."""

    def __init__(self, make: Callable[[type], Any]) -> None:
        self._make = make
        self._by_class: dict[type, Any] = {}

    def of(self, cls: type) -> Any:
        bound = self._by_class.get(cls)
        if bound is None:
            bound = self._by_class[cls] = self._make(cls)
        return bound


def column(name: str, *, description: str | None = None) -> Any:
    """A plain field whose column is named otherwise (`direction` from `target_direction`)."""
    return strawberry.field(description=description, metadata={SOURCE: Column(name)})


def related(relation: str, *, description: str | None = None) -> Any:
    """A field holding the row a to-one relation leads to (None when the key is NULL)."""

    def bind(cls: type) -> tuple[ToOne, Callable[[Any], Any]]:
        spec = _relation(cls, relation, ToOne)
        target = _object_class(field.type)
        _checked_child(spec, target, f"{cls.__name__}.{field.python_name}")
        return spec, target.from_row

    binding = _Binding(bind)

    async def resolve(root: Any, info: GraphQLInfo) -> Any:
        spec, convert = binding.of(type(root))
        key = getattr(root._row, spec.foreign_key)
        if key is None:
            return None
        row = await info.context.loaders.rows(spec.child).load(key)
        return convert(row) if row is not None else None

    field: StrawberryField = strawberry.field(
        resolver=resolve, description=description, metadata={SOURCE: Related(relation)}
    )
    return field


def listed(relation: str, *, description: str | None = None) -> Any:
    """A field holding the rows of a list relation, in the relation's order."""

    def bind(cls: type) -> tuple[ToMany, Callable[[Any], Any]]:
        spec = _relation(cls, relation, ToMany)
        target = _object_class(field.type)
        _checked_child(spec, target, f"{cls.__name__}.{field.python_name}")
        return spec, target.from_row

    binding = _Binding(bind)

    async def resolve(root: Any, info: GraphQLInfo) -> Any:
        spec, convert = binding.of(type(root))
        rows = await info.context.loaders.listed(spec).load(root._row.id)
        return [convert(row) for row in rows]

    field: StrawberryField = strawberry.field(
        resolver=resolve, description=description, metadata={SOURCE: Listed(relation)}
    )
    return field


def names(relation: str, *, description: str | None = None) -> Any:
    """A field holding a vocabulary entity's aliases or cross-references."""
    binding = _Binding(lambda cls: _relation(cls, relation, Names))

    async def resolve(root: Any, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.names(binding.of(type(root))).load(root._row.id)

    return strawberry.field(resolver=resolve, description=description, metadata={SOURCE: NameList(relation)})


def one_of(*choices: str, description: str | None = None) -> Any:
    """A union field holding the row of the first of several to-one relations whose key is set;
    each relation leads to another member type of the union."""

    def bind(cls: type) -> list[tuple[ToOne, Callable[[Any], Any]]]:
        union = field.type
        if not isinstance(union, StrawberryUnion):
            raise TypeError(f"{cls.__name__}.{field.python_name}: one_of needs a union type")
        members = {getattr(m, "__entity__", None): m for m in map(_object_class, union.types)}
        bound = []
        for name in choices:
            spec = _relation(cls, name, ToOne)
            member = members.get(spec.child)
            if member is None:
                raise TypeError(
                    f"{cls.__name__}.{field.python_name}: no member of the union is a {spec.child}"
                )
            bound.append((spec, member.from_row))
        return bound

    binding = _Binding(bind)

    async def resolve(root: Any, info: GraphQLInfo) -> Any:
        for spec, convert in binding.of(type(root)):
            key = getattr(root._row, spec.foreign_key)
            if key is not None:
                row = await info.context.loaders.rows(spec.child).load(key)
                return convert(row) if row is not None else None
        return None

    field: StrawberryField = strawberry.field(
        resolver=resolve, description=description, metadata={SOURCE: FirstOf(choices)}
    )
    return field
