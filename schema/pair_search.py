"""The first opposing pairs of one conflict question, found without pairing every claim.

A question's claims fall into *context groups*: the same direction and the same context
(organism, condition, cohort, sample type, evidence type, intervention). Every claim pair between
two groups has the same kind and the same differences, so a page of pairs is planned on group
pairs, ordered by (rank, differences, left group, right group): rank 0 (DIRECT) before 1
(CONTEXTUAL), fewer differing aspects first, then the groups' first claim ids.

With a cohort per study, groups are nearly as many as claims, and a hot question (2,000 claims)
has millions of group pairs: ranking them all in SQL took 20 s. A page needs only the first few,
so the search walks the order level by level, (rank, differences) = (0, 0), (0, 1), ... (1, 6),
and finds a level's pairs through buckets: two groups that differ in exactly d aspects agree on
the other 6 - d, so they share a bucket keyed by those aspects' values. Within a level it takes
left groups in id order and stops as soon as the page is full, so the work is about the size of
the page, not of the question (it grows towards the full pairing only when opposing pairs are
rare, when there are few pairs anyway).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from schema.bearing import directions_oppose
from schema.enums import EffectDirection

ASPECTS = 6  # organism, condition, cohort, sample type, evidence type, intervention (in that order)
_ORGANISM, _CONDITION = 0, 1


@dataclass(frozen=True, slots=True)
class Group:
    first_id: int  # the group's smallest claim id: its name within the question
    direction: EffectDirection
    context: tuple[Any, ...]  # the ASPECTS values, in the order above


@dataclass(frozen=True, slots=True, order=True)
class GroupPair:
    rank: int  # 0 DIRECT, 1 CONTEXTUAL
    ndiff: int
    left_group: int  # left_group < right_group
    right_group: int


# Whether two condition ids are related: the same (both None counts as the same) or one an
# ancestor of the other.
ConditionsRelated = Callable[[Any, Any], bool]


def pair_of(a: Group, b: Group, related: ConditionsRelated) -> GroupPair:
    """The rank and differences of two groups (as api.store.queries.conflicts computes in SQL)."""
    left, right = (a, b) if a.first_id < b.first_id else (b, a)
    ndiff = sum(1 for x, y in zip(left.context, right.context, strict=True) if x != y)
    direct = (
        left.context[_ORGANISM] == right.context[_ORGANISM]
        and left.context[_ORGANISM] is not None
        and related(left.context[_CONDITION], right.context[_CONDITION])
    )
    return GroupPair(0 if direct else 1, ndiff, left.first_id, right.first_id)


# For each direction, the directions that oppose it (schema.bearing.directions_oppose).
_OPPOSING: dict[EffectDirection, tuple[EffectDirection, ...]] = {
    d: tuple(e for e in EffectDirection if directions_oppose(d, e)) for d in EffectDirection
}


@dataclass
class _Buckets:
    """Groups bucketed by direction and their values on a subset of aspects, each bucket in
    first_id order. Looking only in the opposing directions' buckets, a search never scans a
    pair that cannot conflict."""

    groups: Sequence[Group]
    _tables: dict[tuple[int, ...], dict[tuple[Any, ...], list[Group]]] = field(default_factory=dict)

    def after(self, subset: tuple[int, ...], direction: EffectDirection, left: Group) -> Sequence[Group]:
        """The groups of `direction` agreeing with `left` on `subset`, with a larger first_id."""
        table = self._tables.get(subset)
        if table is None:
            table = {}
            for g in self.groups:  # in first_id order, so every bucket is too
                table.setdefault((g.direction, *(g.context[i] for i in subset)), []).append(g)
            self._tables[subset] = table
        bucket = table.get((direction, *(left.context[i] for i in subset)), [])
        return bucket[bisect.bisect_right(bucket, left.first_id, key=lambda g: g.first_id) :]


# Up to this many groups, pairing them all (n²/2 pairs ranked, about a microsecond each) costs
# less than the bucketed walk, which looks each left group up in 96-192 buckets when the page
# fills late: on a small database, that walk was 19 ms of a 45 ms conflicts page.
PAIR_ALL_UP_TO = 64


def first_group_pairs(
    groups: Sequence[Group],
    related: ConditionsRelated,
    limit: int,
    start: GroupPair | None = None,
    pair_all_up_to: int = PAIR_ALL_UP_TO,
) -> list[GroupPair]:
    """The first `limit` opposing group pairs at or after `start`, in order."""
    if len(groups) <= pair_all_up_to:
        return _first_of_every_pair(groups, related, limit, start)
    ordered = sorted(groups, key=lambda g: g.first_id)
    buckets = _Buckets(ordered)
    out: list[GroupPair] = []
    for rank in (0, 1):
        for ndiff in range(ASPECTS + 1):
            if start is not None and (rank, ndiff) < (start.rank, start.ndiff):
                continue
            at = start if start is not None and (rank, ndiff) == (start.rank, start.ndiff) else None
            for pair in _level(ordered, buckets, related, rank, ndiff, at):
                out.append(pair)
                if len(out) >= limit:
                    return out
    return out


def _level(
    ordered: Sequence[Group],
    buckets: _Buckets,
    related: ConditionsRelated,
    rank: int,
    ndiff: int,
    start: GroupPair | None,
) -> Iterator[GroupPair]:
    """The pairs of one (rank, differences) level, in (left group, right group) order."""
    # The aspects a pair of this level agrees on; a DIRECT pair always agrees on the organism.
    subsets = [
        subset for subset in combinations(range(ASPECTS), ASPECTS - ndiff) if rank == 1 or _ORGANISM in subset
    ]
    if not subsets:
        return
    first = 0 if start is None else bisect.bisect_left(ordered, start.left_group, key=lambda g: g.first_id)
    for left in ordered[first:]:
        seen: set[int] = set()
        found: list[GroupPair] = []
        for direction in _OPPOSING[left.direction]:
            for subset in subsets:
                for right in buckets.after(subset, direction, left):
                    if right.first_id in seen:
                        continue
                    seen.add(right.first_id)
                    pair = pair_of(left, right, related)
                    if pair.rank == rank and pair.ndiff == ndiff and (start is None or pair >= start):
                        found.append(pair)
        yield from sorted(found)


def _first_of_every_pair(
    groups: Sequence[Group], related: ConditionsRelated, limit: int, start: GroupPair | None
) -> list[GroupPair]:
    """The same answer by ranking every opposing pair: for a few groups."""
    pairs = [
        pair_of(a, b, related) for a, b in combinations(groups, 2) if b.direction in _OPPOSING[a.direction]
    ]
    if start is not None:
        pairs = [pair for pair in pairs if pair >= start]
    return heapq.nsmallest(limit, pairs)
