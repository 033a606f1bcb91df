"""Keyset paging of claims: forward (first/after) and backward (last/before) through every claim
for every ClaimOrder, without gaps or repeats, in the right order, with exact totalCount."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from graphql_client import MS_FAMILY, SEEDED_CLAIMS, ClaimRow, all_claims, execute, gql

from api.settings import Settings
from api.store.db import Database

PAGE = """
query Page(
  $order: ClaimOrder, $filter: ClaimFilter, $first: Int, $after: String, $last: Int, $before: String
) {
  claims(orderBy: $order, filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { id } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

PAGE_SIZE = 8  # 68 seeded claims: eight full pages and a short one

SORT_KEYS: dict[str, Callable[[ClaimRow], tuple[Any, ...]]] = {
    "CREATED_AT": lambda r: (datetime.fromisoformat(r.created_at), r.int_id),
    # Undated sources sort first (ascending); a year-only source before its dated peers.
    "PUBLISHED": lambda r: (r.source_year or 0, r.source_published or date.min, r.int_id),
    # Claims without a cohort sort as size -1.
    "COHORT_SIZE": lambda r: (r.cohort_size if r.cohort_size is not None else -1, r.int_id),
}
ORDERS = [(field, direction) for field in SORT_KEYS for direction in ("ASC", "DESC")]


def expected_order(rows: list[ClaimRow], field: str, direction: str) -> list[str]:
    ordered = sorted(rows, key=SORT_KEYS[field], reverse=direction == "DESC")
    return [r.id for r in ordered]


async def page(db: Database, settings: Settings, **variables: Any) -> dict[str, Any]:
    data = await gql(db, settings, PAGE, variables)
    connection = data["claims"]
    assert [e["node"] for e in connection["edges"]] == connection["nodes"], "edges and nodes must agree"
    if connection["edges"]:
        assert connection["pageInfo"]["startCursor"] == connection["edges"][0]["cursor"]
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
    return connection


async def page_forward(
    db: Database, settings: Settings, order: dict[str, str] | None, size: int, filter_: Any = None
) -> tuple[list[str], list[str], int]:
    """Every claim, page by page with first/after; returns ids, their cursors, and the count."""
    ids: list[str] = []
    cursors: list[str] = []
    after = None
    totals = set()
    for _ in range(100):
        connection = await page(db, settings, order=order, filter=filter_, first=size, after=after)
        totals.add(connection["totalCount"])
        ids += [e["node"]["id"] for e in connection["edges"]]
        cursors += [e["cursor"] for e in connection["edges"]]
        info = connection["pageInfo"]
        if not info["hasNextPage"]:
            assert len(connection["edges"]) <= size
            break
        assert len(connection["edges"]) == size, f"{order}: a page before the last must be full"
        after = info["endCursor"]
    else:
        raise AssertionError(f"{order}: paging forward never ended")
    assert len(totals) == 1, f"{order}: totalCount changed between pages: {totals}"
    return ids, cursors, totals.pop()


async def page_backward(
    db: Database, settings: Settings, order: dict[str, str] | None, size: int
) -> tuple[list[str], int]:
    """Every claim, from the end, with last/before; returns ids in list order, and the count."""
    ids: list[str] = []
    before = None
    totals = set()
    for _ in range(100):
        connection = await page(db, settings, order=order, last=size, before=before)
        totals.add(connection["totalCount"])
        ids = [e["node"]["id"] for e in connection["edges"]] + ids
        info = connection["pageInfo"]
        if not info["hasPreviousPage"]:
            break
        assert len(connection["edges"]) == size, f"{order}: a page after the first must be full"
        before = info["startCursor"]
    else:
        raise AssertionError(f"{order}: paging backward never ended")
    assert len(totals) == 1, f"{order}: totalCount changed between pages: {totals}"
    return ids, totals.pop()


def assert_same_sequence(label: str, got: list[str], expected: list[str]) -> None:
    repeats = sorted({i for i in got if got.count(i) > 1})
    gaps = sorted(set(expected) - set(got))
    assert not repeats, f"{label}: claims repeated across pages: {repeats}"
    assert not gaps, f"{label}: claims skipped between pages: {gaps}"
    assert got == expected, f"{label}: wrong order;\n got      {got}\n expected {expected}"


async def test_the_default_order_is_newest_first(seeded_db: Database, settings: Settings) -> None:
    rows = await all_claims(seeded_db, settings)
    assert len(rows) == SEEDED_CLAIMS
    default_ids, _, _ = await page_forward(seeded_db, settings, None, PAGE_SIZE)
    assert_same_sequence("default order", default_ids, expected_order(rows, "CREATED_AT", "DESC"))


@pytest.mark.parametrize(("field", "direction"), ORDERS)
async def test_every_order_pages_forward_and_backward_without_gaps_or_repeats(
    seeded_db: Database, settings: Settings, field: str, direction: str
) -> None:
    rows = await all_claims(seeded_db, settings)
    order = {"field": field, "direction": direction}
    label = f"{field} {direction}"
    expected = expected_order(rows, field, direction)

    one_page = await page(seeded_db, settings, order=order, first=100)
    assert_same_sequence(f"{label}, one page", [n["id"] for n in one_page["nodes"]], expected)

    forward, cursors, total = await page_forward(seeded_db, settings, order, PAGE_SIZE)
    assert total == SEEDED_CLAIMS, f"{label}: totalCount {total}"
    assert_same_sequence(f"{label}, forward", forward, expected)

    backward, total = await page_backward(seeded_db, settings, order, PAGE_SIZE)
    assert total == SEEDED_CLAIMS
    assert_same_sequence(f"{label}, backward", backward, expected)

    # A cursor from paging forward serves paging back from the same point, and vice versa.
    middle = 20
    before = await page(seeded_db, settings, order=order, last=5, before=cursors[middle])
    assert [n["id"] for n in before["nodes"]] == expected[middle - 5 : middle], f"{label}: last 5 before"
    assert before["pageInfo"]["hasPreviousPage"] and before["pageInfo"]["hasNextPage"]
    after = await page(seeded_db, settings, order=order, first=5, after=cursors[middle])
    assert [n["id"] for n in after["nodes"]] == expected[middle + 1 : middle + 6], f"{label}: first 5 after"
    assert after["pageInfo"]["hasNextPage"]

    # Past the ends: empty pages that say so.
    end = await page(seeded_db, settings, order=order, first=5, after=cursors[-1])
    assert end["nodes"] == [] and not end["pageInfo"]["hasNextPage"], f"{label}: after the last claim"
    start = await page(seeded_db, settings, order=order, last=5, before=cursors[0])
    assert start["nodes"] == [] and not start["pageInfo"]["hasPreviousPage"], f"{label}: before the first"


async def test_paging_a_filtered_list_and_nested_connections(seeded_db: Database, settings: Settings) -> None:
    rows = await all_claims(seeded_db, settings)
    in_ms = [r for r in rows if r.condition in MS_FAMILY]
    order = {"field": "COHORT_SIZE", "direction": "DESC"}
    ids, _, total = await page_forward(
        seeded_db, settings, order, 3, {"condition": "MS", "organism": "human"}
    )
    expected = expected_order([r for r in in_ms if r.organism[1] == "human"], "COHORT_SIZE", "DESC")
    assert total == len(expected) and total > 3
    assert_same_sequence("MS in humans by cohort size", ids, expected)

    # Target.claims pages too (default order, newest first).
    seen: list[str] = []
    after = None
    while True:
        data = await gql(
            seeded_db,
            settings,
            """query($after: String) { target(symbol: "MIF") { claims(first: 4, after: $after) {
                 totalCount nodes { id } pageInfo { hasNextPage endCursor } } } }""",
            {"after": after},
        )
        connection = data["target"]["claims"]
        seen += [n["id"] for n in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    mif = expected_order([r for r in rows if r.bears_on("MIF")], "CREATED_AT", "DESC")
    assert connection["totalCount"] == 12
    assert_same_sequence("Target.claims for MIF", seen, mif)


async def test_first_with_before_or_last_with_after_is_never_silently_ignored(
    seeded_db: Database, settings: Settings
) -> None:
    """Relay allows first+before and last+after; an API may refuse them, but must not ignore
    the cursor and return a page from elsewhere in the list."""
    rows = await all_claims(seeded_db, settings)
    expected = expected_order(rows, "CREATED_AT", "DESC")
    _, cursors, _ = await page_forward(seeded_db, settings, None, 100)
    for arguments, allowed in (
        ({"first": 20, "before": cursors[5]}, set(expected[:5])),
        ({"last": 20, "after": cursors[45]}, set(expected[46:])),
    ):
        result = await execute(seeded_db, settings, PAGE, arguments)
        if result.errors:
            assert result.errors[0].message != "Internal server error.", result.errors
            continue
        got = {n["id"] for n in result.data["claims"]["nodes"]}
        assert got <= allowed, f"{list(arguments)}: the cursor was ignored; got claims outside the window"
