"""Readable changes: an audit event's (or a revision's) before and after, in GraphQL terms.

The store records what changed in its own terms (`"outcome_id": 9`, snake_case columns), and the
hash chain covers exactly that, so it is never rewritten. A reviewer reads it here as `FieldChange`s
in GraphQL field names, with references as `{"id": <global ID>, "name": <label>}` and enums by
name. Nothing here describes the object graph again: a stored key is read through the declaration
of the changed object's GraphQL type (api/graphql/types/fields.py): a column field keeps its
name (camelCased), a to-one relation's foreign key becomes the relation's field (`outcome_id` →
`outcome`, `subject_target_id` → `subject`), a list of objects is read through its item type, and
a column of a nested plain object (`effect_size` of Claim.statistics) becomes `statistics.effectSize`.
A key no field declares is shown camelCased; one ending in `_id` that names an entity
(`target_id`) is shown as a reference to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import strawberry

from api.graphql.ids import to_global_id
from api.graphql.types.common import JSON, GraphQLInfo
from api.graphql.types.fields import Column, FirstOf, Listed, Related, RowObject, field_source
from api.store.queries import relations
from api.store.queries.relations import ToMany, ToOne


@strawberry.type(
    description=(
        'One changed field, in GraphQL names. References are {"id": <global ID>, "name": <label>}; '
        "enums by name."
    )
)
class FieldChange:
    field: str
    before: JSON | None
    after: JSON | None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class _Reading:
    """How one stored key of a type reads: its field name, the entity it refers to (for a
    reference), and, for a list of objects, how each item's keys read."""

    field: str
    refers_to: str | None = None
    items: dict[str, _Reading] | None = None


_READINGS: dict[type, dict[str, _Reading]] = {}


def _type_name(cls: type) -> str:
    return cls.__strawberry_definition__.name  # type: ignore[attr-defined,no-any-return]


def readings(cls: type) -> dict[str, _Reading]:
    """Stored key → how it reads, from the type's field declarations (made once per type)."""
    known = _READINGS.get(cls)
    if known is not None:
        return known
    out: dict[str, _Reading] = {}
    entity = getattr(cls, "__entity__", None)
    for field in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        source = field_source(field)
        name = field.graphql_name or _camel(field.python_name)
        if isinstance(source, Column):
            out[source.column] = _Reading(name)
        elif isinstance(source, Related | FirstOf) and entity is not None:
            for relation in source.relations if isinstance(source, FirstOf) else (source.relation,):
                spec = relations.relation(entity, relation)
                if isinstance(spec, ToOne):
                    out[spec.foreign_key] = _Reading(name, spec.child)
        elif isinstance(source, Listed) and entity is not None:
            spec = relations.relation(entity, source.relation)
            item = _item_class(field.type)
            if isinstance(spec, ToMany) and item is not None:
                out[source.relation] = _Reading(name, items=readings(item))
        elif source is None and field.base_resolver is not None:
            nested = _item_class(field.type)
            if nested is not None and not issubclass(nested, RowObject):
                # A plain object made from the row's own columns (Claim.statistics).
                for sub in nested.__strawberry_definition__.fields:  # type: ignore[attr-defined]
                    out.setdefault(
                        sub.python_name, _Reading(f"{name}.{sub.graphql_name or _camel(sub.python_name)}")
                    )
    _READINGS[cls] = out
    return out


def _item_class(type_: Any) -> type | None:
    while hasattr(type_, "of_type"):
        type_ = type_.of_type
    if hasattr(type_, "resolve_type"):
        type_ = type_.resolve_type()
    return type_ if isinstance(type_, type) and hasattr(type_, "__strawberry_definition__") else None


def _reading(table: dict[str, _Reading], key: str) -> _Reading:
    found = table.get(key)
    if found is not None:
        return found
    stem = key.removesuffix("_id")
    if stem != key and stem in relations.ENTITIES:
        return _Reading(_camel(stem), stem)
    return _Reading(_camel(key))


def _references(table: dict[str, _Reading], values: Iterable[dict[str, Any] | None]) -> set[tuple[str, int]]:
    """Every (entity, id) the values refer to, for loading their labels at once."""
    out: set[tuple[str, int]] = set()
    for value in values:
        for key, item in (value or {}).items():
            reading = _reading(table, key)
            if reading.refers_to is not None and isinstance(item, int):
                out.add((reading.refers_to, item))
            elif reading.items is not None and isinstance(item, list):
                out |= _references(reading.items, (i for i in item if isinstance(i, dict)))
            elif reading.items is not None and isinstance(item, dict):
                out |= _references(reading.items, [item])
    return out


class _Labels:
    def __init__(self, found: dict[tuple[str, int], Any]) -> None:
        self.found = found

    def reference(self, entity: str, key: int) -> dict[str, Any]:
        node_type = _NODE_TYPE_OF.get(entity)
        row = self.found.get((entity, key))
        label = relations.entity(entity).label
        return {
            "id": to_global_id(node_type, key) if node_type else key,
            "name": getattr(row, label) if row is not None and label else None,
        }


# Entity → the GraphQL type name of its global IDs (filled by readable_changes from the node types).
_NODE_TYPE_OF: dict[str, str] = {}


def _render(table: dict[str, _Reading], key: str, value: Any, labels: _Labels) -> Any:
    reading = _reading(table, key)
    if reading.refers_to is not None and isinstance(value, int):
        return labels.reference(reading.refers_to, value)
    if reading.items is not None and isinstance(value, list):
        return [
            _render_object(reading.items, item, labels) if isinstance(item, dict) else item for item in value
        ]
    if reading.items is not None and isinstance(value, dict):
        return _render_object(reading.items, value, labels)
    return value


def _render_object(table: dict[str, _Reading], value: dict[str, Any], labels: _Labels) -> dict[str, Any]:
    return {_reading(table, k).field: _render(table, k, v, labels) for k, v in value.items()}


async def readable_changes(
    info: GraphQLInfo, cls: type | None, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[FieldChange]:
    """The changed fields of an object of type `cls` (None: a type without declarations; keys
    are then only camelCased), in the order the store recorded them."""
    from api.graphql.types.nodes import NODE_TYPES

    if not _NODE_TYPE_OF:
        for node_type in NODE_TYPES:
            entity = getattr(node_type, "__entity__", None)
            if entity is not None:
                _NODE_TYPE_OF[entity] = _type_name(node_type)
    table = readings(cls) if cls is not None else {}
    wanted = _references(table, (before, after))
    found: dict[tuple[str, int], Any] = {}
    by_entity: dict[str, list[int]] = {}
    for entity, key in wanted:
        by_entity.setdefault(entity, []).append(key)
    for entity, keys in by_entity.items():
        rows = await info.context.loaders.rows(entity).load_many(keys)
        found.update({(entity, k): row for k, row in zip(keys, rows, strict=True)})
    labels = _Labels(found)
    keys = list(after or {}) + [k for k in before or {} if k not in (after or {})]
    # Keys read as one field (a subject's target and intervention ids) give one change.
    merged: dict[str, tuple[Any, Any]] = {}
    for key in keys:
        field = _reading(table, key).field
        old = _render(table, key, (before or {}).get(key), labels) if before is not None else None
        new = _render(table, key, (after or {}).get(key), labels) if after is not None else None
        if field in merged:
            previous_old, previous_new = merged[field]
            old, new = previous_old if old is None else old, previous_new if new is None else new
        merged[field] = (old, new)
    return [FieldChange(field=f, before=b, after=a) for f, (b, a) in merged.items()]
