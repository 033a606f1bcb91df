"""An evidence-summary cell opens onto exactly the claims it counts (EvidenceCell.claims)."""

from __future__ import annotations

from graphql_client import gql

from api.settings import Settings
from api.store.db import Database
from schema.enums import Role
from schema.users import Actor

REVIEWER = Actor(None, "cell-reviewer", Role.REVIEWER)

SUMMARY = """
query($target: String!, $filter: ClaimFilter) {
  evidenceSummary(target: $target, filter: $filter) {
    total
    cells {
      direction count outcome { name } condition { name }
      claims(first: 100) {
        totalCount
        nodes { id direction outcome { name } condition { name } targets { symbol } }
      }
    }
  }
}
"""

TARGETS = "{ targets(first: 100) { nodes { symbol } } }"


async def test_every_seeded_cell_lists_exactly_the_claims_it_counts(
    seeded_db: Database, settings: Settings
) -> None:
    symbols = [n["symbol"] for n in (await gql(seeded_db, settings, TARGETS))["targets"]["nodes"]]
    checked = 0
    for symbol in symbols:
        for actor, filter in ((None, None), (REVIEWER, None), (None, {"organism": "human"})):
            summary = (
                await gql(seeded_db, settings, SUMMARY, {"target": symbol, "filter": filter}, actor=actor)
            )["evidenceSummary"]
            seen: set[str] = set()
            for cell in summary["cells"]:
                claims = cell["claims"]
                assert claims["totalCount"] == cell["count"], (symbol, filter, cell)
                assert len(claims["nodes"]) == cell["count"], (symbol, filter, cell)
                for node in claims["nodes"]:
                    assert node["outcome"] == cell["outcome"], (symbol, node, cell)
                    assert node["condition"] == cell["condition"], (symbol, node, cell)
                    assert symbol in [t["symbol"] for t in node["targets"]], (symbol, node)
                    assert node["id"] not in seen, f"{symbol}: a claim counted in two cells"
                    seen.add(node["id"])
                checked += 1
            assert len(seen) <= summary["total"]
    assert checked > 10, "the seeds should give a good number of cells"


async def test_a_cell_of_an_inhibitor_shows_the_claim_turned_over(
    seeded_db: Database, settings: Settings
) -> None:
    """A claim about an intervention that inhibits the target counts in the target-level
    direction opposite to its own: the cell lists it with its own direction."""
    summary = (await gql(seeded_db, settings, SUMMARY, {"target": "IL-6R"}))["evidenceSummary"]
    turned = [
        node
        for cell in summary["cells"]
        for node in cell["claims"]["nodes"]
        if {node["direction"], cell["direction"]} == {"INCREASES", "DECREASES"}
    ]
    assert turned, "IL-6R's cells hold claims about its inhibitors, read turned over"
