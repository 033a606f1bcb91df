"""Keyset pagination with opaque cursors.

A page is ordered by a tuple of sort keys ending in the primary key, so every row has a unique
position; a cursor is that position, encoded. Fetching a page is one indexed range scan
(`WHERE (k1, k2, id) > (:k1, :k2, :id) ORDER BY k1, k2, id LIMIT n + 1`), however deep the page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa

DEFAULT_PAGE = 20
MAX_PAGE = 100
# Sort keys are 32-bit integers (ids, sizes, years); a cursor holding more was not made by us.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class PageArgumentError(ValueError):
    """Bad paging arguments or a cursor that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def validated(self, max_page: int = MAX_PAGE, default: int = DEFAULT_PAGE) -> PageRequest:
        if self.first is not None and self.last is not None:
            raise PageArgumentError("give either first or last, not both")
        for name, value in (("first", self.first), ("last", self.last)):
            if value is not None and not 0 <= value <= max_page:
                raise PageArgumentError(f"{name} must be between 0 and {max_page}; got {value}")
        if self.after is not None and self.before is not None:
            raise PageArgumentError("give either after or before, not both")
        if self.first is not None and self.before is not None:
            raise PageArgumentError("first pages forward from `after`; to page back from `before`, use last")
        if self.last is not None and self.after is not None:
            raise PageArgumentError("last pages back from `before`; to page on from `after`, use first")
        if self.last is None and self.first is None:
            if self.before is not None:
                return PageRequest(last=default, before=self.before)
            return PageRequest(first=default, after=self.after)
        return self

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        return self.last if self.last is not None else (self.first or 0)

    @property
    def cursor(self) -> str | None:
        return self.before if self.backward else self.after


@dataclass(frozen=True)
class SortKey:
    """One column (or expression) of an ordering, and how its values go into a cursor."""

    expression: Any
    kind: str = "int"  # int | float | str | date | datetime

    def encode(self, value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        return value

    def decode(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            if self.kind == "datetime":
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:  # we only ever write aware UTC times into cursors
                    raise ValueError
                return moment
            if self.kind == "date":
                return date.fromisoformat(value)
            if self.kind == "int":
                if not isinstance(value, int) or isinstance(value, bool) or not _INT_MIN <= value <= _INT_MAX:
                    raise TypeError
                return value
            if self.kind == "float":
                return float(value)
            return str(value)
        except (TypeError, ValueError):
            raise PageArgumentError("the cursor is not valid for this list") from None


@dataclass(frozen=True)
class Ordering:
    name: str  # part of the cursor, so a cursor from another ordering is refused
    keys: Sequence[SortKey]
    descending: bool = False

    def order_by(self, reverse: bool = False) -> list[Any]:
        desc = self.descending != reverse
        return [k.expression.desc() if desc else k.expression.asc() for k in self.keys]

    def after(self, values: Sequence[Any], reverse: bool = False) -> Any:
        """The condition for rows strictly after `values` in this order (before, if reverse)."""
        left = sa.tuple_(*[k.expression for k in self.keys])
        right = sa.tuple_(*[sa.literal(v, type_=_type_of(k)) for k, v in zip(self.keys, values, strict=True)])
        return left < right if self.descending != reverse else left > right

    def encode_cursor(self, values: Sequence[Any]) -> str:
        payload = [self.name, *[k.encode(v) for k, v in zip(self.keys, values, strict=True)]]
        return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")

    def decode_cursor(self, cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            payload = orjson.loads(raw)
        except (binascii.Error, ValueError, orjson.JSONDecodeError):
            raise PageArgumentError(f"'{cursor[:40]}' is not a cursor from this API") from None
        if not isinstance(payload, list) or len(payload) != len(self.keys) + 1 or payload[0] != self.name:
            raise PageArgumentError("the cursor belongs to another list or ordering")
        return [k.decode(v) for k, v in zip(self.keys, payload[1:], strict=True)]


def _type_of(key: SortKey) -> Any:
    expression_type = getattr(key.expression, "type", None)
    return expression_type if expression_type is not None else sa.types.NullType()


@dataclass
class Page:
    """One page of rows plus what a Relay connection needs to describe it."""

    rows: list[Any]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Any]  # coroutine factory: the exact total, run only when asked for


async def fetch_page(
    session: Any,
    statement: sa.Select,
    ordering: Ordering,
    page: PageRequest,
    key_of: Callable[[Any], Sequence[Any]],
    count: Callable[[], Any],
) -> Page:
    """Run `statement` (already filtered) as one keyset page.

    `key_of(row)` gives a row's sort-key values (same order as `ordering.keys`).
    """
    page = page.validated()
    stmt = page_statement(statement, ordering, page)
    rows = list((await session.execute(stmt)).all()) if page.size else []
    return page_of_rows(rows, ordering, page, key_of, count)


def page_statement(statement: sa.Select, ordering: Ordering, page: PageRequest) -> sa.Select:
    """`statement` narrowed to one page of a validated request: after (or before) the cursor, in
    the ordering's direction (reversed when paging backwards), one row more than the page holds
    (which tells whether there is a next page). A bad cursor raises PageArgumentError."""
    stmt = statement
    if page.cursor is not None:
        stmt = stmt.where(ordering.after(ordering.decode_cursor(page.cursor), reverse=page.backward))
    return stmt.order_by(*ordering.order_by(reverse=page.backward)).limit(page.size + 1)


def page_of_rows(
    rows: list[Any],
    ordering: Ordering,
    page: PageRequest,
    key_of: Callable[[Any], Sequence[Any]],
    count: Callable[[], Any],
    encode: bool = True,
) -> Page:
    """The Page of the rows `page_statement` fetched (in its order): the extra row dropped, a
    backward page turned back into the ordering's direction, a cursor for every row (unless not
    `encode`: then `cursors` stays empty and the caller encodes the ones it needs)."""
    more = len(rows) > page.size
    rows = rows[: page.size]
    if page.backward:
        rows.reverse()
    cursors = [ordering.encode_cursor(key_of(row)) for row in rows] if encode else []
    return Page(
        rows=rows,
        cursors=cursors,
        has_next_page=more if not page.backward else page.before is not None,
        has_previous_page=more if page.backward else page.after is not None,
        count=count,
    )
