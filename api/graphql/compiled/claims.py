"""Query.claims, compiled: the connection's arguments through the resolver's own functions, its
page from the store as JSON documents, its shape (pageInfo, edges, nodes, totalCount) in Python.

The ordinary resolver (types/claims.py resolve_claims) and this share claim_list_arguments (paging
arguments, order, filter), and the store's claim_list (names, visibility, scope, ordering, plan)
and pagination (keyset, cursors); only the fetching differs: ORM rows and resolvers there, one
statement building the documents here (plus the total when asked for).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, get_named_type

from api.graphql.compiled.objects import compile_object, entity_of
from api.graphql.compiled.selection import Selection, Unsupported
from api.graphql.compiled.values import Fix, Fixer, fixer
from api.graphql.context import Context
from api.graphql.internals import FieldDetailsList
from api.graphql.types.claims import claim_list_arguments
from api.store.queries.claims import claim_list
from api.store.queries.documents import DocumentPage, Documents, Shape, claim_documents

# A part of the connection's answer, made from the fetched page.
Part = Callable[[DocumentPage, list[list[Any]]], Any]


@dataclass
class ClaimsPlan:
    """What one `claims` field needs: its resolver's arguments, the shapes to build per claim
    (each distinct node selection once) and how to assemble the connection."""

    kwargs: dict[str, Any]
    shapes: list[Shape] = field(default_factory=list)
    fixers: list[Fixer | None] = field(default_factory=list)
    with_total: bool = False
    parts: list[tuple[str, Part]] = field(default_factory=list)

    @cached_property
    def documents(self) -> Documents:
        """Made on first use, when planning has added every shape."""
        return Documents(self.shapes)

    def shape_index(self, shape: Shape, fix: Fix) -> int:
        if shape in self.shapes:  # the same selection under nodes and edges: built once
            return self.shapes.index(shape)
        self.shapes.append(shape)
        self.fixers.append(fixer(fix))
        return len(self.shapes) - 1

    async def run(self, context: Context) -> dict[str, Any]:
        spec, request, order_field, descending = claim_list_arguments(**self.kwargs)
        async with context.db.read() as session:
            claims = await claim_list(session, spec, context.visibility, request, order_field, descending)
            fetched = await claim_documents(session, claims, request, self.documents, self.with_total)
        # Each document fixed once, even when nodes and edges both show it.
        fixed: list[list[Any]] = []
        for documents in fetched.documents:
            row = []
            for document, fix in zip(documents, self.fixers, strict=True):
                row.append(fix(document) if fix is not None else document)
            fixed.append(row)
        return {key: part(fetched, fixed) for key, part in self.parts}


def plan_claims(
    selection: Selection, schema: Any, field_def: GraphQLField, details: FieldDetailsList
) -> ClaimsPlan:
    """Plan one `claims` root field (`schema`: the Strawberry schema, for argument conversion)."""
    expected = {"filter", "order_by", "first", "after", "last", "before"}
    plan = ClaimsPlan(selection.resolver_arguments(schema, field_def, details, expected))

    connection = get_named_type(field_def.type)
    if not isinstance(connection, GraphQLObjectType):
        raise Unsupported("claims is not a connection")
    for key, part_details in selection.subfields(connection, details).items():
        name = part_details[0].node.name.value
        selection.require_plain(part_details)
        if name == "__typename":
            plan.parts.append((key, _constant(connection.name)))
        elif name == "totalCount":
            plan.with_total = True
            plan.parts.append((key, lambda fetched, _fixed: fetched.total))
        elif name == "nodes":
            claim_type = _claim_type(connection, name)
            index = plan.shape_index(*compile_object(selection, claim_type, part_details))
            plan.parts.append((key, _nodes(index)))
        elif name == "edges":
            plan.parts.append((key, _edges(selection, plan, _object(connection, name), part_details)))
        elif name == "pageInfo":
            plan.parts.append((key, _page_info(selection, _object(connection, name), part_details)))
        else:
            raise Unsupported(f"field {connection.name}.{name}")
    return plan


def _object(parent: GraphQLObjectType, name: str) -> GraphQLObjectType:
    named = get_named_type(parent.fields[name].type)
    if not isinstance(named, GraphQLObjectType):
        raise Unsupported(f"{parent.name}.{name} is not an object")
    return named


def _claim_type(parent: GraphQLObjectType, name: str) -> GraphQLObjectType:
    """The connection's node type, which must be built from claims (the store lists claims)."""
    node = _object(parent, name)
    if entity_of(node) != "claim":
        raise Unsupported(f"{parent.name}.{name} is not built from claims")
    return node


def _constant(value: Any) -> Part:
    return lambda _fetched, _fixed: value


def _nodes(index: int) -> Part:
    return lambda _fetched, fixed: [row[index] for row in fixed]


def _edges(
    selection: Selection, plan: ClaimsPlan, edge: GraphQLObjectType, details: FieldDetailsList
) -> Part:
    """types/common.py Edge: cursor and node per claim."""
    fields: list[tuple[str, str, int]] = []  # (response key, what, shape index)
    for key, field_details in selection.subfields(edge, details).items():
        name = field_details[0].node.name.value
        selection.require_plain(field_details)
        if name == "node":
            claim_type = _claim_type(edge, name)
            fields.append(
                (key, name, plan.shape_index(*compile_object(selection, claim_type, field_details)))
            )
        elif name in ("cursor", "__typename"):
            fields.append((key, name, -1))
        else:
            raise Unsupported(f"field {edge.name}.{name}")
    typename = edge.name

    def part(fetched: DocumentPage, fixed: list[list[Any]]) -> list[dict[str, Any]]:
        out = []
        for position, row in enumerate(fixed):
            item: dict[str, Any] = {}
            for key, name, index in fields:
                if name == "node":
                    item[key] = row[index]
                elif name == "cursor":
                    item[key] = fetched.cursor(position)
                else:
                    item[key] = typename
            out.append(item)
        return out

    return part


_PAGE_INFO: dict[str, Callable[[DocumentPage], Any]] = {
    # types/common.py to_connection
    "hasNextPage": lambda fetched: fetched.page.has_next_page,
    "hasPreviousPage": lambda fetched: fetched.page.has_previous_page,
    "startCursor": lambda fetched: fetched.cursor(0) if fetched.keys else None,
    "endCursor": lambda fetched: fetched.cursor(-1) if fetched.keys else None,
}


def _page_info(selection: Selection, info: GraphQLObjectType, details: FieldDetailsList) -> Part:
    fields: list[tuple[str, Callable[[DocumentPage], Any]]] = []
    for key, field_details in selection.subfields(info, details).items():
        name = field_details[0].node.name.value
        selection.require_plain(field_details)
        if name == "__typename":
            fields.append((key, lambda _fetched, typename=info.name: typename))
        elif name in _PAGE_INFO:
            fields.append((key, _PAGE_INFO[name]))
        else:
            raise Unsupported(f"field {info.name}.{name}")
    return lambda fetched, _fixed: {key: value(fetched) for key, value in fields}
