"""Each rule of "Which claims bear on a target" and "Conflicts" (domain.md) on small data made for
it: target-level directions, which directions oppose, direct or contextual, the differences a
pair lists; and the SQL agreeing with schema.conflicts on every pair."""

from __future__ import annotations

from typing import Any

from conflict_helpers import (
    DEC,
    INC,
    MIXED,
    NONE,
    REVIEWER_VIEW,
    about,
    all_conflicts,
    api_pairs,
    aspects,
    build_world,
    by_question,
    claim_pairs,
    counts_of,
    create_claims,
    gid,
    gql,
    int_of,
    model_pairs,
    questions_of,
    via,
)

from schema.enums import EvidenceType, Modality


async def test_target_level_directions(db, settings) -> None:
    """Inhibitors turn directions over, activators keep them, binders and modulators give none
    (listed under the target, opposed by nothing), and an intervention bears on every target it
    acts on."""
    world = await build_world(db)
    ids = await create_claims(
        db,
        world,
        [
            # tocilizumab inhibits IL-6R: "decreases" reads as "IL-6R increases".
            about("IL-6R", INC),
            via("tocilizumab", DEC),  # INCREASES at IL-6R: agrees
            about("IL-6R", DEC, outcome="relapse rate"),
            via("tocilizumab", DEC, outcome="relapse rate"),  # INCREASES at IL-6R: opposes
            # LIF nanoparticles activate LIF: the direction is kept.
            about("LIF", DEC),
            via("LIF nanoparticles", INC),  # opposes
            about("LIF", INC, outcome="relapse rate"),
            via("LIF nanoparticles", INC, outcome="relapse rate"),  # agrees
            # sotrovimab binds the spike protein, fingolimod modulates the S1P receptor.
            about("spike protein", INC),
            via("sotrovimab", DEC),
            via("sotrovimab", INC),
            about("S1P receptor", INC),
            via("fingolimod", DEC),
            about("S1P receptor", NONE),
            # ibudilast inhibits PDE4 and MIF: INCREASES at both.
            about("PDE4", DEC),
            about("MIF", DEC),
            via("ibudilast", DEC),
        ],
    )
    binder_ids, modulator_id, s1p_ids, ibudilast_id = ids[9:11], ids[12], [ids[11], ids[13]], ids[16]
    conflicts = by_question(await all_conflicts(db, settings))
    assert set(conflicts) == {
        ("IL-6R", "relapse rate"),
        ("LIF", "disease activity"),
        ("S1P receptor", "disease activity"),
        ("PDE4", "disease activity"),
        ("MIF", "disease activity"),
    }, (
        "an inhibitor's DECREASES agrees with the target's INCREASES and opposes its DECREASES; an "
        "activator keeps its direction; binders and modulators oppose nothing; ibudilast bears on "
        f"PDE4 and MIF. Got conflicts: {sorted(conflicts)}"
    )
    assert counts_of(conflicts[("IL-6R", "relapse rate")]) == {INC: 1, DEC: 1}, (
        "directionCounts are target-level: tocilizumab's DECREASES counts as INCREASES"
    )
    assert counts_of(conflicts[("LIF", "disease activity")]) == {INC: 1, DEC: 1}
    s1p = conflicts[("S1P receptor", "disease activity")]
    assert counts_of(s1p) == {INC: 1, NONE: 1} and s1p["pairs"]["totalCount"] == 1, (
        f"fingolimod's claim takes no part: {s1p}"
    )

    data = await gql(
        db,
        settings,
        """query($conflict: ID!, $ibudilast: ID!) {
             question: node(id: $conflict) { ... on Conflict {
               up: claims(direction: INCREASES) { totalCount nodes { statement } }
               down: claims(direction: DECREASES) { totalCount nodes { statement } }
               all: claims { totalCount } } }
             spike: target(symbol: "spike protein") { claims { totalCount } conflicts { totalCount } }
             s1p: target(symbol: "S1P receptor") { claims { nodes { id } } }
             ibudilast: node(id: $ibudilast) { ... on Claim { targets { symbol } } } }""",
        {"conflict": conflicts[("IL-6R", "relapse rate")]["id"], "ibudilast": gid("Claim", ibudilast_id)},
    )
    question = data["question"]
    assert question["all"]["totalCount"] == 2
    assert [n["statement"].split(" ")[0] for n in question["up"]["nodes"]] == ["tocilizumab"], (
        f"Conflict.claims(direction) filters by target-level direction: {question}"
    )
    assert [n["statement"].split(" ")[0] for n in question["down"]["nodes"]] == ["IL-6R"], question
    assert data["spike"]["claims"]["totalCount"] == 3, "a binder's claims are listed under the target"
    assert data["spike"]["conflicts"]["totalCount"] == 0, "binding gives no direction to oppose"
    assert {int_of(n["id"]) for n in data["s1p"]["claims"]["nodes"]} == {modulator_id, *s1p_ids}, (
        "a modulator's claims are listed under the target"
    )
    assert sorted(t["symbol"] for t in data["ibudilast"]["targets"]) == ["MIF", "PDE4"]
    for claim_id in (*binder_ids, modulator_id):
        assert await claim_pairs(db, settings, claim_id) == [], f"claim {claim_id} opposes nothing"
    pairs = await claim_pairs(db, settings, ibudilast_id)
    assert sorted(int_of(p["right"]["id"]) for p in pairs) == [ids[14], ids[15]], (
        f"ibudilast's claim opposes the PDE4 claim and the MIF claim: {pairs}"
    )


async def test_which_directions_oppose(db, settings) -> None:
    world = await build_world(db)
    ids = await create_claims(
        db,
        world,
        [
            about("TNF", NONE),
            about("TNF", DEC),  # a change against no effect: conflict
            about("IL-10", MIXED),
            about("IL-10", INC),  # MIXED opposes nothing
            about("IL-10", MIXED, outcome="CSF level"),
            about("IL-10", NONE, outcome="CSF level"),
            about("IL-1", NONE),
            about("IL-1", NONE, condition="MS"),  # no effect against no effect: nothing
            about("PIM1", INC),
            about("PIM1", INC, condition="MS"),  # the same direction: nothing
            # every direction once: INC-DEC, INC-NONE, DEC-NONE oppose; MIXED with none
            about("PDE4", INC),
            about("PDE4", DEC),
            about("PDE4", NONE),
            about("PDE4", MIXED),
        ],
    )
    questions = await questions_of(db, settings)
    assert set(questions) == {("TNF", "disease activity"), ("PDE4", "disease activity")}, sorted(questions)
    assert questions[("TNF", "disease activity")]["pairs"]["totalCount"] == 1
    pde4 = questions[("PDE4", "disease activity")]
    assert counts_of(pde4) == {INC: 1, DEC: 1, NONE: 1, MIXED: 1}, pde4
    assert pde4["pairs"]["totalCount"] == 3, "INC-DEC, INC-NO_EFFECT and DEC-NO_EFFECT; MIXED with none"
    in_pairs = {int_of(p[side]["id"]) for p in pde4["all_pairs"] for side in ("left", "right")}
    assert in_pairs == set(ids[-4:-1]), f"the MIXED claim {ids[-1]} is in no pair: {pde4['all_pairs']}"


async def test_direct_or_contextual(db, settings) -> None:
    world = await build_world(db)
    await create_claims(
        db,
        world,
        [
            # one condition an ancestor of the other, same organism: direct
            about("IL-6R", INC, condition="MS"),
            about("IL-6R", DEC, condition="RRMS"),
            # sibling conditions: contextual
            about("PDE4", INC, condition="RRMS"),
            about("PDE4", DEC, condition="SPMS"),
            # the same condition in another organism: contextual
            about("MIF", INC, condition="MS"),
            about("MIF", DEC, condition="MS", organism="mouse"),
            # neither names a condition: direct
            about("LIF", INC),
            about("LIF", DEC),
            # one names a condition, the other none: contextual
            about("TNF", INC, condition="MS"),
            about("TNF", DEC),
            # the same condition, other cohort and evidence type: still direct
            about("IL-10", INC, condition="RRMS", cohort="cohort A"),
            about("IL-10", DEC, condition="RRMS", cohort="cohort B", evidence_type=EvidenceType.CASE_REPORT),
            # one direct pair makes the whole conflict direct
            about("PIM1", INC, condition="RRMS"),
            about("PIM1", DEC, condition="SPMS"),
            about("PIM1", DEC, condition="MS"),
        ],
    )
    questions = await questions_of(db, settings)
    expected = {
        "IL-6R": ("DIRECT", [["CONDITION"]]),
        "PDE4": ("CONTEXTUAL", [["CONDITION"]]),
        "MIF": ("CONTEXTUAL", [["ORGANISM"]]),
        "LIF": ("DIRECT", [[]]),
        "TNF": ("CONTEXTUAL", [["CONDITION"]]),
        "IL-10": ("DIRECT", [["COHORT", "EVIDENCE_TYPE"]]),
        "PIM1": ("DIRECT", [["CONDITION"], ["CONDITION"]]),
    }
    got = {
        key[0]: (conflict["kind"], [sorted(aspects(p)) for p in conflict["all_pairs"]])
        for key, conflict in questions.items()
    }
    assert got == expected
    pim1 = [p["kind"] for p in questions[("PIM1", "disease activity")]["all_pairs"]]
    assert pim1 == ["DIRECT", "CONTEXTUAL"], f"RRMS-MS is direct, RRMS-SPMS contextual: {pim1}"


def _difference(pair: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {d["aspect"]: (d["left"], d["right"]) for d in pair["differences"]}


async def test_every_difference_is_named_on_the_right_side(db, settings) -> None:
    world = await build_world(db)
    ids = await create_claims(
        db,
        world,
        [
            via(
                "ibudilast",
                DEC,  # INCREASES at PDE4
                condition="RRMS",
                cohort="treatment-naive RRMS",
                sample_type="CSF",
            ),
            via(
                "rolipram",
                INC,  # DECREASES at PDE4
                organism="mouse",
                condition="SPMS",
                cohort="SPMS mice",
                sample_type="serum",
                evidence_type=EvidenceType.ANIMAL_MODEL,
            ),
            about("IL-6R", INC),
            via("tocilizumab", INC),  # DECREASES at IL-6R; the target claim has no intervention
        ],
    )
    questions = await questions_of(db, settings)
    (pair,) = questions[("PDE4", "disease activity")]["all_pairs"]
    assert (int_of(pair["left"]["id"]), int_of(pair["right"]["id"])) == (ids[0], ids[1])
    assert pair["kind"] == "CONTEXTUAL"
    assert _difference(pair) == {
        "ORGANISM": ("Homo sapiens", "Mus musculus"),
        "CONDITION": ("relapsing-remitting multiple sclerosis", "secondary progressive multiple sclerosis"),
        "COHORT": ("treatment-naive RRMS", "SPMS mice"),
        "SAMPLE_TYPE": ("CSF", "serum"),
        "EVIDENCE_TYPE": ("OBSERVATIONAL", "ANIMAL_MODEL"),
        "INTERVENTION": ("ibudilast", "rolipram"),
    }
    (pair,) = questions[("IL-6R", "disease activity")]["all_pairs"]
    assert pair["kind"] == "DIRECT"
    assert _difference(pair) == {"INTERVENTION": (None, "tocilizumab")}, (
        "a claim about the target itself has no intervention: its side is null"
    )


async def test_the_sql_agrees_with_the_python_rules(db, settings) -> None:
    """A mixed bag over a few questions, for every viewer: same pairs, kinds and differences."""
    world = await build_world(db)
    specs = []
    directions = [INC, DEC, NONE, MIXED]
    contexts: list[dict[str, Any]] = [
        {},
        {"condition": "MS"},
        {"condition": "RRMS", "cohort": "RRMS cohort"},
        {"condition": "SPMS", "sample_type": "CSF"},
        {"condition": "RRMS", "organism": "mouse", "evidence_type": EvidenceType.ANIMAL_MODEL},
        {"condition": "ALS"},
    ]
    for index in range(36):
        subject = ["PDE4", "ibudilast", "rolipram", "MIF"][index % 4]
        context = contexts[(index // 2) % len(contexts)]
        outcome = ["disease activity", "CSF level"][index // 24]
        direction = directions[(index // 3) % 4]
        if subject in ("PDE4", "MIF"):
            specs.append(about(subject, direction, outcome=outcome, **context))
        else:
            specs.append(via(subject, direction, outcome=outcome, **context))
    await create_claims(db, world, specs)
    await create_claims(
        db, world, [about("PDE4", DEC), via("ibudilast", DEC)], actor=world.curator, status=None
    )
    for actor in (None, world.curator, REVIEWER_VIEW):
        questions = await questions_of(db, settings, actor=actor)
        expected = await model_pairs(db, actor) if actor else await model_pairs(db)
        kinds = {pair.kind for pairs in expected.values() for pair in pairs.values()}
        assert sum(len(p) for p in expected.values()) > 40 and kinds == {"DIRECT", "CONTEXTUAL"}, (
            "the data should give many pairs of both kinds"
        )
        assert api_pairs(questions) == expected, f"the SQL and the Python rules disagree for {actor}"
        for conflict in questions.values():
            direct = any(p["kind"] == "DIRECT" for p in conflict["all_pairs"])
            assert conflict["kind"] == ("DIRECT" if direct else "CONTEXTUAL"), conflict["id"]


async def test_modality_is_listed_never_decides_the_kind_and_can_be_required(db, settings) -> None:
    """A hypothesis meeting an assertion lists MODALITY among the differences but stays DIRECT
    (certainty is not context); `modality: [ASSERTED]` leaves hedges and hypotheses out of the
    question, its pairs and hasConflict."""
    world = await build_world(db)
    asserted, hypothesis, hedged, *_ = await create_claims(
        db,
        world,
        [
            about("MIF", INC),
            about("MIF", DEC, modality=Modality.HYPOTHESIS),
            about("MIF", NONE, modality=Modality.HEDGED),
            about("PDE4", INC),
            about("PDE4", DEC, modality=Modality.HYPOTHESIS),
        ],
    )
    conflicts = by_question(await all_conflicts(db, settings))
    mif = conflicts[("MIF", "disease activity")]
    assert mif["kind"] == "DIRECT" and counts_of(mif) == {INC: 1, DEC: 1, NONE: 1}
    pairs = await claim_pairs(db, settings, asserted)
    differences = {int_of(p["right"]["id"]): p for p in pairs}
    assert set(differences) == {hypothesis, hedged}
    for claim_id, label in ((hypothesis, "HYPOTHESIS"), (hedged, "HEDGED")):
        pair = differences[claim_id]
        assert pair["kind"] == "DIRECT", pair
        assert pair["differences"] == [{"aspect": "MODALITY", "left": "ASSERTED", "right": label}], pair

    only_asserted = by_question(await all_conflicts(db, settings, {"modality": ["ASSERTED"]}))
    assert only_asserted == {}, f"with only assertions nobody disagrees: {sorted(only_asserted)}"
    hedges_too = by_question(await all_conflicts(db, settings, {"modality": ["ASSERTED", "HEDGED"]}))
    assert set(hedges_too) == {("MIF", "disease activity")}
    assert counts_of(hedges_too[("MIF", "disease activity")]) == {INC: 1, NONE: 1}

    # Target.conflicts takes the same filter; hasConflict follows the claims filter's modality.
    data = await gql(
        db,
        settings,
        """{ target(symbol: "MIF") { all: conflicts { totalCount }
             asserted: conflicts(filter: {modality: [ASSERTED]}) { totalCount } }
           firm: claims(filter: {hasConflict: true, modality: [ASSERTED]}) { totalCount }
           any: claims(filter: {hasConflict: true}) { totalCount } }""",
        actor=REVIEWER_VIEW,
    )
    assert data["target"]["all"]["totalCount"] == 1 and data["target"]["asserted"]["totalCount"] == 0
    assert data["any"]["totalCount"] == 5 and data["firm"]["totalCount"] == 0
