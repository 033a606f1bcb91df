"""GraphQL inputs to the input records (schema.records), generically.

The Strawberry inputs stay declared as the contract has them, with the records' own field names
(snake_case in Python), so a conversion walks the record's fields, takes the input's value for
each, decodes a global ID given for a reference (a field marked schema.records.Refers) into its
id, and leaves out what the client left out or gave as null, so the record's default applies.
A field the record has and the input lacks (a curator's `note`) takes its default too.
"""

from __future__ import annotations

import functools
import typing
from typing import Any, TypeVar

import strawberry

from api.graphql.ids import GivenIds
from schema.records import Record, refers_to
from schema.validation import nested_record

R = TypeVar("R", bound=Record)


def to_record(value: Any, model: type[R], ids: GivenIds) -> R:
    """The record of `model` an input object (a Strawberry input) gives."""
    return model.model_validate(_values(value, model, ids))


def _values(value: Any, model: type[Record], ids: GivenIds) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, reference, nested, many in _fields(model):
        item = getattr(value, name, None)
        if item is None or item is strawberry.UNSET:
            continue
        if reference is not None and isinstance(item, str):
            item = ids.name_or_id(item, reference)
        elif nested is not None:
            item = [_values(v, nested, ids) for v in item] if many else _values(item, nested, ids)
        out[name] = item
    return out


@functools.cache
def _fields(model: type[Record]) -> tuple[tuple[str, str | None, type[Record] | None, bool], ...]:
    """Per field of the record: its name, the type a reference names, the record a nested
    value is, and whether it is a list of them."""
    return tuple(
        (
            name,
            refers_to(field),
            nested_record(field.annotation),
            typing.get_origin(field.annotation) is list,
        )
        for name, field in model.model_fields.items()
    )
