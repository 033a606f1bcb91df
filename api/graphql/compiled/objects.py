"""Compiling a selection of an object type into what the database builds (a documents.Shape)
and what Python converts afterwards (a values.Fix: ids, timestamps).

Nothing here describes the object graph: each object type names its store entity
(`RowObject.__entity__`) and each field where its value comes from (a column, a related row, a
list, names, the first of several relations), in its one declaration in api/graphql/types
(api/graphql/types/fields.py). This reads those declarations from the built schema. A field
without a declared source (one with its own resolver: a nested connection, statistics, ...)
makes the whole operation fall back to the resolvers.
"""

from __future__ import annotations

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)

from api.graphql.compiled.selection import Selection, Unsupported
from api.graphql.compiled.values import MEMBER_KEY, Convert, Fix, global_id, utc_datetime
from api.graphql.internals import FieldDetailsList, strawberry_definition
from api.graphql.types.fields import Column, FieldSource, FirstOf, Listed, NameList, Related, field_source
from api.store.queries import documents as doc
from api.store.queries import relations


def entity_of(type_: GraphQLObjectType) -> str:
    """The store entity an object type is built from (its RowObject declaration)."""
    definition = strawberry_definition(type_)
    entity = getattr(getattr(definition, "origin", None), "__entity__", None)
    if entity is None:
        raise Unsupported(f"type {type_.name}")
    return str(entity)


def _source(type_: GraphQLObjectType, name: str) -> FieldSource:
    field = strawberry_definition(type_.fields[name])
    source = field_source(field) if field is not None else None
    if source is None:
        raise Unsupported(f"field {type_.name}.{name}")
    return source


def _conversion(type_: GraphQLObjectType, name: str, field: GraphQLField, column: str) -> Convert | None:
    """What the column's JSON value needs to become what the field's scalar serialises: the
    row's own id becomes the type's global ID, a timestamp the DateTime text."""
    scalar = get_named_type(field.type)
    if column == "id":
        return global_id(type_.name)
    if isinstance(scalar, GraphQLScalarType) and scalar.name == "DateTime":
        return utc_datetime
    if isinstance(scalar, GraphQLScalarType) and scalar.name == "ID":
        raise Unsupported(f"{type_.name}.{name}: an ID from a column other than the row's own id")
    return None


def _object_type(type_: object, where: str) -> GraphQLObjectType:
    named = get_named_type(type_)  # type: ignore[arg-type]
    if not isinstance(named, GraphQLObjectType):
        raise Unsupported(f"{where} is not an object type")
    return named


def _is_list(type_: object) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def compile_object(
    selection: Selection, type_: GraphQLObjectType, details: FieldDetailsList, member: bool = False
) -> tuple[doc.Shape, Fix]:
    """The Shape (what the database builds) and the Fix (what Python converts afterwards) of the
    fields `details` select on an object of `type_`. `member`: the object is one member of a
    union, so its document carries the member marker."""
    entity = entity_of(type_)
    values: list[tuple[str, doc.Value]] = []
    converts: list[tuple[str, Convert]] = []
    objects: list[tuple[str, Fix]] = []
    lists: list[tuple[str, Fix]] = []
    unions: list[tuple[str, tuple[tuple[str, Fix | None], ...]]] = []
    for key, field_details in selection.subfields(type_, details).items():
        name = field_details[0].node.name.value
        if name == "__typename":
            values.append((key, doc.Constant(type_.name)))
            continue
        source = _source(type_, name)
        selection.require_plain(field_details)
        field = type_.fields[name]
        where = f"{type_.name}.{name}"
        if isinstance(source, Column):
            values.append((key, doc.Column(source.column)))
            convert = _conversion(type_, name, field, source.column)
            if convert is not None:
                converts.append((key, convert))
        elif isinstance(source, Related | Listed):
            child_type = _object_type(field.type, where)
            if _is_list(field.type) != isinstance(source, Listed):
                raise Unsupported(f"{where}: list and relation disagree")
            shape, fix = compile_object(selection, child_type, field_details)
            if isinstance(source, Related):
                values.append((key, doc.One(source.relation, shape)))
                if fix:
                    objects.append((key, fix))
            else:
                values.append((key, doc.Many(source.relation, shape)))
                if fix:
                    lists.append((key, fix))
        elif isinstance(source, NameList):
            values.append((key, doc.Names(source.relation)))
        elif isinstance(source, FirstOf):
            value, members = _first_of(selection, entity, source, field, field_details, where)
            values.append((key, value))
            unions.append((key, members))
    if member:
        values.append((MEMBER_KEY, doc.Constant(type_.name)))
    fix = Fix(tuple(converts), tuple(objects), tuple(lists), tuple(unions))
    return doc.Shape(entity, tuple(values)), fix


def _first_of(
    selection: Selection,
    entity: str,
    source: FirstOf,
    field: GraphQLField,
    details: FieldDetailsList,
    where: str,
) -> tuple[doc.FirstOf, tuple[tuple[str, Fix | None], ...]]:
    """A union field: one option per relation, each built as the union member its relation
    leads to (the member marker tells the Fix which one a document holds)."""
    union = get_named_type(field.type)
    if not isinstance(union, GraphQLUnionType):
        raise Unsupported(f"{where} is not a union")
    by_entity = {entity_of(member): member for member in union.types}
    options: list[doc.One] = []
    members: list[tuple[str, Fix | None]] = []
    for name in source.relations:
        spec = relations.relation(entity, name)
        member_type = by_entity.get(getattr(spec, "child", ""))
        if member_type is None:
            raise Unsupported(f"{where}: no member of the union is built from {entity}.{name}")
        shape, fix = compile_object(selection, member_type, details, member=True)
        options.append(doc.One(name, shape))
        members.append((member_type.name, fix or None))
    return doc.FirstOf(tuple(options)), tuple(members)
