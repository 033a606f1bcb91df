"""The curation flow over HTTP, as curators and reviewers with real tokens (domain.md, "Claim
lifecycle"): vocabulary and sources in, claims entered as drafts or straight into review,
accepted, rejected, sent back, revised, resubmitted and retracted; never deleted.
"""

from __future__ import annotations

from curation_helpers import (
    ADMIN,
    CLAIM_FIELDS,
    Api,
    World,
    accepted_claim,
    add_user,
    counts,
    create_claim,
    events_after,
    int_id,
    last_event_id,
)

from api.store.db import Database
from schema.enums import Role


def _review(claim: dict, decision: str, comment: str | None = None) -> dict:
    data = {"id": claim["id"], "expectedVersion": claim["version"], "decision": decision}
    if comment is not None:
        data["comment"] = comment
    return data


def _state(claim: dict | None) -> tuple[str, int] | None:
    return None if claim is None else (claim["status"], claim["version"])


async def test_curator_enters_vocabulary_sources_and_claims(api: Api, db: Database) -> None:
    """On an empty database: everything a claim refers to is made through the mutations."""
    from api.store.commands.vocabulary import OrganismInput, create_organism

    alice_id, alice = await add_user(db, "alice", Role.CURATOR)
    _, rita = await add_user(db, "rita", Role.REVIEWER)
    async with db.write(ADMIN) as w:  # organisms have no mutation; an admin loads them
        await create_organism(w, OrganismInput(9606, "Homo sapiens", "human"))
    start = await last_event_id(db)

    paper = await api.ok(
        "createSource",
        {
            "kind": "PRIMARY_RESEARCH",
            "title": "IL-6 receptor blockade in relapsing MS",
            "doi": "https://doi.org/10.1000/IL6R.Trial",
            "pmid": "PMID: 31000001",
            "year": 2020,
            "peerReviewed": True,
        },
        token=alice,
    )
    assert (paper["doi"], paper["pmid"]) == ("10.1000/il6r.trial", "31000001"), "DOI/PMID not normalised"
    summary = await api.ok(
        "createSource",
        {
            "kind": "LAY_SUMMARY",
            "title": "What the IL-6R trial means",
            "url": "https://news.example.org/il6r",
            "derivedFrom": "10.1000/IL6R.TRIAL",
        },
        token=alice,
    )
    assert summary["derivedFrom"] == {"id": paper["id"], "title": paper["title"]}, summary

    target = await api.ok(
        "createTarget",
        {
            "symbol": "IL-6R",
            "name": "interleukin 6 receptor",
            "kind": "gene product",
            # "IL6R" and "il 6r" are the symbol in other spellings: one name, not stored twice
            "aliases": ["IL6R", "CD126", "il 6r"],
            "xrefs": ["hgnc:6019", "UniProt:P08887"],
        },
        token=alice,
    )
    assert target["aliases"] == ["CD126"], f"aliases: {target['aliases']}"
    assert sorted(target["xrefs"]) == ["HGNC:6019", "UniProt:P08887"], f"xrefs: {target['xrefs']}"
    drug = await api.ok(
        "createIntervention",
        {"name": "tocilizumab", "kind": "biologic", "actions": [{"target": "il6r", "action": "INHIBITS"}]},
        token=alice,
    )
    assert drug["actions"] == [{"action": "INHIBITS", "target": {"symbol": "IL-6R"}}], drug
    ms = await api.ok("createCondition", {"name": "multiple sclerosis", "aliases": ["MS"]}, token=alice)
    rrms = await api.ok(
        "createCondition",
        {"name": "relapsing-remitting multiple sclerosis", "parent": "ms", "aliases": ["RRMS"]},
        token=alice,
    )
    assert rrms["parent"] == {"name": ms["name"]}, f"RRMS should be a kind of MS: {rrms}"
    outcome = await api.ok("createOutcome", {"name": "relapse rate", "kind": "clinical course"}, token=alice)
    assert outcome["name"] == "relapse rate"

    aliased = await api.ok(
        "addAlias", {"entity": target["id"], "alias": "interleukin 6 receptor"}, token=alice
    )
    assert "interleukin 6 receptor" in aliased["aliases"], aliased
    await api.ok("addAlias", {"entity": drug["id"], "alias": "RoActemra"}, token=alice)
    found = await api.data('{ target(symbol: "Interleukin-6 Receptor") { id } }')
    assert found["target"] == {"id": target["id"]}, "the new alias should find the target in any spelling"

    draft = await api.ok(
        "createClaim",
        {
            "statement": "IL-6R signalling lowers relapse rate in RRMS.",
            "target": "cd126",
            "outcome": "Relapse Rate",
            "direction": "DECREASES",
            "modality": "HEDGED",
            "evidenceType": "OBSERVATIONAL",
            "organism": "NCBITaxon:9606",
            "condition": "RRMS",
            "cohort": {"label": "treatment-naive RRMS", "size": 22, "femaleCount": 15},
            "statistics": {"pValue": 0.03, "effectSize": 0.5},
            "source": "31000001",
            "evidence": [{"quote": "Relapses were fewer.", "locator": "Results", "stance": "SUPPORTS"}],
        },
        token=alice,
        fields=CLAIM_FIELDS,
    )
    assert _state(draft) == ("DRAFT", 1), f"a new claim is a DRAFT at version 1: {draft}"
    assert draft["subject"] == {"__typename": "Target", "symbol": "IL-6R"}, draft["subject"]
    assert draft["createdBy"] == {"name": "alice"}, draft["createdBy"]
    assert draft["cohort"] == {"label": "treatment-naive RRMS", "size": 22, "femaleCount": 15}
    assert draft["statistics"] == {"pValue": 0.03, "effectSize": 0.5}
    assert draft["source"]["id"] == paper["id"] and draft["condition"] == {"name": rrms["name"]}

    submitted = await api.ok(
        "createClaim",
        {
            "statement": "Tocilizumab reduces relapses, the summary says.",
            "intervention": "roactemra",
            "outcome": "relapse rate",
            "direction": "DECREASES",
            "modality": "ASSERTED",
            "evidenceType": "CLINICAL_TRIAL",
            "organism": "human",
            "condition": "multiple sclerosis",
            "source": summary["id"],
            "evidence": [
                {"quote": "Fewer relapses on the drug.", "stance": "SUPPORTS"},
                {"quote": "Relapses were fewer.", "source": "10.1000/il6r.trial"},
            ],
            "submit": True,
        },
        token=alice,
        fields=CLAIM_FIELDS,
    )
    assert _state(submitted) == ("SUBMITTED", 1), f"submit: true creates a SUBMITTED claim: {submitted}"
    assert submitted["subject"] == {"__typename": "Intervention", "name": "tocilizumab"}
    assert [e["source"]["id"] for e in submitted["evidence"]] == [summary["id"], paper["id"]]

    anonymous = await api.data("{ claims { totalCount } }")
    assert anonymous["claims"]["totalCount"] == 0, "neither claim is accepted yet"
    reviewer = await api.data("{ claims { nodes { id status } } }", token=rita)
    assert {(c["id"], c["status"]) for c in reviewer["claims"]["nodes"]} == {
        (draft["id"], "DRAFT"),
        (submitted["id"], "SUBMITTED"),
    }

    events = await events_after(db, start)
    assert [e.action for e in events] == [
        "source.create",
        "source.create",
        "target.create",
        "intervention.create",
        "condition.create",
        "condition.create",
        "outcome.create",
        "target.add_alias",
        "intervention.add_alias",
        "cohort.create",
        "claim.create",
        "claim.create",
    ], "each write should append its audit events, in order"
    assert {e.actor_id for e in events} == {alice_id}, "every event should name alice as the actor"
    claim_events = [e for e in events if e.action == "claim.create"]
    assert [e.entity_id for e in claim_events] == [int_id(draft["id"]), int_id(submitted["id"])]
    assert claim_events[1].after["status"] == "SUBMITTED", claim_events[1].after


async def test_accepted_claim_is_retracted_with_a_reason(api: Api, db: Database, world: World) -> None:
    claim = await create_claim(api, world, "alice", submit=True)
    accepted = await api.ok(
        "reviewClaim",
        _review(claim, "ACCEPT", "well sourced"),
        token=world.tokens["rita"],
        fields=CLAIM_FIELDS,
    )
    assert _state(accepted) == ("ACCEPTED", 2), accepted
    assert accepted["reviews"] == [
        {"decision": "ACCEPT", "comment": "well sourced", "reviewer": {"name": "rita"}}
    ]
    assert await api.state(claim["id"], token=None) == ("ACCEPTED", 2), "anonymous sees accepted"

    before = await counts(db)
    for reason in ("", "   "):
        errors = await api.refused(
            "retractClaim",
            {"id": claim["id"], "expectedVersion": 2, "reason": reason},
            token=world.tokens["rex"],
        )
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", "reason"])], errors
    assert await counts(db) == before, "a retraction without a reason stored something"

    retracted = await api.ok(
        "retractClaim",
        {"id": claim["id"], "expectedVersion": 2, "reason": "the trial was withdrawn"},
        token=world.tokens["rex"],
    )
    assert _state(retracted) == ("RETRACTED", 3), retracted
    assert await api.state(claim["id"], token=None) is None, "a retracted claim is not shown to readers"
    assert await api.state(claim["id"], token=world.tokens["rita"]) == ("RETRACTED", 3)

    # Retracted is final: no second retraction, no edits, no review, no resubmission.
    before = await counts(db)
    for name, data in (
        ("retractClaim", {"id": claim["id"], "expectedVersion": 3, "reason": "again"}),
        ("updateClaim", {"id": claim["id"], "expectedVersion": 3, "statement": "revived"}),
        ("reviewClaim", {"id": claim["id"], "expectedVersion": 3, "decision": "ACCEPT"}),
        ("submitClaim", {"id": claim["id"], "expectedVersion": 3}),
    ):
        errors = await api.refused(name, data, token=world.tokens["rita"])
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_TRANSITION", ["input", "id"])], (
            f"{name} on a retracted claim: {errors}"
        )
    assert await counts(db) == before, "a refused change to a retracted claim stored something"


async def test_rejected_or_sent_back_claims_are_revised_and_resubmitted(
    api: Api, db: Database, world: World
) -> None:
    alice, rita, rex = (world.tokens[n] for n in ("alice", "rita", "rex"))
    claim = await create_claim(api, world, "alice", submit=True)

    before = await counts(db)
    for comment in (None, "", "  "):
        errors = await api.refused("reviewClaim", _review(claim, "REJECT", comment), token=rita)
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", "comment"])], errors
    assert await counts(db) == before, "a rejection without a comment stored something"
    assert await api.state(claim["id"], token=rita) == ("SUBMITTED", 1)

    rejected = await api.ok("reviewClaim", _review(claim, "REJECT", "quote is not verbatim"), token=rita)
    assert _state(rejected) == ("REJECTED", 2), rejected
    assert await api.state(claim["id"], token=alice) == ("REJECTED", 2), "alice sees her rejected claim"
    assert await api.state(claim["id"], token=None) is None, "readers do not see rejected claims"

    revised = await api.ok(
        "updateClaim",
        {
            "id": claim["id"],
            "expectedVersion": 2,
            "statement": "Revised: fewer relapses.",
            "comment": "fixed",
        },
        token=alice,
    )
    assert _state(revised) == ("DRAFT", 3), f"a revised rejected claim is a DRAFT again: {revised}"
    assert revised["statement"] == "Revised: fewer relapses."
    resubmitted = await api.ok("submitClaim", {"id": claim["id"], "expectedVersion": 3}, token=alice)
    assert _state(resubmitted) == ("SUBMITTED", 4), resubmitted
    accepted = await api.ok("reviewClaim", _review(resubmitted, "ACCEPT"), token=rex, fields=CLAIM_FIELDS)
    assert _state(accepted) == ("ACCEPTED", 5), accepted
    assert [(r["decision"], r["reviewer"]["name"]) for r in accepted["reviews"]] == [
        ("REJECT", "rita"),
        ("ACCEPT", "rex"),
    ], accepted["reviews"]

    # A request for changes sends a claim back to its curator as a DRAFT.
    claim = await create_claim(api, world, "alice", submit=True, sampleType="CSF")
    errors = await api.refused("reviewClaim", _review(claim, "REQUEST_CHANGES"), token=rita)
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", "comment"])], errors

    sent_back = await api.ok(
        "reviewClaim",
        _review(claim, "REQUEST_CHANGES", "add the cohort size"),
        token=rita,
        fields=CLAIM_FIELDS,
    )
    assert _state(sent_back) == ("DRAFT", 2), f"a claim sent back for changes is a DRAFT: {sent_back}"
    assert sent_back["reviews"][-1] == {
        "decision": "REQUEST_CHANGES",
        "comment": "add the cohort size",
        "reviewer": {"name": "rita"},
    }
    edited = await api.ok(
        "addEvidence",
        {"claim": claim["id"], "expectedVersion": 2, "evidence": {"quote": "n = 22", "locator": "Table 1"}},
        token=alice,
        fields=CLAIM_FIELDS,
    )
    assert _state(edited) == ("DRAFT", 3), edited
    assert [e["quote"] for e in edited["evidence"]] == ["Relapses were fewer.", "n = 22"], edited["evidence"]
    resubmitted = await api.ok("submitClaim", {"id": claim["id"], "expectedVersion": 3}, token=alice)
    assert _state(resubmitted) == ("SUBMITTED", 4), resubmitted


async def test_editing_an_accepted_claim_proposes_a_revision(api: Api, world: World) -> None:
    """The public record stays as it is (tests/test_revisions.py walks the whole flow)."""
    claim = await accepted_claim(api, world, "alice", "rita")
    assert _state(claim) == ("ACCEPTED", 2)
    payload = await api.mutate(
        "updateClaim",
        {"id": claim["id"], "expectedVersion": 2, "modality": "HEDGED", "statistics": {"pValue": 0.04}},
        token=world.tokens["alice"],
        fields="id status version statistics { pValue }",
    )
    assert payload["userErrors"] == [] and _state(payload["claim"]) == ("ACCEPTED", 2), payload
    assert payload["claim"]["statistics"] is None, "readers keep the accepted content"
    assert await api.state(claim["id"], token=None) == ("ACCEPTED", 2)


async def test_adding_evidence_to_an_accepted_claim_proposes_a_revision(api: Api, world: World) -> None:
    claim = await accepted_claim(api, world, "alice", "rita")
    edited = await api.ok(
        "addEvidence",
        {
            "claim": claim["id"],
            "expectedVersion": claim["version"],
            "evidence": {"quote": "No effect was seen.", "stance": "DISPUTES"},
        },
        token=world.tokens["alice"],
    )
    assert _state(edited) == ("ACCEPTED", 2), f"new evidence waits as a revision: {edited}"


async def test_reviewers_cannot_review_their_own_claims(api: Api, db: Database, world: World) -> None:
    for author in ("rita", "ada"):  # a reviewer and an admin
        claim = await create_claim(api, world, author, submit=True, sampleType=f"serum of {author}")
        before = await counts(db)
        for decision, comment in (("ACCEPT", None), ("REJECT", "mine, but wrong"), ("REQUEST_CHANGES", "hm")):
            errors = await api.refused(
                "reviewClaim", _review(claim, decision, comment), token=world.tokens[author]
            )
            assert [(e["code"], e["field"]) for e in errors] == [("FORBIDDEN", ["input", "id"])], (
                f"{author} reviewing their own claim ({decision}): {errors}"
            )
        assert await counts(db) == before, f"{author}'s refused self-review stored something"
        assert await api.state(claim["id"], token=world.tokens["rex"]) == ("SUBMITTED", 1)

        # A curator cannot review at all: a top-level FORBIDDEN, not a userError.
        codes = await api.top_level("reviewClaim", _review(claim, "ACCEPT"), token=world.tokens["alice"])
        assert codes == ["FORBIDDEN"], f"a curator reviewing gave {codes}"
        assert await counts(db) == before, "a curator's review stored something"

        accepted = await api.ok("reviewClaim", _review(claim, "ACCEPT"), token=world.tokens["rex"])
        assert _state(accepted) == ("ACCEPTED", 2), "another reviewer may accept it"


async def test_a_reviewer_cannot_accept_wording_they_wrote(api: Api, world: World) -> None:
    claim = await create_claim(api, world, "alice", submit=True)
    edited = await api.ok(
        "updateClaim",
        {"id": claim["id"], "expectedVersion": 1, "statement": "Rita's own wording."},
        token=world.tokens["rita"],
    )
    payload = await api.mutate("reviewClaim", _review(edited, "ACCEPT"), token=world.tokens["rita"])
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("FORBIDDEN", ["input", "id"])], (
        f"rita accepted a version she wrote herself: {payload}"
    )
