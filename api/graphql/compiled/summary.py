"""Query.evidenceSummary, compiled: the same cells and total as the resolver (read_summary), the
target, conditions and outcomes as JSON documents built by the database, the cells assembled in
Python.

A hot target's summary has thousands of cells (5,861 for IL-6R at 1,000,000 claims), each four
or five fields with two nested objects: resolved by graphql-core, field by field, that was most of
the request (bench Q3). The cells name a few hundred distinct conditions and outcomes, so each
object's document is built once (one statement per type, api/store/queries/documents.py
object_documents) and every cell that names it points at it, as EvidenceSummary.of shares its
objects. `EvidenceCell.claims` (a connection per cell) is not built here: asking for it sends the
operation to the resolvers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, get_named_type

from api.graphql.compiled.objects import compile_object
from api.graphql.compiled.selection import Selection, Unsupported
from api.graphql.compiled.values import fixer
from api.graphql.context import Context
from api.graphql.internals import FieldDetailsList
from api.graphql.types.summary import SummaryRows, read_summary
from api.store.queries.documents import Documents, object_documents
from api.store.queries.summary import SummaryCell

# A value of the answer (the summary, or one cell of it), made from the fetched objects.
Part = Callable[["_Fetched", Any], Any]


@dataclass
class _Objects:
    """One selection of a nested object (the target, or a cell's condition or outcome): its
    documents (one shape), their fix, and which of the summary's ids it shows."""

    kind: str  # "target", "condition" or "outcome"
    documents: Documents
    fix: Callable[[Any], Any] | None

    async def fetch(self, session: Any, ids: set[int]) -> dict[int | None, Any]:
        """The documents by id, with every id asked for (None when not found) and None itself
        (a cell without a condition): the cells look them up by subscript."""
        found = await object_documents(session, self.documents, list(ids))
        if self.fix is not None:
            for document in found.values():  # each shared object fixed once
                self.fix(document)
        return {None: None, **dict.fromkeys(ids), **found}


@dataclass
class _Fetched:
    rows: SummaryRows
    objects: list[dict[int, Any]]  # documents by id, per _Objects of the plan (same positions)

    def document(self, index: int, key: int | None) -> Any:
        return None if key is None or index >= len(self.objects) else self.objects[index].get(key)


@dataclass
class SummaryPlan:
    kwargs: dict[str, Any]
    parts: list[tuple[str, Part]] = field(default_factory=list)
    # The nested objects to fetch, each selection once (an alias may select another).
    objects: list[_Objects] = field(default_factory=list)

    def nested(self, selection: Selection, parent: GraphQLObjectType, details: FieldDetailsList) -> int:
        """Plan the object field `details` select on `parent`; its position in `objects`."""
        name = details[0].node.name.value
        shape, fix = compile_object(selection, _object(parent.fields[name].type, name), details)
        self.objects.append(_Objects(name, Documents([shape], shape.entity), fixer(fix) if fix else None))
        return len(self.objects) - 1

    async def run(self, context: Context) -> dict[str, Any]:
        found = await read_summary(context, self.kwargs["target"], self.kwargs.get("filter"))
        if found is None:
            # The resolver's answer for an unknown name: no target (no document is fetched, so
            # the target part finds none), no cells, a zero total.
            return {key: part(_Fetched(SummaryRows(0, [], 0), []), None) for key, part in self.parts}
        conditions = set(map(itemgetter(_CONDITION), found.cells))
        conditions.discard(None)
        ids = {
            "target": {found.target_id},
            "condition": conditions,
            "outcome": set(map(itemgetter(_OUTCOME), found.cells)),
        }
        fetched = _Fetched(found, [])
        # One read for the objects: a statement per selection of a nested object.
        async with context.db.read() as session:
            for objects in self.objects:
                fetched.objects.append(await objects.fetch(session, ids[objects.kind]))
        return {key: part(fetched, None) for key, part in self.parts}


def plan_summary(
    selection: Selection, schema: Any, field_def: GraphQLField, details: FieldDetailsList
) -> SummaryPlan:
    plan = SummaryPlan(selection.resolver_arguments(schema, field_def, details, {"target", "filter"}))
    summary = _object(field_def.type, "evidenceSummary")
    for key, part_details in selection.subfields(summary, details).items():
        name = part_details[0].node.name.value
        selection.require_plain(part_details)
        if name == "__typename":
            plan.parts.append((key, _constant(summary.name)))
        elif name == "total":
            plan.parts.append((key, lambda fetched, _cell: fetched.rows.total))
        elif name == "target":
            index = plan.nested(selection, summary, part_details)
            plan.parts.append((key, _target(index)))
        elif name == "cells":
            cell = _object(summary.fields[name].type, name)
            plan.parts.append((key, _cells(_cell_parts(selection, plan, cell, part_details))))
        else:
            raise Unsupported(f"field {summary.name}.{name}")
    return plan


# Where a cell's value comes from: a constant, a field of its packed cell (at SummaryCell's
# positions), or the document of the object one of its fields names (by the plan's objects
# position).
_POSITION = {name: position for position, name in enumerate(SummaryCell._fields)}
_CONDITION, _OUTCOME = _POSITION["condition_id"], _POSITION["outcome_id"]
_CELL_FIELDS = {"condition": _CONDITION, "outcome": _OUTCOME}
_CELL_VALUES = {"direction": _POSITION["direction"], "count": _POSITION["count"]}


def _cell_parts(
    selection: Selection, plan: SummaryPlan, cell: GraphQLObjectType, details: FieldDetailsList
) -> list[tuple[str, str, Any]]:
    """EvidenceCell's fields (types/summary.py): its direction (the enum's name, which is the
    value schema.enums gives) and count, and the condition and outcome objects it names; each as
    (response key, what, which)."""
    parts: list[tuple[str, str, Any]] = []
    for key, field_details in selection.subfields(cell, details).items():
        name = field_details[0].node.name.value
        selection.require_plain(field_details)
        if name == "__typename":
            parts.append((key, "constant", cell.name))
        elif name in _CELL_VALUES:
            parts.append((key, "value", _CELL_VALUES[name]))
        elif name in _CELL_FIELDS:
            parts.append((key, "object", (plan.nested(selection, cell, field_details), _CELL_FIELDS[name])))
        else:
            raise Unsupported(f"field {cell.name}.{name}")
    return parts


def _target(index: int) -> Part:
    return lambda fetched, _cell: fetched.document(index, fetched.rows.target_id)


def _cells(parts: list[tuple[str, str, Any]]) -> Part:
    """The cells as one generated comprehension (as values.fixer generates its fixes): thousands
    of cells, each a dict of a few keys, built without a function call per value."""
    constants: dict[str, Any] = {}
    entries = []
    used: set[int] = set()  # the objects' positions the cells show
    for key, what, which in parts:
        if what == "constant":
            name = f"k{len(constants)}"
            constants[name] = which
            entries.append(f"{key!r}: {name}")
        elif what == "value":
            entries.append(f"{key!r}: c{which}")
        else:
            objects, field_index = which
            used.add(objects)
            entries.append(f"{key!r}: o{objects}[c{field_index}]")
    # Each cell unpacked into locals, each object's documents bound to a local first: a cell
    # costs a dict and a few local loads (_Objects.fetch maps every id, and None, to a value).
    fields = ", ".join(f"c{position}" for position in range(len(SummaryCell._fields)))
    bind = "".join(f"    o{objects} = o[{objects}]\n" for objects in sorted(used))
    source = f"def build(cells, o):\n{bind}    return [{{{', '.join(entries)}}} for {fields} in cells]\n"
    scope = dict(constants)
    exec(compile(source, "<compiled summary cells>", "exec"), scope)  # noqa: S102  (our own source)
    generated = scope["build"]

    def build(fetched: _Fetched, _cell: Any) -> list[dict[str, Any]]:
        cells = fetched.rows.cells
        return generated(cells, fetched.objects) if cells else []

    return build


def _constant(value: Any) -> Part:
    return lambda _fetched, _cell: value


def _object(type_: Any, where: str) -> GraphQLObjectType:
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        raise Unsupported(f"{where} is not an object")
    return named
