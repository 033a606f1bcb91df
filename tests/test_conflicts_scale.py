"""Conflicts at scale: 10,000 claims on one target are answered with a fixed number of SQL
statements, without loading the claims into Python, and the same number as for 100 claims."""

from __future__ import annotations

import re
import time
from typing import Any

import sqlalchemy as sa
from conflict_helpers import DEC, INC, MIXED, NONE, build_world, counting, gql, int_of

from schema.base import utcnow
from schema.bearing import directions_oppose
from schema.conflicts import ClaimContext, differing_aspects, pair_kind
from schema.enums import ClaimStatus, EffectDirection, EvidenceType, Modality, Stance
from schema.tables import (
    Claim,
    ClaimSearch,
    ClaimTarget,
    Condition,
    Evidence,
    Organism,
    Outcome,
    Source,
    Target,
)

QUERY = """query($target: String!) {
  conflicts(filter: {target: $target}) {
    totalCount
    nodes {
      kind
      directionCounts { direction count }
      pairs(first: 20) { totalCount nodes { kind left { id } right { id } differences { aspect } } }
    }
  }
}"""

_CLAIM_BATCH = re.compile(r"^SELECT claim\.id, .* FROM claim WHERE claim\.id IN \(", re.IGNORECASE)
LARGE = 10_000
OUTCOMES = ["disease activity", "CSF level", "remyelination", "relapse rate"]
# Four in ten INCREASES, four DECREASES, one NO_EFFECT, one MIXED.
DIRECTIONS = [INC, DEC, INC, DEC, NONE, INC, DEC, MIXED, INC, DEC]
# (organism, condition, sample type, evidence type)
CONTEXTS = [
    ("human", "RRMS", "CSF", EvidenceType.OBSERVATIONAL),
    ("human", "SPMS", "serum", EvidenceType.CLINICAL_TRIAL),
    ("mouse", "MS", None, EvidenceType.ANIMAL_MODEL),
]


def _pattern(index: int) -> tuple[str, str, tuple[Any, ...]]:
    """Claim `index`: its outcome, direction and context. Each block of 40 claims shares a
    context and holds every direction for every outcome, so 100 claims and 10,000 give the same
    shape of answer (4 conflicts; the most similar pairs first, in the same context)."""
    return OUTCOMES[index % 4], DIRECTIONS[(index // 4) % 10], CONTEXTS[(index // 40) % 3]


async def _bulk_claims(db, world, symbol: str, count: int) -> None:
    """`count` ACCEPTED claims about one target, written with bulk inserts in one transaction
    (test data: the rows the store commands would write, without one command per claim)."""
    async with db.read() as session:

        async def ids(table: Any, column: Any) -> dict[str, int]:
            return {name: id_ for id_, name in (await session.execute(sa.select(table.id, column))).all()}

        target_id = (await ids(Target, Target.symbol))[symbol]
        outcomes = await ids(Outcome, Outcome.name)
        organisms = await ids(Organism, Organism.common_name)
        conditions = {
            "MS": (await ids(Condition, Condition.name))["multiple sclerosis"],
            "RRMS": (await ids(Condition, Condition.name))["relapsing-remitting multiple sclerosis"],
            "SPMS": (await ids(Condition, Condition.name))["secondary progressive multiple sclerosis"],
        }
        source_id = await session.scalar(sa.select(sa.func.min(Source.id)))
    now = utcnow()
    rows = []
    for index in range(count):
        outcome, direction, (organism, condition, sample_type, evidence_type) = _pattern(index)
        rows.append(
            {
                "statement": f"{symbol} {direction.lower()} {outcome} (bulk claim {index})",
                "subject_target_id": target_id,
                "subject_intervention_id": None,
                "outcome_id": outcomes[outcome],
                "direction": direction,
                "modality": Modality.ASSERTED,
                "evidence_type": evidence_type,
                "organism_id": organisms[organism],
                "condition_id": conditions[condition],
                "sample_type": sample_type,
                "source_id": source_id,
                "status": ClaimStatus.ACCEPTED,
                "version": 1,
                "fingerprint": f"bulk-{symbol}-{index}",
                "created_by_id": world.admin.user_id,
                "created_at": now,
                "updated_at": now,
            }
        )
    async with db.write(world.admin) as w:
        s = w.session
        await s.execute(sa.insert(Claim), rows)
        made = (
            await s.execute(
                sa.select(Claim.id, Claim.direction, Claim.statement)
                .where(Claim.fingerprint.like(f"bulk-{symbol}-%"))
                .order_by(Claim.id)
            )
        ).all()
        assert len(made) == count
        await s.execute(
            sa.insert(ClaimTarget),
            [
                {"claim_id": i, "target_id": target_id, "via_intervention_id": None, "target_direction": d}
                for i, d, _ in made
            ],
        )
        await s.execute(
            sa.insert(Evidence),
            [
                {
                    "claim_id": i,
                    "position": 0,
                    "source_id": source_id,
                    "quote": "A quote.",
                    "stance": Stance.SUPPORTS,
                    "created_at": now,
                }
                for i, _, _ in made
            ],
        )
        await s.execute(
            sa.insert(ClaimSearch), [{"claim_id": i, "document": f"{st}\nA quote."} for i, _, st in made]
        )


async def _measure(db, settings, symbol: str) -> tuple[dict[str, Any], Any, float]:
    with counting(db) as counter:
        started = time.perf_counter()
        data = await gql(db, settings, QUERY, {"target": symbol})
        elapsed = time.perf_counter() - started
    return data["conflicts"], counter, elapsed


def _context(c: Claim) -> ClaimContext:
    return ClaimContext(
        c.organism_id, c.condition_id, c.cohort_id, c.sample_type, c.evidence_type.value,
        c.subject_intervention_id,
    )  # fmt: skip


def _claim_batches(counter: Any) -> list[str]:
    return [s for s in counter.statements if _CLAIM_BATCH.match(" ".join(s.split()))]


def _others(counter: Any) -> list[str]:
    batches = _claim_batches(counter)
    return [s for s in counter.statements if s not in batches]


async def test_ten_thousand_claims_on_one_target(db, settings, backend, capsys) -> None:
    world = await build_world(db)
    started = time.perf_counter()
    await _bulk_claims(db, world, "PDE4", 100)
    await _bulk_claims(db, world, "MIF", LARGE)
    load_time = time.perf_counter() - started

    small, small_counter, small_time = await _measure(db, settings, "PDE4")
    big, big_counter, big_time = await _measure(db, settings, "MIF")
    with capsys.disabled():
        print(
            f"\n[{backend}] conflicts on one target: 100 claims {small_time:.2f} s, {LARGE} claims "
            f"{big_time:.2f} s ({len(big_counter.statements)} statements, "
            f"{big_counter.claims_loaded} claims loaded; test data written in {load_time:.1f} s)"
        )

    # The answer is right: 4 questions, with pair totals from the direction counts.
    per_question = LARGE // 4
    expected_counts = {INC: per_question * 4 // 10, DEC: per_question * 4 // 10, NONE: per_question // 10}
    expected_counts[MIXED] = per_question - sum(expected_counts.values())
    assert big["totalCount"] == 4, big["totalCount"]
    for conflict in big["nodes"]:
        counts = {row["direction"]: row["count"] for row in conflict["directionCounts"]}
        assert counts == expected_counts, counts
        up, down, none = counts[INC], counts[DEC], counts[NONE]
        assert conflict["pairs"]["totalCount"] == up * down + (up + down) * none
        assert conflict["kind"] == "DIRECT"
        pairs = conflict["pairs"]["nodes"]
        assert len(pairs) == 20
        assert all(p["kind"] == "DIRECT" and p["differences"] == [] for p in pairs), (
            "the most similar pairs (same context) come first"
        )
    assert small["totalCount"] == 4 and all(len(c["pairs"]["nodes"]) == 20 for c in small["nodes"])

    # The pairs on the pages oppose, and schema.conflicts agrees on their kind and differences.
    listed = [
        (int_of(p["left"]["id"]), int_of(p["right"]["id"])) for c in big["nodes"] for p in c["pairs"]["nodes"]
    ]
    async with db.read() as session:
        wanted = {i for pair in listed for i in pair}
        rows = {c.id: c for c in (await session.scalars(sa.select(Claim).where(Claim.id.in_(wanted)))).all()}
    for left, right in listed:
        a, b = rows[left], rows[right]
        assert a.outcome_id == b.outcome_id and directions_oppose(
            EffectDirection(a.direction), EffectDirection(b.direction)
        ), f"claims {left} and {right} do not oppose"
        ca, cb = _context(a), _context(b)
        assert differing_aspects(ca, cb) == [] and pair_kind(
            ca, cb, a.condition_id == b.condition_id
        ).value == ("DIRECT"), f"claims {left} and {right}"

    # A fixed number of statements, whatever the number of claims. The claim DataLoader may
    # dispatch once per conflict (each conflict's pairs arrive from their own statement at their
    # own time; see test_pairs_of_a_page_of_conflicts_cost_a_fixed_number_of_statements), so
    # its batches are bounded by the conflicts on the page and every other statement must match.
    for counter in (small_counter, big_counter):
        assert len(_claim_batches(counter)) <= 4, counter.listing()
    assert len(_others(big_counter)) == len(_others(small_counter)), (
        f"100 claims took these statements:\n{small_counter.listing()}\n"
        f"{LARGE} claims took these:\n{big_counter.listing()}"
    )
    assert len(_others(big_counter)) <= 1 + 2 + 4, big_counter.listing()
    # Only the claims on the pages are loaded: 4 conflicts x 20 pairs x 2 claims at most.
    assert big_counter.claims_loaded <= 4 * 20 * 2, (
        f"{big_counter.claims_loaded} Claim rows were loaded for pages of at most 160 claims"
    )


PAGE_OF_CONFLICTS = """query($first: Int) {
  conflicts(first: $first) { nodes { kind pairs(first: 5) { nodes { kind } } } }
}"""


async def test_pairs_of_a_page_of_conflicts_cost_a_fixed_number_of_statements(seeded_db, settings) -> None:
    counts = {}
    for first in (1, 4):
        with counting(seeded_db) as counter:
            data = await gql(seeded_db, settings, PAGE_OF_CONFLICTS, {"first": first})
        assert len(data["conflicts"]["nodes"]) == first, "the seeds hold five conflicts"
        counts[first] = counter
    assert len(counts[4].statements) == len(counts[1].statements), (
        f"one conflict with its pairs took {len(counts[1].statements)} statements, four took "
        f"{len(counts[4].statements)}:\n{counts[4].listing()}"
    )
