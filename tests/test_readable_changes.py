"""Audit events read in GraphQL terms (AuditEvent.changes): field names, references with their
names, enums by name; the stored content and its hash chain are untouched."""

from __future__ import annotations

from typing import Any

from curation_helpers import Api, World, create_claim, verify

from api.store.db import Database

HISTORY = """
query($id: ID!) { node(id: $id) { ... on Claim { history { nodes {
  action before after requestId changes { field before after }
} } } } }
"""


def _changes(event: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["before"], c["after"]) for c in event["changes"]}


async def test_a_claims_history_reads_in_graphql_terms(api: Api, db: Database, world: World) -> None:
    claim = await create_claim(api, world, "alice", cohort={"label": "RRMS", "size": 22})
    rita = world.tokens["rita"]
    await api.ok(
        "updateClaim",
        {"id": claim["id"], "expectedVersion": 1, "outcome": "CSF MIF level", "modality": "HEDGED",
         "statistics": {"pValue": 0.01}, "comment": "the source hedges"},
        token=rita,
    )  # fmt: skip
    events = (await api.data(HISTORY, {"id": claim["id"]}, token=rita))["node"]["history"]["nodes"]
    created, updated = events[0], events[-1]
    assert created["action"] == "claim.create" and updated["action"] == "claim.update"
    assert created["requestId"] and updated["requestId"] and created["requestId"] != updated["requestId"]

    made = _changes(created)
    assert made["statement"] == (None, "IL-6R signalling lowers the relapse rate in RRMS.")
    assert made["subject"][1]["name"] == "IL-6R" and made["subject"][1]["id"].startswith("VGFyZ2V0")
    assert made["outcome"][1]["name"] == world.outcome
    assert made["cohort"][1]["name"] == "RRMS"
    assert made["direction"] == (None, "DECREASES") and made["evidenceType"] == (None, "OBSERVATIONAL")
    assert made["source"][1]["id"].startswith("U291cmNl"), made["source"]  # a Source global ID
    (quote,) = made["evidence"][1]
    assert quote["quote"] == "Relapses were fewer." and quote["source"]["name"], quote
    assert not any(field.endswith("Id") or "_" in field for field in made), sorted(made)

    changed = _changes(updated)
    assert changed["outcome"][0]["name"] == world.outcome
    assert changed["outcome"][1]["name"] == "CSF MIF level"
    assert changed["modality"] == ("ASSERTED", "HEDGED")
    assert changed["statistics.pValue"] == (None, 0.01)
    assert changed["version"] == (1, 2)
    # The stored content is as it was: the chain still verifies.
    assert (await verify(db)).broken is None
