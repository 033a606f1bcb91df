"""Flags (issue 14, item 6), over HTTP with real tokens, on SQLite and PostgreSQL: any signed-in
user flags a claim they can see; its author or a reviewer resolves it; open flags show on the
claim and in ClaimFilter.flagged; the events read well; refusals store nothing; the flags of a
page of claims cost a fixed number of statements."""

from __future__ import annotations

import asyncio
from typing import Any

from curation_helpers import (
    Api,
    World,
    accepted_claim,
    counts,
    create_claim,
    global_id,
    int_id,
    last_event_id,
    verify,
)
from graphql_client import count_statements, gql

from api.settings import Settings
from api.store.commands.flags import flag_claim
from api.store.db import Database
from schema.enums import Role
from schema.users import Actor

COUNTED = ("flag", "audit_event")

CLAIM_FLAGS = """
query($id: ID!) { node(id: $id) { ... on Claim {
  openFlagCount
  all: flags { id comment resolution createdBy { name } resolvedBy { name } }
  open: flags(open: true) { id }
  resolved: flags(open: false) { id }
} } }
"""

FLAGGED = "query($flagged: Boolean) { claims(filter: {flagged: $flagged}, first: 100) { nodes { id } } }"

FLAG_EVENTS = """
query($id: ID!) {
  auditLog(filter: {entity: $id}) { nodes { action entityType changes { field before after } } }
}
"""


async def _flagged(api: Api, flagged: bool, token: str) -> set[str]:
    data = await api.data(FLAGGED, {"flagged": flagged}, token=token)
    return {n["id"] for n in data["claims"]["nodes"]}


def _codes(errors: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in errors]


async def test_flag_resolve_and_read(api: Api, db: Database, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    ray, bob, rex = world.tokens["ray"], world.tokens["bob"], world.tokens["rex"]

    # Refusals store nothing: a short comment (after trimming), an anonymous caller.
    before = await counts(db, COUNTED)
    short = await api.refused("flagClaim", {"claim": claim["id"], "comment": "   too short  "}, token=ray)
    assert _codes(short) == [("INVALID", ["input", "comment"])], short
    assert "10 characters" in short[0]["message"], short
    assert await api.top_level("flagClaim", {"claim": claim["id"], "comment": "x" * 20}, token=None) == [
        "UNAUTHENTICATED"
    ]
    assert await counts(db, COUNTED) == before

    comment = "The quote says 'may', the claim says it does."
    flag = await api.ok("flagClaim", {"claim": claim["id"], "comment": f"  {comment} "}, token=ray)
    assert flag["comment"] == comment and flag["createdBy"] == {"name": "ray"}
    assert flag["claim"] == {"id": claim["id"], "openFlagCount": 1}

    shown = (await api.data(CLAIM_FLAGS, {"id": claim["id"]}, token=None))["node"]
    assert shown["openFlagCount"] == 1 and [f["id"] for f in shown["open"]] == [flag["id"]]
    assert shown["resolved"] == [] and shown["all"][0]["resolution"] is None
    assert claim["id"] in await _flagged(api, True, ray)
    assert claim["id"] not in await _flagged(api, False, ray)

    # Only the flag's author or a reviewer resolves it, with a comment, once.
    before = await counts(db, COUNTED)
    other = await api.refused("resolveFlag", {"id": flag["id"], "comment": "Looks fine to me."}, token=bob)
    assert _codes(other) == [("FORBIDDEN", ["input", "id"])], other
    blank = await api.refused("resolveFlag", {"id": flag["id"], "comment": "  "}, token=ray)
    assert _codes(blank) == [("INVALID", ["input", "comment"])], blank
    assert await api.top_level("resolveFlag", {"id": flag["id"], "comment": "done"}, token=None) == [
        "UNAUTHENTICATED"
    ]
    assert await counts(db, COUNTED) == before

    resolved = await api.ok(
        "resolveFlag", {"id": flag["id"], "comment": "Checked: the source asserts it."}, token=rex
    )
    assert resolved["resolvedBy"] == {"name": "rex"} and resolved["resolvedAt"]
    assert resolved["resolution"] == "Checked: the source asserts it."
    assert resolved["claim"] == {"id": claim["id"], "openFlagCount": 0}
    again = await api.refused("resolveFlag", {"id": flag["id"], "comment": "Once more."}, token=ray)
    assert _codes(again) == [("INVALID_TRANSITION", ["input", "id"])], again

    shown = (await api.data(CLAIM_FLAGS, {"id": claim["id"]}, token=None))["node"]
    assert shown["openFlagCount"] == 0 and shown["open"] == []
    assert [f["id"] for f in shown["resolved"]] == [flag["id"]]
    assert shown["all"][0]["resolvedBy"] == {"name": "rex"}
    assert claim["id"] not in await _flagged(api, True, ray)
    assert claim["id"] in await _flagged(api, False, ray)

    # Audited as the flag, readable: the claim by ID and statement, the resolver by name.
    events = (await api.data(FLAG_EVENTS, {"id": flag["id"]}, token=rex))["auditLog"]["nodes"]
    resolve_event, create_event = events  # newest first
    assert create_event["action"] == "flag.create" and create_event["entityType"] == "Flag"
    made = {c["field"]: c for c in create_event["changes"]}
    assert made["claim"]["after"] == {"id": claim["id"], "name": claim["statement"]}, made
    assert made["comment"]["after"] == comment
    assert resolve_event["action"] == "flag.resolve"
    done = {c["field"]: (c["before"], c["after"]) for c in resolve_event["changes"]}
    assert set(done) == {"resolvedBy", "resolvedAt", "resolution"}, done
    assert done["resolvedBy"] == (None, {"id": global_id("User", world.user_ids["rex"]), "name": "rex"})
    assert done["resolution"] == (None, "Checked: the source asserts it.")
    assert (await verify(db)).broken is None


async def test_flags_on_claims_one_may_not_see(api: Api, db: Database, world: World) -> None:
    draft = await create_claim(api, world, "alice")
    ray, alice, rita = world.tokens["ray"], world.tokens["alice"], world.tokens["rita"]
    events = await last_event_id(db)
    unseen = await api.refused(
        "flagClaim", {"claim": draft["id"], "comment": "This draft is wrong."}, token=ray
    )
    assert _codes(unseen) == [("NOT_FOUND", ["input", "claim"])], unseen
    nonsense = await api.refused(
        "flagClaim", {"claim": "not-an-id", "comment": "This is wrong too."}, token=ray
    )
    assert _codes(nonsense) == [("NOT_FOUND", ["input", "claim"])], nonsense
    missing = global_id("Flag", 999_999)
    gone = await api.refused("resolveFlag", {"id": missing, "comment": "Nothing to resolve."}, token=rita)
    assert _codes(gone) == [("NOT_FOUND", ["input", "id"])], gone
    assert await last_event_id(db) == events

    # The author flags her own draft: readers cannot fetch the flag; reviewers can.
    flag = await api.ok("flagClaim", {"claim": draft["id"], "comment": "Check the cohort size."}, token=alice)
    node = "query($id: ID!) { node(id: $id) { ... on Flag { comment claim { id } } } }"
    assert (await api.data(node, {"id": flag["id"]}, token=ray))["node"] is None
    assert (await api.data(node, {"id": flag["id"]}, token=rita))["node"] == {
        "comment": "Check the cohort size.",
        "claim": {"id": draft["id"]},
    }
    assert int_id(flag["id"]) > 0


PAGE = "query($n: Int) { claims(first: $n) { nodes { id openFlagCount flags { id createdBy { name } } } } }"


async def test_flags_of_a_page_cost_a_fixed_number_of_statements(
    seeded_db: Database, settings: Settings
) -> None:
    reader = Actor(None, "flag-reader", Role.READER)
    page = await gql(seeded_db, settings, PAGE, {"n": 60})
    ids = [int_id(n["id"]) for n in page["claims"]["nodes"]]
    async with seeded_db.write(Actor(None, "flagger", Role.ADMIN)) as w:
        for claim_id in ids[::7]:
            await flag_claim(w, claim_id, f"Please re-check claim {claim_id}.")
    with count_statements(seeded_db) as small:
        few = await gql(seeded_db, settings, PAGE, {"n": 3}, actor=reader)
    with count_statements(seeded_db) as large:
        many = await gql(seeded_db, settings, PAGE, {"n": 60}, actor=reader)
    assert large.count == small.count, f"flags load per claim:\n{large}"
    flagged = {n["id"]: n["openFlagCount"] for n in many["claims"]["nodes"] if n["openFlagCount"]}
    assert len(flagged) == len(ids[::7]) and set(flagged.values()) == {1}
    assert few["claims"]["nodes"][0]["id"] == many["claims"]["nodes"][0]["id"]


async def test_two_resolutions_at_once_one_wins(api: Api, db: Database, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    for round_no in range(3):
        flag = await api.ok(
            "flagClaim",
            {"claim": claim["id"], "comment": f"Round {round_no}: please check."},
            token=world.tokens["ray"],
        )
        payloads = await asyncio.gather(
            *(
                api.mutate(
                    "resolveFlag",
                    {"id": flag["id"], "comment": f"Resolved by {name}."},
                    token=world.tokens[name],
                )
                for name in ("ray", "rita", "rex")
            )
        )
        winners = [p for p in payloads if not p["userErrors"]]
        losers = [e["code"] for p in payloads for e in p["userErrors"]]
        assert len(winners) == 1 and losers == ["INVALID_TRANSITION", "INVALID_TRANSITION"], payloads
    assert (await verify(db)).broken is None
