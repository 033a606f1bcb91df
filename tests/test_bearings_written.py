"""Every path that writes claim_target rows writes each bearing's action (issue 14, item 4):
creating a claim (the seeds go through it), adding an intervention action afterwards, and the
bulk import. Claim.bearings then shows target, target-level direction, via and action, and the
compiled read path answers with the same bytes as the resolvers (graphql_client.execute checks)."""

from __future__ import annotations

import sqlalchemy as sa
from curation_helpers import ADMIN, World, build_world
from graphql_client import execute, gql

from api.graphql.compiled import Outcome
from api.settings import Settings
from api.store.bulk import import_claims
from api.store.commands.claims import create_claim
from api.store.commands.vocabulary import ActionInput, InterventionInput, add_action, create_intervention
from api.store.db import Database
from schema.enums import ClaimStatus, EffectDirection, EvidenceType, Modality, TargetAction
from schema.records import ClaimRecord, EvidenceRecord
from schema.tables import ClaimTarget

BEARINGS = """
query Bearings($filter: ClaimFilter) {
  claims(filter: $filter, first: 100) {
    nodes {
      id direction
      subject { __typename ... on Target { symbol } ... on Intervention { name } }
      bearings { target { symbol } direction via { name } action }
    }
  }
}
"""

TURNED_OVER = {"INCREASES": "DECREASES", "DECREASES": "INCREASES"}


async def test_seeded_tocilizumab_claims_bear_on_il6r_turned_over(
    seeded_db: Database, settings: Settings
) -> None:
    seen: list[Outcome] = []
    result = await execute(
        seeded_db,
        settings,
        BEARINGS,
        {"filter": {"target": "IL-6R", "intervention": "tocilizumab"}},
        outcome=seen,
    )
    assert not result.errors, result.errors
    assert seen and all(o.compiled for o in seen), f"Claim.bearings should be compiled: {seen}"
    nodes = result.data["claims"]["nodes"]  # type: ignore[index]
    assert len(nodes) >= 2, "the seeds hold several claims about tocilizumab"
    for node in nodes:
        il6r = [b for b in node["bearings"] if b["target"]["symbol"] == "IL-6R"]
        assert il6r == [
            {
                "target": {"symbol": "IL-6R"},
                "direction": TURNED_OVER.get(node["direction"], node["direction"]),
                "via": {"name": "tocilizumab"},
                "action": "INHIBITS",
            }
        ], node

    # Every seeded claim: one about a target bears on it with its own direction, through
    # nothing; one about an intervention bears through it (on each target it acts on), with the
    # action it takes there.
    every = await gql(seeded_db, settings, BEARINGS, {"filter": None})
    kinds = set()
    for node in every["claims"]["nodes"]:
        subject = node["subject"]
        kinds.add(subject["__typename"])
        if subject["__typename"] == "Target":
            assert node["bearings"] == [
                {"target": {"symbol": subject["symbol"]}, "direction": node["direction"], "via": None,
                 "action": None}
            ], node  # fmt: skip
        else:
            for bearing in node["bearings"]:
                assert bearing["via"] == {"name": subject["name"]} and bearing["action"] is not None, node
    assert kinds == {"Target", "Intervention"}, kinds


def _record(world: World, intervention: str, statement: str) -> ClaimRecord:
    return ClaimRecord(
        statement=statement,
        intervention=intervention,
        outcome=world.outcome,
        direction=EffectDirection.INCREASES,
        modality=Modality.ASSERTED,
        evidence_type=EvidenceType.OBSERVATIONAL,
        organism=world.organism,
        source=world.source_doi,
        evidence=[EvidenceRecord(quote="A verbatim quote.")],
    )


async def _rows(db: Database) -> set[tuple[str, str, str | None, str | None]]:
    """(statement, target, target-level direction, action) of every bearing."""
    from schema.tables import Claim, Target

    async with db.read() as session:
        rows = await session.execute(
            sa.select(Claim.statement, Target.symbol, ClaimTarget.target_direction, ClaimTarget.action)
            .join(Claim, Claim.id == ClaimTarget.claim_id)
            .join(Target, Target.id == ClaimTarget.target_id)
        )
        return {(s, t, d, a.value if a is not None else None) for s, t, d, a in rows.all()}


async def test_an_action_added_later_and_the_bulk_import_write_the_action(db: Database) -> None:
    world = await build_world(db)
    async with db.write(ADMIN) as w:
        await create_intervention(w, InterventionInput("drug X", "small molecule", [], [], []))
        await create_claim(w, _record(world, "drug X", "Drug X raises the relapse rate."))
        # Claims made before the action bear on the target from then on, with the action.
        await add_action(w, "drug X", ActionInput("MIF", TargetAction.INHIBITS))
        await add_action(w, "drug X", ActionInput("IL-6R", TargetAction.BINDS))
    async with db.write(ADMIN) as w:
        result = await import_claims(
            w,
            [_record(world, "tocilizumab", "Tocilizumab raises the relapse rate.")],
            statuses=[ClaimStatus.ACCEPTED],
        )
        assert result.inserted == 1
    assert await _rows(db) == {
        ("Drug X raises the relapse rate.", "MIF", "DECREASES", "INHIBITS"),
        ("Drug X raises the relapse rate.", "IL-6R", None, "BINDS"),
        ("Tocilizumab raises the relapse rate.", "IL-6R", "DECREASES", "INHIBITS"),
    }
