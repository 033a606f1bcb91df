"""Relay plumbing shared by every type: Node, PageInfo, generic connections, the JSON scalar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.errors import ClientError
from api.graphql.ids import to_global_id
from api.store.errors import Ref, StoreError
from api.store.queries.pagination import Page, PageArgumentError, PageRequest

T = TypeVar("T")

JSON = strawberry.scalars.JSON  # any JSON value (the before and after of audit events)

GraphQLInfo = Info[Context, None]


@strawberry.interface(description="An object with a global ID, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


@strawberry.type(description="Where a page stands in its list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` or `before` to page from here.")
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T] = strawberry.field(description="The page's objects, without cursors.")
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many objects the whole list holds (exact).")
    async def total_count(self) -> int:
        return await self._count()


def page_request(first: int | None, after: str | None, last: int | None, before: str | None) -> PageRequest:
    try:
        return PageRequest(first, after, last, before).validated()
    except PageArgumentError as exc:
        raise ClientError(str(exc)) from None


def to_connection(page: Page, convert: Callable[[Any], T]) -> Connection[T]:
    nodes = [convert(row) for row in page.rows]
    return Connection(
        edges=[Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        _count=page.count,
    )


async def paged(coro: Awaitable[Page]) -> Page:
    """Await a store page, turning bad cursors and unknown names into client errors."""
    try:
        return await coro
    except PageArgumentError as exc:
        raise ClientError(str(exc)) from None
    except StoreError as exc:
        raise read_error(exc) from None


def _global_id(ref: Ref) -> str:
    return to_global_id(ref.type_name, ref.id)


def read_error(exc: StoreError) -> ClientError:
    """A read's StoreError (an unknown name in a filter) as a GraphQL error: its code (e.g.
    NOT_FOUND), its message with the closest names, and the argument path in `field`."""
    first = exc.errors[0]
    message = "; ".join(
        (f"{'.'.join(e.field)}: " if e.field else "") + e.render(_global_id) for e in exc.errors
    )
    error = ClientError(message, first.code.value)
    error.extensions = {"code": first.code.value, "field": list(first.field)}
    return error
