"""Every userError code the contract names, with its input path, and nothing stored after any
refusal (engineering.md rule 10: "Nothing half-written stays in the database").

Each case is one request; the tests check the exact (code, field) list, a message a curator can
act on, and that the row counts of every curated table and the audit log are unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from curation_helpers import (
    CLAIM_FIELDS,
    Api,
    World,
    accepted_claim,
    claim_input,
    counts,
    create_claim,
    global_id,
)

from api.store.db import Database


def _shape(errors: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in errors]


async def _refused(
    api: Api,
    db: Database,
    name: str,
    data: dict[str, Any],
    token: str,
    expected: list[tuple[str, list[str]]],
    *message_parts: str,
) -> list[dict[str, Any]]:
    """Run a mutation that must be refused with exactly `expected` and store nothing."""
    before = await counts(db)
    errors = await api.refused(name, data, token=token)
    assert _shape(errors) == expected, f"{name} {data}: expected {expected}, got {errors}"
    text = " ".join(e["message"] for e in errors)
    for part in message_parts:
        assert part.lower() in text.lower(), f"{name}: the message should mention {part!r}: {text!r}"
    after = await counts(db)
    assert after == before, f"{name} was refused but stored rows: {before} -> {after}"
    return errors


async def test_not_found_suggests_names_and_ambiguous_urls_are_refused(
    api: Api, db: Database, world: World
) -> None:
    alice = world.tokens["alice"]
    await _refused(
        api,
        db,
        "createClaim",
        claim_input(world, target="IL-6RX"),
        alice,
        [("NOT_FOUND", ["input", "target"])],
        "IL-6RX",
        "did you mean 'IL-6R'",
    )
    await _refused(
        api,
        db,
        "createClaim",
        claim_input(world, outcome="relapse rates"),
        alice,
        [("NOT_FOUND", ["input", "outcome"])],
        "did you mean 'relapse rate'",
    )
    # Every unknown name is reported at once, each at its own path.
    await _refused(
        api,
        db,
        "createClaim",
        claim_input(
            world,
            target=None,
            intervention="tocilizumabb",
            organism="zebrafish",
            condition="RRMSS",
            source="10.1000/no-such-paper",
            evidence=[{"quote": "q", "source": "https://nowhere.example.org/"}],
            cohort={"label": "c", "condition": "PPMS"},
        ),
        alice,
        [
            ("NOT_FOUND", ["input", "intervention"]),
            ("NOT_FOUND", ["input", "organism"]),
            ("NOT_FOUND", ["input", "condition"]),
            ("NOT_FOUND", ["input", "source"]),
            ("NOT_FOUND", ["input", "evidence", "0", "source"]),
            ("NOT_FOUND", ["input", "cohort", "condition"]),
        ],
        "did you mean 'tocilizumab'",
    )
    await _refused(
        api,
        db,
        "createIntervention",
        {"name": "sarilumab", "kind": "biologic", "actions": [{"target": "IL-6RA", "action": "INHIBITS"}]},
        alice,
        [("NOT_FOUND", ["input", "actions", "0", "target"])],
        "did you mean 'IL-6R'",
    )
    await _refused(
        api,
        db,
        "createCondition",
        {"name": "secondary progressive MS", "parent": "progressive MS"},
        alice,
        [("NOT_FOUND", ["input", "parent"])],
    )
    await _refused(
        api,
        db,
        "addAlias",
        {"entity": global_id("Target", 9999), "alias": "ghost"},
        alice,
        [("NOT_FOUND", ["input", "entity"])],
    )
    await _refused(
        api,
        db,
        "updateClaim",
        {"id": global_id("Claim", 9999), "expectedVersion": 1, "statement": "x"},
        alice,
        [("NOT_FOUND", ["input", "id"])],
    )
    await _refused(
        api,
        db,
        "submitClaim",
        {"id": world.source_id, "expectedVersion": 1},  # a global ID, but not a claim's
        alice,
        [("NOT_FOUND", ["input", "id"])],
    )

    # A blog post and the comments under it share a URL: naming the source by URL is ambiguous.
    url = "https://blog.example.org/il6-and-nmo"
    post = await api.ok(
        "createSource", {"kind": "BLOG_POST", "title": "IL-6 and NMO", "url": url}, token=alice
    )
    await api.ok("createSource", {"kind": "COMMENT", "title": "A reader's comment", "url": url}, token=alice)
    await _refused(
        api,
        db,
        "createClaim",
        claim_input(world, source=url),
        alice,
        [("AMBIGUOUS", ["input", "source"])],
        "DOI, PMID or its ID",
    )
    await _refused(
        api,
        db,
        "createClaim",
        claim_input(world, evidence=[{"quote": "q", "source": url}]),
        alice,
        [("AMBIGUOUS", ["input", "evidence", "0", "source"])],
    )
    claim = await api.ok(
        "createClaim", claim_input(world, source=post["id"]), token=alice, fields="source { id }"
    )
    assert claim["source"]["id"] == post["id"], "naming the source by its ID resolves the ambiguity"


async def test_duplicates_are_refused_in_any_spelling(api: Api, db: Database, world: World) -> None:
    alice = world.tokens["alice"]
    for spelling in ("https://doi.org/10.1000/WORLD.1", "doi:10.1000/World.1", "10.1000/world.1"):
        await _refused(
            api,
            db,
            "createSource",
            {"kind": "PREPRINT", "title": "The same paper again", "doi": spelling},
            alice,
            [("DUPLICATE", ["input", "doi"])],
            "10.1000/world.1",
        )
    await api.ok("createSource", {"kind": "REVIEW", "title": "Has a PMID", "pmid": "12345"}, token=alice)
    await _refused(
        api,
        db,
        "createSource",
        {"kind": "REVIEW", "title": "Same PMID", "pmid": "PMID: 12345"},
        alice,
        [("DUPLICATE", ["input", "pmid"])],
    )

    # Names: "il 6 r", "Il6R" and "IL-6R" are one name; so are "cd-126" and "CD126".
    await _refused(
        api,
        db,
        "createTarget",
        {"symbol": "Il6R", "name": "again", "kind": "gene"},
        alice,
        [("DUPLICATE", ["input", "symbol"])],
        "IL-6R",
    )
    await _refused(
        api,
        db,
        "createTarget",
        {"symbol": "IL6 receptor alpha", "name": "again", "kind": "gene", "aliases": ["cd 126"]},
        alice,
        [("DUPLICATE", ["input", "aliases"])],
        "IL-6R",
    )
    mif = (await api.data('{ target(symbol: "MIF") { id } }'))["target"]["id"]
    for alias in ("cd-126", "CD 126", "il_6r", "MIF"):
        await _refused(
            api, db, "addAlias", {"entity": mif, "alias": alias}, alice, [("DUPLICATE", ["input", "alias"])]
        )
    await _refused(
        api,
        db,
        "createTarget",
        {"symbol": "IL6RA", "name": "again", "kind": "gene", "xrefs": ["hgnc:6019"]},
        alice,
        [("DUPLICATE", ["input", "xrefs"])],
        "HGNC:6019",
    )
    await _refused(
        api,
        db,
        "createIntervention",
        {"name": "ACTEMRA", "kind": "biologic"},
        alice,
        [("DUPLICATE", ["input", "name"])],
        "tocilizumab",
    )

    # The same finding from the same source stands once among live claims, whoever enters it and
    # however it is worded.
    first = await create_claim(api, world, "alice")
    await _refused(
        api,
        db,
        "createClaim",
        claim_input(world, statement="Reworded, same finding.", modality="HEDGED", target="CD126"),
        world.tokens["bob"],
        [("DUPLICATE", ["input", "statement"])],
    )
    # Once the first is rejected it no longer stands, and the finding may be entered again.
    await api.ok("submitClaim", {"id": first["id"], "expectedVersion": 1}, token=alice)
    await api.ok(
        "reviewClaim",
        {"id": first["id"], "expectedVersion": 2, "decision": "REJECT", "comment": "wrong quote"},
        token=world.tokens["rita"],
    )
    again = await api.ok(
        "createClaim", claim_input(world, statement="Entered again."), token=world.tokens["bob"]
    )
    assert again["status"] == "DRAFT"
    # ...and now revising the rejected first claim would repeat the new one.
    await _refused(
        api,
        db,
        "updateClaim",
        {"id": first["id"], "expectedVersion": 3, "statement": "Revised."},
        alice,
        [("DUPLICATE", ["input", "id"])],
    )


async def test_stale_versions_transitions_and_ownership(api: Api, db: Database, world: World) -> None:
    alice, bob, rita = world.tokens["alice"], world.tokens["bob"], world.tokens["rita"]
    draft = await create_claim(api, world, "alice")
    await api.ok(
        "updateClaim", {"id": draft["id"], "expectedVersion": 1, "statement": "Version two."}, token=alice
    )
    stale = [
        ("updateClaim", {"id": draft["id"], "expectedVersion": 1, "statement": "Lost update."}, alice),
        ("addEvidence", {"claim": draft["id"], "expectedVersion": 1, "evidence": {"quote": "late"}}, alice),
        ("submitClaim", {"id": draft["id"], "expectedVersion": 1}, alice),
        ("updateClaim", {"id": draft["id"], "expectedVersion": 3, "statement": "From the future."}, alice),
    ]
    for name, data, token in stale:
        await _refused(
            api,
            db,
            name,
            data,
            token,
            [("VERSION_CONFLICT", ["input", "expectedVersion"])],
            "version 2",
            "reload",
        )

    accepted = await accepted_claim(api, world, "alice", "rita", direction="INCREASES")
    for name, data in (
        ("reviewClaim", {"id": accepted["id"], "expectedVersion": 1, "decision": "ACCEPT"}),
        ("retractClaim", {"id": accepted["id"], "expectedVersion": 1, "reason": "late"}),
    ):
        await _refused(
            api, db, name, data, world.tokens["rex"], [("VERSION_CONFLICT", ["input", "expectedVersion"])]
        )

    transitions = [
        ("submitClaim", {"id": accepted["id"], "expectedVersion": 2}, alice, "ACCEPTED"),
        (
            "retractClaim",
            {"id": draft["id"], "expectedVersion": 2, "reason": "not yet accepted"},
            rita,
            "DRAFT",
        ),
        ("reviewClaim", {"id": draft["id"], "expectedVersion": 2, "decision": "ACCEPT"}, rita, "DRAFT"),
        (
            "reviewClaim",
            {"id": accepted["id"], "expectedVersion": 2, "decision": "REJECT", "comment": "too late"},
            world.tokens["rex"],
            "ACCEPTED",
        ),
    ]
    for name, data, token, status in transitions:
        await _refused(api, db, name, data, token, [("INVALID_TRANSITION", ["input", "id"])], status)
    submitted = await api.ok("submitClaim", {"id": draft["id"], "expectedVersion": 2}, token=alice)
    await _refused(
        api,
        db,
        "submitClaim",
        {"id": draft["id"], "expectedVersion": submitted["version"]},
        alice,
        [("INVALID_TRANSITION", ["input", "id"])],
        "SUBMITTED",
    )

    # Ownership: another curator cannot change alice's accepted claim, only propose a revision
    # of it (a second person decides); her unpublished claims are invisible to him.
    for name, data in (
        ("updateClaim", {"id": accepted["id"], "expectedVersion": 2, "statement": "Bob's version."}),
        ("addEvidence", {"claim": accepted["id"], "expectedVersion": 2, "evidence": {"quote": "Bob's."}}),
    ):
        still = await api.ok(name, data, token=bob)
        assert (still["status"], still["version"], still["statement"]) == (
            "ACCEPTED",
            2,
            accepted["statement"],
        ), f"{name} by another curator changed alice's accepted claim"
        if name == "updateClaim":  # one pending revision per author: withdraw it for the next
            queue = await api.data(
                '{ reviewQueue(filter: {kind: ["REVISION"]}) { nodes { ... on Revision { id } } } }',
                token=rita,
            )
            for node in queue["reviewQueue"]["nodes"]:
                await api.ok("withdrawRevision", {"id": node["id"]}, token=bob)
    await _refused(
        api,
        db,
        "updateClaim",
        {"id": submitted["id"], "expectedVersion": submitted["version"], "statement": "Bob's."},
        bob,
        [("NOT_FOUND", ["input", "id"])],
    )
    own = await create_claim(api, world, "rita", submit=True, sampleType="CSF")
    await _refused(
        api,
        db,
        "reviewClaim",
        {"id": own["id"], "expectedVersion": 1, "decision": "ACCEPT"},
        rita,
        [("FORBIDDEN", ["input", "id"])],
        "own",
    )


LONG = "x" * 2001

# (description, overrides of a valid claim input, expected (code, field) list)
INVALID_CLAIMS: list[tuple[str, dict[str, Any], list[tuple[str, list[str]]]]] = [
    ("empty statement", {"statement": ""}, [("INVALID", ["input", "statement"])]),
    ("blank statement", {"statement": " \t\n "}, [("INVALID", ["input", "statement"])]),
    ("statement over 2000", {"statement": LONG}, [("INVALID", ["input", "statement"])]),
    ("target and intervention", {"intervention": "tocilizumab"}, [("INVALID", ["input", "target"])]),
    ("neither target nor intervention", {"target": None}, [("INVALID", ["input", "target"])]),
    ("blank target, no intervention", {"target": "  "}, [("INVALID", ["input", "target"])]),
    ("no evidence", {"evidence": []}, [("INVALID", ["input", "evidence"])]),
    ("empty quote", {"evidence": [{"quote": " "}]}, [("INVALID", ["input", "evidence", "0", "quote"])]),
    (
        "quote over 2000",
        {"evidence": [{"quote": "fine"}, {"quote": LONG}]},
        [("INVALID", ["input", "evidence", "1", "quote"])],
    ),
    ("p-value 1.5", {"statistics": {"pValue": 1.5}}, [("INVALID", ["input", "statistics", "pValue"])]),
    ("p-value below 0", {"statistics": {"pValue": -0.01}}, [("INVALID", ["input", "statistics", "pValue"])]),
    (
        "CI the wrong way round",
        {"statistics": {"ciLow": 2.0, "ciHigh": 1.0}},
        [("INVALID", ["input", "statistics", "ciLow"])],
    ),
    (
        "negative cohort size",
        {"cohort": {"label": "RRMS", "size": -1}},
        [("INVALID", ["input", "cohort", "size"])],
    ),
    (
        "more women than people",
        {"cohort": {"label": "RRMS", "size": 10, "femaleCount": 11}},
        [("INVALID", ["input", "cohort", "femaleCount"])],
    ),
    (
        "negative female count",
        {"cohort": {"label": "RRMS", "femaleCount": -2}},
        [("INVALID", ["input", "cohort", "femaleCount"])],
    ),
    (
        "negative comparator size",
        {"comparator": {"label": "healthy", "size": -5}},
        [("INVALID", ["input", "comparator", "size"])],
    ),
    ("blank cohort label", {"cohort": {"label": " "}}, [("INVALID", ["input", "cohort", "label"])]),
    (
        "several at once",
        {"statement": "", "statistics": {"pValue": 1.5}, "cohort": {"label": "c", "size": -1}},
        [
            ("INVALID", ["input", "statement"]),
            ("INVALID", ["input", "statistics", "pValue"]),
            ("INVALID", ["input", "cohort", "size"]),
        ],
    ),
]

# (mutation, input, expected (code, field) list)
INVALID_OTHERS: list[tuple[str, dict[str, Any], list[tuple[str, list[str]]]]] = [
    (
        "createTarget",
        {"symbol": "TNF", "name": "tumour necrosis factor", "kind": "gene", "xrefs": ["HGNC11892"]},
        [("INVALID", ["input", "xrefs", "0"])],
    ),
    (
        "createTarget",
        {"symbol": "TNF", "name": "tnf", "kind": "gene", "xrefs": ["HGNC:11892", "NOTAPREFIX:1"]},
        [("INVALID", ["input", "xrefs", "1"])],
    ),
    (
        "createTarget",
        {"symbol": "TNF", "name": "tnf", "kind": "gene", "xrefs": ["HGNC:abc", "UniProt:"]},
        [("INVALID", ["input", "xrefs", "0"]), ("INVALID", ["input", "xrefs", "1"])],
    ),
    (
        "createCondition",
        {"name": "NMOSD", "xrefs": ["MeSH D009471"]},
        [("INVALID", ["input", "xrefs", "0"])],
    ),
    ("createIntervention", {"name": "  ", "kind": "drug"}, [("INVALID", ["input", "name"])]),
    ("createOutcome", {"name": "remyelination", "kind": " "}, [("INVALID", ["input", "kind"])]),
    ("createSource", {"kind": "PREPRINT", "title": " "}, [("INVALID", ["input", "title"])]),
    ("createSource", {"kind": "PREPRINT", "title": "t", "doi": "not a doi"}, [("INVALID", ["input", "doi"])]),
    ("createSource", {"kind": "PREPRINT", "title": "t", "year": 1200}, [("INVALID", ["input", "year"])]),
    (
        "createSource",
        {"kind": "PREPRINT", "title": "t", "url": "ftp://x.org/p"},
        [("INVALID", ["input", "url"])],
    ),
    ("addAlias", {"entity": "TARGET", "alias": "---"}, [("INVALID", ["input", "alias"])]),
    (
        "updateClaim",
        {"id": "CLAIM", "expectedVersion": 1, "statement": ""},
        [("INVALID", ["input", "statement"])],
    ),
    (
        "updateClaim",
        {"id": "CLAIM", "expectedVersion": 1, "statistics": {"pValue": 1.5}},
        [("INVALID", ["input", "statistics", "pValue"])],
    ),
    (
        "updateClaim",
        {"id": "CLAIM", "expectedVersion": 1, "outcome": None},
        [("INVALID", ["input", "outcome"])],
    ),
    (
        "updateClaim",  # nothing to change
        {"id": "CLAIM", "expectedVersion": 1, "direction": "DECREASES", "comment": "no-op"},
        [("INVALID", ["input", "id"])],
    ),
    (
        "addEvidence",
        {"claim": "CLAIM", "expectedVersion": 1, "evidence": {"quote": LONG}},
        [("INVALID", ["input", "evidence", "quote"])],
    ),
]


@pytest.mark.parametrize(
    ("description", "overrides", "expected"), INVALID_CLAIMS, ids=[case[0] for case in INVALID_CLAIMS]
)
async def test_invalid_claims_are_refused_with_their_path(
    api: Api,
    db: Database,
    world: World,
    description: str,
    overrides: dict[str, Any],
    expected: list[tuple[str, list[str]]],
) -> None:
    before = await counts(db)
    errors = await api.refused("createClaim", claim_input(world, **overrides), token=world.tokens["alice"])
    assert _shape(errors) == expected, f"{description}: expected {expected}, got {errors}"
    assert await counts(db) == before, f"{description}: refused, but rows were stored"


@pytest.mark.parametrize(("name", "data", "expected"), INVALID_OTHERS)
async def test_other_invalid_inputs_are_refused_with_their_path(
    api: Api,
    db: Database,
    world: World,
    name: str,
    data: dict[str, Any],
    expected: list[tuple[str, list[str]]],
) -> None:
    claim = await create_claim(api, world, "alice")
    target = (await api.data('{ target(symbol: "IL-6R") { id } }'))["target"]["id"]
    placeholders = {"CLAIM": claim["id"], "TARGET": target}
    data = {k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    await _refused(api, db, name, data, world.tokens["alice"], expected)


async def test_values_at_the_limits_are_accepted(api: Api, world: World) -> None:
    """The refusals above are at the limits, not below them: 2000 characters, p = 0 and 1 and
    femaleCount = size are all accepted."""
    claim = await create_claim(
        api,
        world,
        "alice",
        statement="s" * 2000,
        evidence=[{"quote": "q" * 2000}],
        statistics={"pValue": 1.0, "ciLow": 1.0, "ciHigh": 1.0},
        cohort={"label": "all women", "size": 12, "femaleCount": 12},
        fields=CLAIM_FIELDS,
    )
    assert len(claim["statement"]) == 2000 and len(claim["evidence"][0]["quote"]) == 2000
    assert claim["cohort"] == {"label": "all women", "size": 12, "femaleCount": 12}
    other = await create_claim(
        api, world, "alice", direction="NO_EFFECT", statistics={"pValue": 0.0}, fields=CLAIM_FIELDS
    )
    assert other["statistics"]["pValue"] == 0.0


async def test_blank_target_symbol_is_reported_at_symbol(api: Api, db: Database, world: World) -> None:
    await _refused(
        api,
        db,
        "createTarget",
        {"symbol": "  ", "name": "a perfectly good name", "kind": "gene"},
        world.tokens["alice"],
        [("INVALID", ["input", "symbol"])],
    )


async def test_resubmitting_a_rejected_duplicate_names_the_other_claim(
    api: Api, db: Database, world: World
) -> None:
    first = await create_claim(api, world, "alice", submit=True)
    await api.ok(
        "reviewClaim",
        {"id": first["id"], "expectedVersion": 1, "decision": "REJECT", "comment": "wrong quote"},
        token=world.tokens["rita"],
    )
    second = await create_claim(api, world, "bob", statement="Entered again.")
    errors = await _refused(
        api,
        db,
        "submitClaim",
        {"id": first["id"], "expectedVersion": 2},
        world.tokens["alice"],
        [("DUPLICATE", ["input", "id"])],
    )
    # The live claim is bob's draft, which alice may not see: the message must not leak its ID.
    assert second["id"] not in errors[0]["message"], f"another curator's draft was named: {errors}"
    assert "unpublished claim" in errors[0]["message"], errors
    # Once bob's claim is accepted, alice can see it, and the message names it.
    await api.ok("submitClaim", {"id": second["id"], "expectedVersion": 1}, token=world.tokens["bob"])
    await api.ok(
        "reviewClaim",
        {"id": second["id"], "expectedVersion": 2, "decision": "ACCEPT"},
        token=world.tokens["rita"],
    )
    errors = await _refused(
        api,
        db,
        "submitClaim",
        {"id": first["id"], "expectedVersion": 2},
        world.tokens["alice"],
        [("DUPLICATE", ["input", "id"])],
    )
    assert second["id"] in errors[0]["message"], f"the message should name the visible live claim: {errors}"
