"""The bucketed pair search (schema.pair_search) against the obvious answer: every opposing pair
of groups, ranked and sorted. Random questions from fixed seeds, so a failure repeats."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from itertools import combinations

import pytest

from schema.bearing import directions_oppose
from schema.enums import EffectDirection
from schema.pair_search import PAIR_ALL_UP_TO, Group, GroupPair, first_group_pairs, pair_of

# A small condition tree: 1 > 2 > 3, 1 > 4; 5 stands alone. None (no condition) is related
# only to None.
_LINEAGE = {(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (1, 2), (1, 3), (2, 3), (1, 4)}


def related(x: int | None, y: int | None) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return (x, y) in _LINEAGE or (y, x) in _LINEAGE


def random_groups(rng: random.Random, n: int, variety: int) -> list[Group]:
    """n distinct groups; `variety` bounds how many values each aspect takes (small: many ties)."""
    groups: dict[tuple, Group] = {}
    next_id = 1
    while len(groups) < n:
        direction = rng.choice(list(EffectDirection))
        context = (
            rng.choice([1, 2, 3, None][: max(1, min(4, variety))]),
            rng.choice([None, 1, 2, 3, 4, 5][: variety + 1]),
            rng.choice([None, *range(100, 100 + variety)]),
            rng.choice([None, "serum", "CSF"][: variety + 1]),
            rng.choice(["OBSERVATIONAL", "INTERVENTIONAL", "GENETIC"][: max(1, variety)]),
            rng.choice([None, *range(200, 200 + variety)]),
        )
        if (direction, context) not in groups:
            next_id += rng.randint(1, 5)
            groups[(direction, context)] = Group(next_id, direction, context)
    return list(groups.values())


def every_pair_unsorted(groups: list[Group]) -> Iterator[GroupPair]:
    return (
        pair_of(a, b, related)
        for a, b in combinations(groups, 2)
        if directions_oppose(a.direction, b.direction)
    )


def every_pair(groups: list[Group]) -> list[GroupPair]:
    return sorted(every_pair_unsorted(groups))


@pytest.mark.parametrize("pair_all_up_to", [0, PAIR_ALL_UP_TO], ids=["bucketed", "every-pair"])
@pytest.mark.parametrize("seed", range(40))
def test_first_pairs_equal_the_sorted_pairing(seed: int, pair_all_up_to: int) -> None:
    """Both ways of searching (the bucketed walk; every pair ranked, for small questions)."""
    rng = random.Random(seed)
    groups = random_groups(rng, rng.randint(2, 60), rng.randint(1, 4))
    rng.shuffle(groups)  # the search must not rely on its input's order
    expected = every_pair(groups)

    def search(limit: int, start: GroupPair | None = None) -> list[GroupPair]:
        return first_group_pairs(groups, related, limit, start, pair_all_up_to=pair_all_up_to)

    for limit in (1, 3, 12, len(expected) + 5):
        assert search(limit) == expected[:limit], f"limit {limit}"
    # From any pair on (what a cursor resumes from), the same as slicing the full order.
    for index in sorted({0, len(expected) // 2, len(expected) - 1}):
        if not expected:
            break
        start = expected[index]
        assert search(7, start) == expected[index : index + 7], f"from {start}"


def test_direct_pairs_need_a_known_organism() -> None:
    up = Group(1, EffectDirection.INCREASES, (None, None, None, None, "OBSERVATIONAL", None))
    down = Group(2, EffectDirection.DECREASES, (None, None, None, None, "OBSERVATIONAL", None))
    assert pair_of(up, down, related) == GroupPair(1, 0, 1, 2), "unknown organisms are not 'the same'"


def test_a_large_question_is_searched_without_pairing_every_group() -> None:
    """800 groups (320,000 pairs): the first page ranks a few hundred pairs, not all of them."""
    rng = random.Random(7)
    groups = random_groups(rng, 800, 40)
    calls = 0

    def counting(x: int | None, y: int | None) -> bool:
        nonlocal calls
        calls += 1
        return related(x, y)

    page = first_group_pairs(groups, counting, 12)
    assert len(page) == 12
    assert calls < 5_000, f"{calls} pairs ranked for one page"
    assert page == heapq.nsmallest(12, every_pair_unsorted(groups))
