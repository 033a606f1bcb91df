"""Revisions of accepted claims and the review queue (issue 14, items 1-3): an edit of an accepted
claim is a proposal that a second person decides; readers keep the accepted record meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

from curation_helpers import Api, World, accepted_claim, counts, create_claim, error_codes

from api.store.db import Database

PROPOSE = """mutation($input: UpdateClaimInput!) { updateClaim(input: $input) {
  claim { id status version modality statement statistics { pValue } }
  revision { id status baseVersion comment createdBy { name } changes { field before after } }
  userErrors { field message code } } }"""

ADD_QUOTE = """mutation($input: AddEvidenceInput!) { addEvidence(input: $input) {
  claim { id status version evidence { quote } }
  revision { id status changes { field before after } }
  userErrors { field message code } } }"""

DECIDE = """mutation($input: ReviewRevisionInput!) { reviewRevision(input: $input) {
  revision { id status decidedBy { name } decisionComment }
  claim { id status version modality statement statistics { pValue } evidence { quote } }
  userErrors { field message code } } }"""

PUBLIC = """query($id: ID!) { node(id: $id) { ... on Claim { status version modality statement
  statistics { pValue } revisions { totalCount nodes { status baseVersion } } } } }"""

HISTORY = """query($id: ID!) { node(id: $id) { ... on Claim { history { nodes {
  action changes { field before after } } } } } }"""

QUEUE = """query($filter: ReviewQueueFilter, $first: Int, $after: String) {
  reviewQueue(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { __typename ... on Claim { id claimStatus: status }
            ... on Revision { id revisionStatus: status claim { id } } } } }"""


async def _run(api: Api, document: str, input: dict[str, Any], token: str | None) -> dict[str, Any]:
    body = await api.request(document, {"input": input}, token=token)
    assert not body.get("errors"), body
    return next(iter(body["data"].values()))


def _changes(item: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["before"], c["after"]) for c in item["changes"]}


async def test_an_accepted_claim_stays_public_until_a_second_person_accepts_its_revision(
    api: Api, db: Database, world: World
) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    cid, alice, bob, rex = claim["id"], world.tokens["alice"], world.tokens["bob"], world.tokens["rex"]
    proposed = await _run(
        api,
        PROPOSE,
        {"id": cid, "expectedVersion": 2, "modality": "HEDGED", "statistics": {"pValue": 0.04},
         "comment": "the source says 'may'"},
        alice,
    )  # fmt: skip
    assert proposed["userErrors"] == [], proposed
    assert (proposed["claim"]["status"], proposed["claim"]["version"]) == ("ACCEPTED", 2)
    assert proposed["claim"]["modality"] == "ASSERTED", "the claim itself is unchanged"
    revision = proposed["revision"]
    assert (revision["status"], revision["baseVersion"], revision["createdBy"]) == (
        "PENDING", 2, {"name": "alice"}
    )  # fmt: skip
    assert _changes(revision) == {"modality": ("ASSERTED", "HEDGED"), "statistics.pValue": (None, 0.04)}

    # Readers see the old content at the old version, with the pending revision listed.
    public = (await api.data(PUBLIC, {"id": cid}))["node"]
    assert (public["version"], public["modality"], public["statistics"]) == (2, "ASSERTED", None)
    assert public["revisions"] == {"totalCount": 1, "nodes": [{"status": "PENDING", "baseVersion": 2}]}

    # A second revision, by bob, against the same version: it will be stale.
    stale = (await _run(api, PROPOSE, {"id": cid, "expectedVersion": 2, "statement": "Bob's words."}, bob))[
        "revision"
    ]
    events_before = (await counts(db))["audit_event"]

    accepted = await _run(api, DECIDE, {"id": revision["id"], "decision": "ACCEPT"}, rex)
    assert accepted["userErrors"] == [], accepted
    assert accepted["revision"]["status"] == "ACCEPTED" and accepted["revision"]["decidedBy"] == {
        "name": "rex"
    }
    public = (await api.data(PUBLIC, {"id": cid}))["node"]
    assert (public["status"], public["version"], public["modality"]) == ("ACCEPTED", 3, "HEDGED")
    assert public["statistics"] == {"pValue": 0.04}
    assert (await counts(db))["audit_event"] == events_before + 1, "one audit event for the whole revision"
    history = (await api.data(HISTORY, {"id": cid}, token=rex))["node"]["history"]["nodes"]
    last = history[-1]
    assert last["action"] == "claim.revision.accept"
    readable = _changes(last)
    assert readable["modality"] == ("ASSERTED", "HEDGED") and readable["version"] == (2, 3)
    assert readable["statistics.pValue"] == (None, 0.04) and "revision" in readable

    # The stale revision cannot be accepted; its author withdraws it.
    refused = await _run(api, DECIDE, {"id": stale["id"], "decision": "ACCEPT"}, rex)
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("VERSION_CONFLICT", ["input", "id"])]
    assert (await api.data(PUBLIC, {"id": cid}))["node"]["statement"] != "Bob's words."
    withdrawn = await api.ok("withdrawRevision", {"id": stale["id"]}, token=bob)
    assert withdrawn["status"] == "WITHDRAWN"


async def test_a_quote_added_to_an_accepted_claim_waits_as_a_revision(api: Api, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    quote = {"quote": "No effect was seen in the second cohort.", "stance": "DISPUTES"}
    proposed = await _run(
        api, ADD_QUOTE, {"claim": claim["id"], "expectedVersion": 2, "evidence": quote}, world.tokens["alice"]
    )
    assert len(proposed["claim"]["evidence"]) == 1, "the quote waits for review"
    (change,) = proposed["revision"]["changes"]
    assert change["field"] == "evidence" and change["after"][0]["quote"] == quote["quote"]
    assert change["after"][0]["source"]["name"], "the quote's source reads with its title"
    decided = await _run(
        api, DECIDE, {"id": proposed["revision"]["id"], "decision": "ACCEPT"}, world.tokens["rex"]
    )
    assert [e["quote"] for e in decided["claim"]["evidence"]][-1] == quote["quote"]
    assert decided["claim"]["version"] == 3


WITHDRAW = """mutation($input: WithdrawRevisionInput!) { withdrawRevision(input: $input) {
  revision { id } userErrors { field message code } } }"""


async def test_revision_bad_input_is_refused_and_stores_nothing(api: Api, db: Database, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    rita_claim = await accepted_claim(api, world, "rita", "rex", sampleType="CSF")
    alice, rita, rex = world.tokens["alice"], world.tokens["rita"], world.tokens["rex"]
    first = (
        await _run(api, PROPOSE, {"id": claim["id"], "expectedVersion": 2, "modality": "HEDGED"}, alice)
    )["revision"]
    own = (
        await _run(api, PROPOSE, {"id": rita_claim["id"], "expectedVersion": 2, "modality": "HEDGED"}, rita)
    )["revision"]
    before = await counts(db)

    async def refused(document: str, input: dict[str, Any], token: str | None) -> list[tuple[str, list[str]]]:
        payload = await _run(api, document, input, token)
        return [(e["code"], e["field"]) for e in payload["userErrors"]]

    ghost = "UmV2aXNpb246OTk5OQ"  # Revision:9999
    cases = [
        # a second pending revision by the same author on one claim
        (
            PROPOSE,
            {"id": claim["id"], "expectedVersion": 2, "modality": "HYPOTHESIS"},
            alice,
            "DUPLICATE",
            "id",
        ),
        (DECIDE, {"id": first["id"], "decision": "REJECT"}, rex, "INVALID", "comment"),
        (DECIDE, {"id": first["id"], "decision": "REJECT", "comment": "   "}, rex, "INVALID", "comment"),
        (DECIDE, {"id": own["id"], "decision": "ACCEPT"}, rita, "FORBIDDEN", "id"),
        (DECIDE, {"id": ghost, "decision": "ACCEPT"}, rex, "NOT_FOUND", "id"),
        (DECIDE, {"id": claim["id"], "decision": "ACCEPT"}, rex, "NOT_FOUND", "id"),
        (WITHDRAW, {"id": first["id"]}, world.tokens["bob"], "FORBIDDEN", "id"),
        (WITHDRAW, {"id": ghost}, alice, "NOT_FOUND", "id"),
    ]
    for document, input, token, code, field in cases:
        assert await refused(document, input, token) == [(code, ["input", field])], (input, code)
    assert await counts(db) == before, "a refused revision request stored something"
    for document, input in (
        (DECIDE, {"id": first["id"], "decision": "ACCEPT"}),
        (WITHDRAW, {"id": first["id"]}),
    ):
        body = await api.request(document, {"input": input}, token=None)
        assert error_codes(body) == ["UNAUTHENTICATED"], body
    assert (await api.data(PUBLIC, {"id": claim["id"]}))["node"]["modality"] == "ASSERTED"


async def test_of_two_reviewers_deciding_at_once_exactly_one_applies(api: Api, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    version = 2
    for round_no in range(3):
        statement = f"Sharper words, round {round_no}."
        proposal = {"id": claim["id"], "expectedVersion": version, "statement": statement}
        revision = (await _run(api, PROPOSE, proposal, world.tokens["alice"]))["revision"]
        results = await asyncio.gather(
            *(
                _run(api, DECIDE, {"id": revision["id"], "decision": "ACCEPT"}, world.tokens[name])
                for name in ("rex", "ada")
            )
        )
        winners = [r for r in results if not r["userErrors"]]
        assert len(winners) == 1, results
        loser = next(r for r in results if r["userErrors"])
        assert loser["userErrors"][0]["code"] == "INVALID_TRANSITION", loser
        public = (await api.data(PUBLIC, {"id": claim["id"]}))["node"]
        assert (public["version"], public["statement"]) == (version + 1, statement), "applied exactly once"
        version += 1


async def test_the_review_queue_holds_submitted_claims_and_pending_revisions_oldest_first(
    api: Api, world: World
) -> None:
    rita = world.tokens["rita"]
    submitted = await create_claim(api, world, "alice", submit=True, sampleType="serum")
    accepted = await accepted_claim(api, world, "bob", "rita", sampleType="CSF")
    revision = (
        await _run(
            api,
            PROPOSE,
            {"id": accepted["id"], "expectedVersion": 2, "modality": "HEDGED"},
            world.tokens["alice"],
        )
    )["revision"]
    later = await create_claim(api, world, "alice", submit=True, sampleType="plasma")
    queue = (await api.data(QUEUE, {}, token=rita))["reviewQueue"]
    ids = [n["id"] for n in queue["nodes"]]
    assert ids == [submitted["id"], revision["id"], later["id"]], queue
    assert queue["totalCount"] == 3
    # Paged one by one, the same order.
    seen, after = [], None
    while True:
        page = (await api.data(QUEUE, {"first": 1, "after": after}, token=rita))["reviewQueue"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids
    only_revisions = (await api.data(QUEUE, {"filter": {"kind": ["REVISION"]}}, token=rita))["reviewQueue"]
    assert [n["__typename"] for n in only_revisions["nodes"]] == ["Revision"]
    by_target = (await api.data(QUEUE, {"filter": {"target": "il6r"}}, token=rita))["reviewQueue"]
    assert by_target["totalCount"] == 3, "every claim of the world bears on IL-6R"
    unknown = await api.request(QUEUE, {"filter": {"target": "IL-6RR"}}, token=rita)
    assert error_codes(unknown) == ["NOT_FOUND"]
    # Curators have no queue; anonymous readers neither.
    assert error_codes(await api.request(QUEUE, {}, token=world.tokens["alice"])) == ["FORBIDDEN"]
    assert error_codes(await api.request(QUEUE, {}, token=None)) == ["UNAUTHENTICATED"]
    # Deciding takes the revision out of the queue.
    await _run(
        api, DECIDE, {"id": revision["id"], "decision": "REJECT", "comment": "the source asserts it"}, rita
    )
    left = (await api.data(QUEUE, {}, token=rita))["reviewQueue"]
    assert [n["id"] for n in left["nodes"]] == [submitted["id"], later["id"]]
