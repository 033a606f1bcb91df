"""Source standing (issue 14, item 7), on SQLite and PostgreSQL: reviewers set it with
setSourceStanding (by DOI, PMID, URL or global ID); a change that changes nothing stores nothing;
every claim whose inherited standing changes (those of the source and of every source retelling
it) gets an audit event that reads well; retracting a seeded paper takes its claims and its
retellings' claims out of conflicts and evidence summaries, and includeRetracted brings them back.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from curation_helpers import (
    Api,
    World,
    accepted_claim,
    counts,
    create_claim,
    events_after,
    last_event_id,
    verify,
)
from graphql_client import create_user, gql

from api.settings import Settings
from api.store.db import Database
from schema.base import utcnow
from schema.enums import Role

SET = """
mutation($input: SetSourceStandingInput!) {
  setSourceStanding(input: $input) {
    source { id standing standingNote standingSince }
    userErrors { field message code }
  }
}
"""

STANDINGS = "query($id: ID!) { node(id: $id) { ... on Claim { sourceStanding } } }"

EVENTS = """
query($id: ID!) {
  auditLog(filter: {entity: $id}, first: 5) { nodes { action comment changes { field before after } } }
}
"""


def _changes(event: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["before"], c["after"]) for c in event["changes"]}


async def test_set_source_standing(api: Api, db: Database, world: World) -> None:
    rita, alice = world.tokens["rita"], world.tokens["alice"]
    blog = await api.ok(
        "createSource",
        {"kind": "BLOG_POST", "title": "A post retelling the world", "derivedFrom": world.source_doi},
        token=alice,
    )
    paper_claim = await accepted_claim(api, world, "alice", "rita")
    blog_claim = await create_claim(api, world, "alice", source=blog["id"], statement="The post says so.")
    nothing = {"input": {"source": world.source_doi, "standing": "RETRACTED"}}

    # Refused: anonymous, a curator, an unknown source, a date in the future; nothing stored.
    before = await counts(db)
    assert (await api.errors(SET, nothing))[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.errors(SET, nothing, token=alice))[0]["extensions"]["code"] == "FORBIDDEN"
    unknown = (
        await api.data(SET, {"input": {"source": "10.9999/nope", "standing": "RETRACTED"}}, token=rita)
    )["setSourceStanding"]
    assert unknown["source"] is None
    assert [(e["code"], e["field"]) for e in unknown["userErrors"]] == [("NOT_FOUND", ["input", "source"])]
    future = (utcnow().date() + timedelta(days=3)).isoformat()
    late = (
        await api.data(
            SET, {"input": {"source": world.source_doi, "standing": "RETRACTED", "since": future}}, token=rita
        )
    )["setSourceStanding"]
    assert [(e["code"], e["field"]) for e in late["userErrors"]] == [("INVALID", ["input", "since"])]
    assert await counts(db) == before

    # Retracted: the source and both claims (its own and the retelling post's) are audited.
    mark = await last_event_id(db)
    retract = {
        "source": world.source_doi.upper(),
        "standing": "RETRACTED",
        "note": "Retracted: the cohort was counted twice.",
        "since": "2024-05-02",
    }
    done = (await api.data(SET, {"input": retract}, token=rita))["setSourceStanding"]
    assert done["userErrors"] == []
    assert done["source"] == {
        "id": world.source_id,
        "standing": "RETRACTED",
        "standingNote": "Retracted: the cohort was counted twice.",
        "standingSince": "2024-05-02",
    }
    events = await events_after(db, mark)
    assert [(e.action, e.entity_type) for e in events] == [
        ("source.standing", "Source"),
        ("claim.source_standing", "Claim"),
        ("claim.source_standing", "Claim"),
    ]
    for claim in (paper_claim, blog_claim):
        assert (await api.data(STANDINGS, {"id": claim["id"]}, token=rita))["node"] == {
            "sourceStanding": "RETRACTED"
        }
        (event, *_) = (await api.data(EVENTS, {"id": claim["id"]}, token=rita))["auditLog"]["nodes"]
        assert event["action"] == "claim.source_standing"
        assert _changes(event) == {"sourceStanding": ("CURRENT", "RETRACTED")}
        assert "A world of claims" in event["comment"] and "counted twice" in event["comment"]
    (source_event, *_) = (await api.data(EVENTS, {"id": world.source_id}, token=rita))["auditLog"]["nodes"]
    assert _changes(source_event) == {
        "standing": ("CURRENT", "RETRACTED"),
        "standingNote": (None, "Retracted: the cohort was counted twice."),
        "standingSince": (None, "2024-05-02"),
    }

    # The same again, or the standing alone (the note and date are kept): nothing stored.
    mark = await last_event_id(db)
    again = (await api.data(SET, {"input": retract}, token=rita))["setSourceStanding"]
    assert again["userErrors"] == [] and again["source"]["standing"] == "RETRACTED"
    same = {"source": world.source_id, "standing": "RETRACTED"}
    kept = (await api.data(SET, {"input": same}, token=rita))["setSourceStanding"]["source"]
    assert (
        kept["standingNote"] == "Retracted: the cohort was counted twice."
        and kept["standingSince"] == "2024-05-02"
    )
    assert await last_event_id(db) == mark

    # Marking the retelling post itself changes no claim's inherited standing (the paper's is worse).
    concern = {"source": blog["id"], "standing": "EXPRESSION_OF_CONCERN"}
    assert (await api.data(SET, {"input": concern}, token=rita))["setSourceStanding"]["userErrors"] == []
    assert [e.action for e in await events_after(db, mark)] == ["source.standing"]

    # Corrected instead: the note goes with the old standing, the date is today; claims follow.
    mark = await last_event_id(db)
    corrected = (
        await api.data(SET, {"input": {"source": world.source_doi, "standing": "CORRECTED"}}, token=rita)
    )["setSourceStanding"]["source"]
    assert corrected["standingNote"] is None
    assert date.fromisoformat(corrected["standingSince"]) >= utcnow().date() - timedelta(days=1)
    moved = {
        e.entity_id: (e.before, e.after) for e in await events_after(db, mark) if e.entity_type == "Claim"
    }
    assert sorted(moved.values(), key=str) == [
        ({"source_standing": "RETRACTED"}, {"source_standing": "CORRECTED"}),
        ({"source_standing": "RETRACTED"}, {"source_standing": "EXPRESSION_OF_CONCERN"}),
    ], moved
    assert (await verify(db)).broken is None


# --- the Done-when test: a seeded paper retracted ------------------------------------------

MIF_PAPER_DOI = "10.1016/j.jns.2022.120320"

SOURCES_AND_CLAIMS = """
{
  sources(first: 100) { nodes { id doi derivedFrom { id } } }
  claims(first: 100) { nodes { id source { id } } }
}
"""

CONFLICTS = """
query($include: Boolean) {
  conflicts(filter: {target: "MIF", includeRetracted: $include}) {
    nodes { pairs(first: 50) { nodes { left { id } right { id } } } }
  }
}
"""

SUMMARY = """
query($include: Boolean) {
  evidenceSummary(target: "MIF", filter: {includeRetracted: $include}) {
    total
    cells { count claims(first: 100) { nodes { id } } }
  }
}
"""


async def _in_conflicts(db: Database, settings: Settings, include: bool | None) -> set[str]:
    data = await gql(db, settings, CONFLICTS, {"include": include})
    return {
        claim["id"]
        for conflict in data["conflicts"]["nodes"]
        for pair in conflict["pairs"]["nodes"]
        for claim in (pair["left"], pair["right"])
    }


async def _in_summary(db: Database, settings: Settings, include: bool | None) -> tuple[int, set[str]]:
    summary = (await gql(db, settings, SUMMARY, {"include": include}))["evidenceSummary"]
    ids = {node["id"] for cell in summary["cells"] for node in cell["claims"]["nodes"]}
    assert sum(cell["count"] for cell in summary["cells"]) == len(ids)
    return summary["total"], ids


async def test_retracting_a_seeded_paper_takes_its_claims_and_its_retellings_out(
    seeded_db: Database, settings: Settings
) -> None:
    listing = await gql(seeded_db, settings, SOURCES_AND_CLAIMS)
    sources = listing["sources"]["nodes"]
    (paper,) = [s["id"] for s in sources if s["doi"] == MIF_PAPER_DOI]
    chain = {paper}
    while True:  # the sources retelling the paper, transitively (worked out here, independently)
        more = {s["id"] for s in sources if s["derivedFrom"] and s["derivedFrom"]["id"] in chain} - chain
        if not more:
            break
        chain |= more
    reached = {c["id"] for c in listing["claims"]["nodes"] if c["source"]["id"] in chain}
    retold = {c["id"] for c in listing["claims"]["nodes"] if c["source"]["id"] in chain - {paper}}

    conflicts_before = await _in_conflicts(seeded_db, settings, None)
    total_before, summary_before = await _in_summary(seeded_db, settings, None)
    assert conflicts_before & retold and conflicts_before & (reached - retold), "seeds changed?"
    assert summary_before & retold and summary_before & (reached - retold), "seeds changed?"

    reviewer = await create_user(seeded_db, "standing-reviewer", Role.REVIEWER)
    done = await gql(
        seeded_db,
        settings,
        SET,
        {"input": {"source": MIF_PAPER_DOI, "standing": "RETRACTED"}},
        actor=reviewer,
    )
    assert done["setSourceStanding"]["userErrors"] == []

    assert not await _in_conflicts(seeded_db, settings, None) & reached
    total_after, summary_after = await _in_summary(seeded_db, settings, None)
    assert not summary_after & reached and summary_after == summary_before - reached
    assert total_after == total_before - len(summary_before & reached)

    assert await _in_conflicts(seeded_db, settings, True) == conflicts_before
    assert await _in_summary(seeded_db, settings, True) == (total_before, summary_before)
