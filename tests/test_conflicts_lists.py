"""Reading conflicts as lists: the order and pages of pairs and of conflicts, Claim.conflicts,
ClaimFilter.hasConflict, and ConflictFilter."""

from __future__ import annotations

from typing import Any

from conflict_helpers import (
    DEC,
    INC,
    NONE,
    about,
    all_conflicts,
    all_pairs,
    aspects,
    build_world,
    claim_pairs,
    counts_of,
    create_claims,
    gql,
    int_of,
    model_pairs,
    pair_ids,
    run,
    via,
)

from schema.enums import EvidenceType, Modality


def _sort_key(pair: dict[str, Any]) -> tuple[int, int, int, int]:
    left, right = pair_ids(pair)
    return (0 if pair["kind"] == "DIRECT" else 1, len(pair["differences"]), left, right)


async def _many_pairs(db, world) -> list[int]:
    """The question (PDE4, disease activity) with 15 claims and pairs of every rank: 5 x 5 x 5
    INCREASES / DECREASES / NO_EFFECT gives 25 + 50 = 75 pairs. (ibudilast's claims bear on MIF
    too; the tests look at PDE4.)"""
    contexts: list[dict[str, Any]] = [
        {"condition": "MS"},
        {"condition": "RRMS"},
        {"condition": "SPMS", "organism": "mouse"},
        {"condition": "RRMS", "cohort": "small cohort", "sample_type": "CSF"},
        {"evidence_type": EvidenceType.CASE_REPORT},
    ]
    specs = []
    for direction in (DEC, NONE, INC):
        for index, context in enumerate(contexts):
            if index % 2:  # half of them through inhibitors (turned over at PDE4)
                turned = {INC: DEC, DEC: INC}.get(direction, direction)
                specs.append(via("rolipram" if index == 1 else "ibudilast", turned, **context))
            else:
                specs.append(about("PDE4", direction, **context))
    return await create_claims(db, world, specs)


async def test_pairs_come_most_similar_first_and_page_without_gaps(db, settings) -> None:
    world = await build_world(db)
    await _many_pairs(db, world)
    (conflict,) = await all_conflicts(db, settings, {"target": "PDE4"})
    assert counts_of(conflict) == {INC: 5, DEC: 5, NONE: 5}
    assert conflict["pairs"]["totalCount"] == 75

    whole = await all_pairs(db, settings, conflict["id"], page=100)
    assert len(whole) == 75 and len({pair_ids(p) for p in whole}) == 75, "75 distinct pairs"
    assert all(left < right for left, right in map(pair_ids, whole)), "left id < right id in Conflict.pairs"
    keys = [_sort_key(p) for p in whole]
    assert keys == sorted(keys), "pairs: direct first, then fewer differences, then ids"
    ranks = {(k[0], k[1]) for k in keys}
    assert {0, 1} <= {k[0] for k in ranks} and len({k[1] for k in ranks}) >= 3, (
        f"the data should give direct and contextual pairs with several difference counts: {ranks}"
    )
    expected = (await model_pairs(db))[("PDE4", "disease activity")]
    assert {pair_ids(p) for p in whole} == set(expected)
    for pair in whole:  # kinds and differences as schema.conflicts gives them
        model = expected[pair_ids(pair)]
        assert (pair["kind"], tuple(aspects(pair))) == (model.kind, model.differences), pair

    for size in (7, 74):
        paged = await all_pairs(db, settings, conflict["id"], page=size)
        assert [pair_ids(p) for p in paged] == [pair_ids(p) for p in whole], f"pages of {size}"

    # A cursor from this list, used past the end, gives an empty last page.
    data = await gql(
        db,
        settings,
        """query($id: ID!) { node(id: $id) { ... on Conflict {
             pairs(first: 75) { edges { cursor } } } } }""",
        {"id": conflict["id"]},
    )
    last = data["node"]["pairs"]["edges"][-1]["cursor"]
    data = await gql(
        db,
        settings,
        """query($id: ID!, $after: String) { node(id: $id) { ... on Conflict {
             pairs(first: 10, after: $after) { totalCount nodes { kind } pageInfo { hasNextPage } } } } }""",
        {"id": conflict["id"], "after": last},
    )
    assert data["node"]["pairs"] == {"totalCount": 75, "nodes": [], "pageInfo": {"hasNextPage": False}}


async def test_conflicts_page_without_gaps_or_repeats(db, settings) -> None:
    world = await build_world(db)
    specs = []
    for target in ("IL-6R", "PDE4", "MIF", "LIF", "TNF", "IL-10", "PIM1"):
        for outcome in ("disease activity", "CSF level"):
            specs += [about(target, INC, outcome=outcome), about(target, DEC, outcome=outcome)]
    specs += [about("IL-1", INC), about("IL-1", INC, condition="MS")]  # no conflict
    await create_claims(db, world, specs)

    whole = await all_conflicts(db, settings, page=100)
    assert len(whole) == 14, f"7 targets x 2 outcomes: {[c['id'] for c in whole]}"
    for size in (1, 13):
        paged = await all_conflicts(db, settings, page=size)
        assert [c["id"] for c in paged] == [c["id"] for c in whole], f"pages of {size}"
    data = await gql(db, settings, "{ conflicts(first: 5) { totalCount pageInfo { hasNextPage } } }")
    assert data["conflicts"] == {"totalCount": 14, "pageInfo": {"hasNextPage": True}}

    data = await gql(
        db,
        settings,
        '{ target(symbol: "MIF") { conflicts(first: 1) { totalCount nodes { outcome { name } } } } }',
    )
    assert data["target"]["conflicts"]["totalCount"] == 2
    assert len(data["target"]["conflicts"]["nodes"]) == 1


async def test_claim_conflicts_list_each_opposing_claim_once_with_the_claim_on_the_left(db, settings) -> None:
    world = await build_world(db)
    pde4_down, ibudilast_down, ibudilast_up, mif_up, _elsewhere = await create_claims(
        db,
        world,
        [
            about("PDE4", DEC),
            via("ibudilast", DEC),  # INCREASES at PDE4 and at MIF
            via("ibudilast", INC),  # DECREASES at both: opposes the one above on two targets
            about("MIF", INC),
            about("PDE4", INC, outcome="CSF level"),  # another outcome: opposes nothing here
        ],
    )
    pairs = await claim_pairs(db, settings, ibudilast_down)
    assert {pair_ids(p)[0] for p in pairs} == {ibudilast_down}, "the claim is always on the left"
    rights = [pair_ids(p)[1] for p in pairs]
    assert sorted(rights) == sorted([pde4_down, ibudilast_up]), (
        f"each opposing claim once, even when two claims oppose on two targets: {rights}"
    )
    pairs = await claim_pairs(db, settings, ibudilast_up)
    assert sorted(pair_ids(p)[1] for p in pairs) == sorted([ibudilast_down, mif_up])
    assert {pair_ids(p)[0] for p in pairs} == {ibudilast_up}
    # The claim on the left even when its id is the larger one; differences read left to right.
    pairs = await claim_pairs(db, settings, pde4_down)
    assert [pair_ids(p) for p in pairs] == [(pde4_down, ibudilast_down)]
    assert pairs[0]["differences"] == [{"aspect": "INTERVENTION", "left": None, "right": "ibudilast"}]
    pairs = await claim_pairs(db, settings, mif_up)
    assert [pair_ids(p) for p in pairs] == [(mif_up, ibudilast_up)]
    # Paging through a claim's conflicts one at a time.
    assert [pair_ids(p) for p in await claim_pairs(db, settings, ibudilast_down, page=1)] == [
        pair_ids(p) for p in await claim_pairs(db, settings, ibudilast_down)
    ]


async def test_has_conflict_agrees_with_claim_conflicts(db, settings) -> None:
    world = await build_world(db)
    await create_claims(
        db,
        world,
        [
            about("PDE4", DEC),
            via("ibudilast", DEC),
            about("MIF", NONE),
            about("MIF", NONE, condition="MS"),
            about("TNF", INC),
            via("sotrovimab", INC),
            about("LIF", INC),
            via("LIF nanoparticles", DEC, condition="RRMS"),
        ],
    )
    await create_claims(db, world, [about("TNF", DEC)], actor=world.curator, status=None)  # a draft
    for actor in (None, world.curator):
        data = await gql(
            db,
            settings,
            """{
              yes: claims(first: 100, filter: {hasConflict: true}) { totalCount nodes { id } }
              no: claims(first: 100, filter: {hasConflict: false}) { totalCount nodes { id } }
              all: claims(first: 100) { totalCount nodes { id conflicts { totalCount } } }
              pde4: claims(first: 100, filter: {hasConflict: true, target: "PDE4"}) { nodes { id } }
            }""",
            actor=actor,
        )
        expected_yes = {int_of(n["id"]) for n in data["all"]["nodes"] if n["conflicts"]["totalCount"] > 0}
        expected_no = {int_of(n["id"]) for n in data["all"]["nodes"]} - expected_yes
        assert {int_of(n["id"]) for n in data["yes"]["nodes"]} == expected_yes, f"hasConflict: true ({actor})"
        assert {int_of(n["id"]) for n in data["no"]["nodes"]} == expected_no, f"hasConflict: false ({actor})"
        assert data["yes"]["totalCount"] == len(expected_yes) and data["no"]["totalCount"] == len(expected_no)
        assert len(data["pde4"]["nodes"]) == 2
        # a reader: PDE4, ibudilast (PDE4 and MIF), both MIF, both LIF; the curator also both TNF
        # (one of them her own draft)
        assert len(expected_yes) == (6 if actor is None else 8), f"{actor}: {sorted(expected_yes)}"


async def _filter_world(db, world) -> dict[str, int]:
    names = [
        "il6r_ms_human",
        "il6r_rrms_human",
        "il6r_spms_mouse",
        "pde4_rrms",
        "pde4_spms",
        "mif_als_human",
        "mif_als_mouse",
        "lif_csf_up",
        "lif_csf_down",
    ]
    ids = await create_claims(
        db,
        world,
        [
            about("IL-6R", INC, condition="MS"),
            about("IL-6R", DEC, condition="RRMS"),
            about("IL-6R", NONE, condition="SPMS", organism="mouse"),
            via("rolipram", DEC, condition="RRMS"),  # INCREASES at PDE4
            about("PDE4", DEC, condition="SPMS"),
            about("MIF", INC, condition="ALS"),
            about("MIF", DEC, condition="ALS", organism="mouse"),
            about("LIF", INC, outcome="CSF level"),
            via("LIF nanoparticles", DEC, outcome="CSF level"),
        ],
    )
    return dict(zip(names, ids, strict=True))


def _questions(conflicts: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["target"]["symbol"], c["outcome"]["name"], c["kind"]) for c in conflicts}


async def test_conflict_filter(db, settings) -> None:
    world = await build_world(db)
    await _filter_world(db, world)
    everything = {
        ("IL-6R", "disease activity", "DIRECT"),
        ("PDE4", "disease activity", "CONTEXTUAL"),
        ("MIF", "disease activity", "CONTEXTUAL"),
        ("LIF", "CSF level", "DIRECT"),
    }
    assert _questions(await all_conflicts(db, settings)) == everything
    il6r_id = (await gql(db, settings, '{ target(symbol: "IL-6R") { id } }'))["target"]["id"]
    cases: list[tuple[dict[str, Any], set[tuple[str, str, str]]]] = [
        ({"target": "IL-6R"}, {("IL-6R", "disease activity", "DIRECT")}),
        ({"target": "il6r"}, {("IL-6R", "disease activity", "DIRECT")}),
        ({"target": il6r_id}, {("IL-6R", "disease activity", "DIRECT")}),
        ({"target": "PIM1"}, set()),
        ({"outcome": "CSF level"}, {("LIF", "CSF level", "DIRECT")}),
        ({"outcome": "remyelination"}, set()),
        # MS includes RRMS and SPMS: only the claims in ALS and without a condition drop out
        (
            {"condition": "MS"},
            {("IL-6R", "disease activity", "DIRECT"), ("PDE4", "disease activity", "CONTEXTUAL")},
        ),
        # within SPMS alone nothing opposes; within RRMS nothing either
        ({"condition": "SPMS"}, set()),
        ({"condition": "RRMS"}, set()),
        ({"condition": "ALS"}, {("MIF", "disease activity", "CONTEXTUAL")}),
        # in people the IL-6R pair MS-RRMS stays; the mouse claims drop out of MIF
        (
            {"organism": "human"},
            {
                ("IL-6R", "disease activity", "DIRECT"),
                ("PDE4", "disease activity", "CONTEXTUAL"),
                ("LIF", "CSF level", "DIRECT"),
            },
        ),  # fmt: skip
        ({"organism": "NCBITaxon:10090"}, set()),
        ({"kind": ["DIRECT"]}, {q for q in everything if q[2] == "DIRECT"}),
        ({"kind": ["CONTEXTUAL"]}, {q for q in everything if q[2] == "CONTEXTUAL"}),
        ({"kind": ["DIRECT", "CONTEXTUAL"]}, everything),
        ({"kind": ["CONTEXTUAL"], "condition": "MS"}, {("PDE4", "disease activity", "CONTEXTUAL")}),
        ({"target": "MIF", "organism": "human"}, set()),
    ]
    # One document, one alias per filter (the API answers each on its own).
    fields = "totalCount nodes { kind target { symbol } outcome { name } }"
    aliases = [f"f{i}: conflicts(first: 20, filter: $f{i}) {{ {fields} }}" for i in range(len(cases))]
    variables = ", ".join(f"$f{i}: ConflictFilter" for i in range(len(cases)))
    data = await gql(
        db,
        settings,
        f"query({variables}) {{ {' '.join(aliases)} }}",
        {f"f{i}": conflict_filter for i, (conflict_filter, _) in enumerate(cases)},
    )
    for i, (conflict_filter, expected) in enumerate(cases):
        connection = data[f"f{i}"]
        got = _questions(connection["nodes"])
        assert got == expected, f"filter {conflict_filter}: got {sorted(got)}, expected {sorted(expected)}"
        assert connection["totalCount"] == len(expected), f"filter {conflict_filter}: totalCount"

    # A name that names nothing is an error naming the closest names, not an empty list.
    result = await run(db, settings, '{ conflicts(filter: {target: "IL-6RR"}) { totalCount } }')
    assert result.errors and result.errors[0].extensions == {
        "code": "NOT_FOUND",
        "field": ["filter", "target"],
    }
    assert "did you mean 'IL-6R'" in result.errors[0].message, result.errors[0].message

    # A filtered conflict counts only the claims in the filter. IL-6R: MS and RRMS in people (one
    # each way), SPMS in mice (NO_EFFECT). Filtered to people, only the MS-RRMS pair is left.
    (conflict,) = await all_conflicts(db, settings, {"target": "IL-6R", "organism": "human"})
    assert counts_of(conflict) == {INC: 1, DEC: 1} and conflict["pairs"]["totalCount"] == 1, conflict
    (unfiltered,) = await all_conflicts(db, settings, {"target": "IL-6R"})
    assert counts_of(unfiltered) == {INC: 1, DEC: 1, NONE: 1} and unfiltered["pairs"]["totalCount"] == 3


async def test_a_filtered_conflict_lists_only_the_pairs_in_the_filter(db, settings) -> None:
    world = await build_world(db)
    ids = await _filter_world(db, world)
    data = await gql(
        db,
        settings,
        """{ conflicts(filter: {target: "IL-6R", organism: "human"}) { nodes {
              directionCounts { direction count }
              claims(first: 50) { totalCount nodes { id } }
              pairs(first: 50) { totalCount nodes { left { id } right { id } } } } } }""",
    )
    (conflict,) = data["conflicts"]["nodes"]
    pairs = [pair_ids(p) for p in conflict["pairs"]["nodes"]]
    assert len(pairs) == conflict["pairs"]["totalCount"], (
        f"pairs.totalCount is {conflict['pairs']['totalCount']} but the list has {len(pairs)}: {pairs}"
    )
    assert pairs == [(ids["il6r_ms_human"], ids["il6r_rrms_human"])], pairs
    claims = {int_of(n["id"]) for n in conflict["claims"]["nodes"]}
    assert claims == {ids["il6r_ms_human"], ids["il6r_rrms_human"]}, (
        "Conflict.claims of a conflict filtered to people should hold no mouse claim"
    )


async def test_an_empty_kind_list_matches_no_conflict(db, settings) -> None:
    world = await build_world(db)
    await _filter_world(db, world)
    data = await gql(db, settings, "{ conflicts(filter: {kind: []}) { totalCount nodes { kind } } }")
    claims = await gql(db, settings, "{ claims(filter: {status: []}) { totalCount } }")
    assert claims["claims"]["totalCount"] == 0, "ClaimFilter: an empty list matches nothing"
    assert data["conflicts"] == {"totalCount": 0, "nodes": []}, (
        f"kind: [] should match nothing, like ClaimFilter's lists; got {data['conflicts']}"
    )


async def test_the_first_direct_pairs_by_index_equal_the_full_search(db, settings, monkeypatch) -> None:
    """conflicts._first_direct_pairs answers a question whose first pairs are DIRECT with no
    difference by walking its groups by first claim; every page it answers (first pages, pages
    after a cursor, with modality and organism filters, whole lists of conflicts) must equal the
    full group search's, pair for pair. Random claims in a few contexts, so that the first level
    sometimes fills a page and sometimes does not (then the search takes over)."""
    import random

    from api.store.queries import conflicts as store

    world = await build_world(db)
    draw = random.Random(20261203)
    contexts: list[dict[str, Any]] = [
        {"condition": "MS"},
        {"condition": "RRMS", "organism": "mouse"},
        {"condition": "MS", "sample_type": "CSF"},
        {"condition": "SPMS", "evidence_type": EvidenceType.CASE_REPORT},
    ]
    specs, fingerprints = [], set()
    for n in range(30):
        index = draw.randrange(len(contexts))
        modality = draw.choice([Modality.ASSERTED, Modality.ASSERTED, Modality.HEDGED])
        direction = draw.choice([INC, DEC, NONE, INC, DEC])
        outcome = "disease activity" if n % 3 else "CSF level"
        source = world.dois[n % len(world.dois)]
        # A source says each finding once (modality is not part of what makes it the same).
        if (source, index, direction, outcome) not in fingerprints:
            fingerprints.add((source, index, direction, outcome))
            specs.append(
                about("PDE4", direction, outcome=outcome, modality=modality, source=source, **contexts[index])
            )
    await create_claims(db, world, specs)

    calls: list[bool] = []
    original = store._first_direct_pairs

    async def counted(*args: Any, **kwargs: Any) -> Any:
        found = await original(*args, **kwargs)
        calls.append(bool(found and found.plans))
        return found

    async def nothing(*_args: Any, **_kwargs: Any) -> None:
        return None

    filters = [{"target": "PDE4"}, {"target": "PDE4", "modality": ["ASSERTED"]}, {"organism": "mouse"}]
    for filter in filters:
        monkeypatch.setattr(store, "_first_direct_pairs", counted)
        fast_conflicts = await all_conflicts(db, settings, filter, page=2)
        fast = {c["id"]: [await all_pairs(db, settings, c["id"], page=size) for size in (2, 7)]
                for c in fast_conflicts}  # fmt: skip
        monkeypatch.setattr(store, "_first_direct_pairs", nothing)
        assert await all_conflicts(db, settings, filter, page=2) == fast_conflicts, filter
        for conflict_id, pages in fast.items():
            searched = await all_pairs(db, settings, conflict_id, page=100)
            for paged in pages:
                assert [pair_ids(p) for p in paged] == [pair_ids(p) for p in searched], filter
                assert paged == searched, filter
    assert any(calls), "the data should let the first level fill some pages"
    assert not all(calls), "and leave others to the search"
