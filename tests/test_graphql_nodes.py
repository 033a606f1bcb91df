"""Global IDs (`node`, `nodes`), vocabulary lists and search, sources by DOI and derivation, and
the evidence summary."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

from graphql_client import all_claims, decode_id, execute, global_id, gql, gql_error, int_id

from api.settings import Settings
from api.store.db import Database

MIF_PAPER_DOI = "10.1016/j.jns.2022.120320"

# One field per Node type that identifies the object, to compare node(id) with where the ID came from.
NODE_FIELDS = {
    "Claim": "statement",
    "Target": "symbol",
    "Intervention": "name",
    "Condition": "name",
    "Organism": "scientificName",
    "Outcome": "name",
    "Cohort": "label",
    "Source": "title",
    "User": "name",
}

MALFORMED_IDS = [
    "",
    "   ",
    "garbage",
    "!!!",
    "Q2xhaW06",  # "Claim:" with no key
    global_id("Claim", "abc"),
    global_id("Claim", "1.5"),
    global_id("Claim", "-1"),
    global_id("Claim", " 1"),
    global_id("Nope", 1),
    global_id("claim", 1),  # type names are case-sensitive
    base64.urlsafe_b64encode(b"\xff\xfe:1").decode(),  # not UTF-8
    "x" * 500,
]


async def test_node_and_nodes_round_trip_every_node_type(seeded_db: Database, settings: Settings) -> None:
    data = await gql(
        seeded_db,
        settings,
        f"""{{
          claims(
            filter: {{source: "{MIF_PAPER_DOI}"}}, first: 1, orderBy: {{field: CREATED_AT, direction: ASC}}
          ) {{
            nodes {{ id statement cohort {{ id label }} createdBy {{ id name }} }}
          }}
          target(symbol: "MIF") {{ id symbol }}
          intervention(name: "tocilizumab") {{ id name }}
          conditions(search: "RRMS") {{ nodes {{ id name }} }}
          organisms {{ nodes {{ id scientificName }} }}
          outcomes(search: "CSF MIF level, women vs men") {{ nodes {{ id name }} }}
          source(doi: "{MIF_PAPER_DOI}") {{ id title }}
        }}""",
    )
    claim = data["claims"]["nodes"][0]
    objects: dict[str, dict[str, Any]] = {
        "Claim": claim,
        "Target": data["target"],
        "Intervention": data["intervention"],
        "Condition": data["conditions"]["nodes"][0],
        "Organism": data["organisms"]["nodes"][0],
        "Outcome": data["outcomes"]["nodes"][0],
        "Cohort": claim["cohort"],
        "Source": data["source"],
        "User": claim["createdBy"],
    }
    assert set(objects) == set(NODE_FIELDS)
    fragments = " ".join(f"... on {t} {{ {f} }}" for t, f in NODE_FIELDS.items())
    query = f"""query($id: ID!, $ids: [ID!]!) {{
      node(id: $id) {{ __typename id {fragments} }}
      nodes(ids: $ids) {{ __typename id {fragments} }}
    }}"""
    expected_list: list[dict[str, Any] | None] = []
    ids: list[str] = []
    for type_name, obj in objects.items():
        assert obj is not None, f"setup: no {type_name} found"
        assert decode_id(obj["id"])[0] == type_name, f"{type_name} ID {obj['id']} should name its type"
        field = NODE_FIELDS[type_name]
        expected = {"__typename": type_name, "id": obj["id"], field: obj[field]}
        got = await gql(seeded_db, settings, query, {"id": obj["id"], "ids": [obj["id"]]})
        assert got["node"] == expected, f"node({type_name} ID) should give back the same {type_name}"
        assert got["nodes"] == [expected]
        ids += [obj["id"], MALFORMED_IDS[len(ids) % len(MALFORMED_IDS)]]
        expected_list += [expected, None]

    everything = await gql(seeded_db, settings, query, {"id": ids[0], "ids": ids})
    assert everything["nodes"] == expected_list, "nodes(ids) must answer in order, null for bad IDs"
    assert (await gql(seeded_db, settings, query, {"id": ids[0], "ids": []}))["nodes"] == []


async def test_node_is_null_for_malformed_and_unknown_ids(seeded_db: Database, settings: Settings) -> None:
    unknown = [global_id(t, 987_654) for t in NODE_FIELDS]
    query = "query($id: ID!) { node(id: $id) { id } }"
    for bad in MALFORMED_IDS + unknown:
        result = await execute(seeded_db, settings, query, {"id": bad})
        assert not result.errors, f"node({bad!r}) should be null without an error, got {result.errors}"
        assert result.data == {"node": None}, f"node({bad!r}) should be null"
    # A claim ID is not a target's: the type in the ID counts, not just the number.
    data = await gql(
        seeded_db,
        settings,
        'query($id: ID!) { node(id: $id) { __typename } target(symbol: "MIF") { id } }',
        {"id": global_id("Target", decode_id(global_id("Claim", 1))[1])},
    )
    assert data["node"]["__typename"] == "Target"

    too_many = [global_id("Claim", i) for i in range(1, 102)]
    result = await execute(
        seeded_db, settings, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": too_many}
    )
    assert result.errors and "100" in result.errors[0].message, (
        "more than 100 ids should be refused, naming the cap"
    )
    assert result.errors[0].message != "Internal server error."


async def test_ids_with_out_of_range_numbers_are_unknown_not_errors(
    seeded_db: Database, settings: Settings
) -> None:
    huge = 10**20
    query = """query($claim: ID!, $conflict: ID!, $target: String!, $source: String!) {
      node(id: $claim) { id }
      conflict: node(id: $conflict) { id }
      nodes(ids: [$claim]) { id }
      bySource: claims(filter: {source: $source}) { totalCount }
      target(symbol: $target) { id }
    }"""
    variables = {
        "claim": global_id("Claim", huge),
        "conflict": global_id("Conflict", f"{huge}.1"),  # target.outcome
        "target": (huge_target := global_id("Target", huge)),
        "source": global_id("Source", huge),
    }
    result = await execute(seeded_db, settings, query, variables)
    assert not result.errors, f"unknown IDs should give null / no match, got {result.errors}"
    assert result.data == {
        "node": None,
        "conflict": None,
        "nodes": [None],
        "bySource": {"totalCount": 0},
        "target": None,
    }
    # As a filter, a target that does not exist is NOT_FOUND (a client error, never an internal one).
    errors = await gql_error(
        seeded_db,
        settings,
        "query($t: String!) { claims(filter: {target: $t}) { totalCount } }",
        {"t": huge_target},
    )
    assert errors[0].extensions["code"] == "NOT_FOUND", errors


async def test_vocabulary_lists_search_and_paging(seeded_db: Database, settings: Settings) -> None:
    data = await gql(
        seeded_db,
        settings,
        """{
          targets { totalCount }
          interventions { totalCount }
          conditions { totalCount }
          organisms { totalCount }
          outcomes { totalCount }
          il6: targets(search: "il6") { totalCount nodes { symbol } }
          cd126: targets(search: "CD126") {
            nodes { symbol aliases xrefs interventions { intervention { name } action } }
          }
          greek: targets(search: "il1beta") { nodes { symbol } }
          brand: interventions(search: "actemra") { nodes { name actions { action target { symbol } } } }
          rrms: conditions(search: "rrms") { nodes { name } }
          sclerosis: conditions(search: "sclerosis", first: 50) { totalCount nodes { name } }
          mif: outcomes(search: "MIF", first: 50) { nodes { name } }
          ros: outcomes(search: "ROS", first: 50) { nodes { name } }
          none: targets(search: "zzzz-no-such") { totalCount nodes { symbol } pageInfo { hasNextPage } }
          blank: targets(search: "  ") { totalCount }
          percent: targets(search: "%") { totalCount }
        }""",
    )
    # The seeds' vocabulary (seeds/vocabulary.yaml).
    assert [
        data[k]["totalCount"] for k in ("targets", "interventions", "conditions", "organisms", "outcomes")
    ] == [
        20,
        17,
        16,
        4,
        35,
    ]
    assert {n["symbol"] for n in data["il6"]["nodes"]} == {"IL-6", "IL-6R"}
    assert data["il6"]["totalCount"] == 2
    [il6r] = data["cd126"]["nodes"]
    assert il6r["symbol"] == "IL-6R"
    # "IL6R" is the preferred label spelt another way (same normalised name), so not listed.
    assert {"CD126", "interleukin 6 receptor"} <= set(il6r["aliases"]) and "IL-6R" not in il6r["aliases"]
    assert {"HGNC:6019", "UniProt:P08887"} <= set(il6r["xrefs"])
    assert {(i["intervention"]["name"], i["action"]) for i in il6r["interventions"]} == {
        ("tocilizumab", "INHIBITS"),
        ("sarilumab", "INHIBITS"),
        ("anti-IL-6R therapy", "INHIBITS"),
    }
    assert data["greek"]["nodes"] == [{"symbol": "IL-1β"}]
    assert data["brand"]["nodes"] == [
        {"name": "tocilizumab", "actions": [{"action": "INHIBITS", "target": {"symbol": "IL-6R"}}]}
    ]
    assert data["rrms"]["nodes"] == [{"name": "relapsing-remitting multiple sclerosis"}]
    sclerosis = {n["name"] for n in data["sclerosis"]["nodes"]}
    assert (
        "amyotrophic lateral sclerosis" in sclerosis
        and "secondary progressive multiple sclerosis" in sclerosis
    )
    assert data["sclerosis"]["totalCount"] == len(sclerosis)
    assert {n["name"] for n in data["mif"]["nodes"]} >= {
        "CSF MIF level",
        "CSF MIF level, women vs men",
        "MIF expression by brain cell type",
        "MIF activity",
    }
    assert "reactive oxygen species" in {n["name"] for n in data["ros"]["nodes"]}, "search matches aliases"
    assert data["none"] == {"totalCount": 0, "nodes": [], "pageInfo": {"hasNextPage": False}}
    assert data["blank"]["totalCount"] == 20, "a blank search is no search"
    assert data["percent"]["totalCount"] == 0, "LIKE wildcards in a search are plain characters"

    # Paging through a vocabulary: every target once, in the one-page order.
    one_page = await gql(seeded_db, settings, "{ targets(first: 100) { nodes { id } } }")
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await gql(
            seeded_db,
            settings,
            """query($after: String) {
                 targets(first: 5, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } }
               }""",
            {"after": after},
        )
        seen += [n["id"] for n in page["targets"]["nodes"]]
        if not page["targets"]["pageInfo"]["hasNextPage"]:
            break
        after = page["targets"]["pageInfo"]["endCursor"]
    assert seen == [n["id"] for n in one_page["targets"]["nodes"]] and len(set(seen)) == 20


async def test_source_by_any_doi_spelling_and_sources_derived_from(
    seeded_db: Database, settings: Settings
) -> None:
    spellings = [
        MIF_PAPER_DOI,
        "https://doi.org/10.1016/J.JNS.2022.120320",
        "http://dx.doi.org/10.1016/j.jns.2022.120320",
        "doi:10.1016/J.JNS.2022.120320",
        "  10.1016/J.JNS.2022.120320 ",
    ]
    query = """query($doi: String, $pmid: String) {
      source(doi: $doi, pmid: $pmid) { id doi kind year cohorts { label size } claims { totalCount } }
    }"""
    found = [(await gql(seeded_db, settings, query, {"doi": s}))["source"] for s in spellings]
    assert found[0] is not None and all(f == found[0] for f in found), (
        "every DOI spelling should find the paper"
    )
    paper = found[0]
    assert paper["doi"] == MIF_PAPER_DOI and paper["kind"] == "PRIMARY_RESEARCH" and paper["year"] == 2022
    assert {(c["label"], c["size"]) for c in paper["cohorts"]} == {
        # the sizes the abstract gives; the treatment-naive subgroups' sizes it does not give
        ("CIS", 26),
        ("RRMS", 22),
        ("SPMS", 19),
        ("healthy controls", 24),
        ("treatment-naive CIS", None),
        ("treatment-naive RRMS", None),
    }
    assert paper["claims"]["totalCount"] == 7
    for nothing in ({"doi": "10.9999/unknown"}, {"doi": "not a doi"}, {"pmid": "1"}, {}):
        result = await execute(seeded_db, settings, query, nothing)
        assert not result.errors and result.data == {"source": None}, f"source({nothing}) should be null"

    derived = """query($from: String) {
      sources(filter: {derivedFrom: $from}) { totalCount nodes { id kind title derivedFrom { id } } }
    }"""
    blog = (await gql(seeded_db, settings, derived, {"from": "https://doi.org/10.1016/J.JNS.2022.120320"}))[
        "sources"
    ]
    assert blog["totalCount"] == 1
    [post] = blog["nodes"]
    assert post["kind"] == "BLOG_POST" and post["title"] == "Inhibiting Migration of Macrophages"
    assert post["derivedFrom"] == {"id": paper["id"]}
    # Two reader comments answer the post; the reply answers the second comment, not the post.
    comments = (await gql(seeded_db, settings, derived, {"from": post["id"]}))["sources"]
    assert comments["totalCount"] == 2 and {n["kind"] for n in comments["nodes"]} == {"COMMENT"}
    assert all(n["derivedFrom"] == {"id": post["id"]} for n in comments["nodes"])
    replies = [
        (await gql(seeded_db, settings, derived, {"from": n["id"]}))["sources"] for n in comments["nodes"]
    ]
    assert sorted(r["totalCount"] for r in replies) == [0, 1]
    [reply] = [n for r in replies for n in r["nodes"]]
    assert reply["kind"] == "COMMENT" and reply["title"].startswith("[Reply to reader comment 2")
    for unknown in ("10.9999/unknown", global_id("Source", 999_999), "nonsense"):
        assert (await gql(seeded_db, settings, derived, {"from": unknown}))["sources"]["totalCount"] == 0

    others = await gql(
        seeded_db,
        settings,
        """{
          all: sources(first: 100) { totalCount nodes { id } }
          comments: sources(filter: {kind: [COMMENT]}) { totalCount }
          text: sources(filter: {text: "MACROPHAGES"}) { nodes { title } }
          combined: sources(filter: {kind: [BLOG_POST], derivedFrom: "10.1016/j.jns.2022.120320"}) {
            totalCount
          }
        }""",
    )
    assert others["all"]["totalCount"] == 12 == len(others["all"]["nodes"])
    assert others["comments"]["totalCount"] == 4
    assert "Inhibiting Migration of Macrophages" in {n["title"] for n in others["text"]["nodes"]}
    assert others["combined"]["totalCount"] == 1


SUMMARY = """query($target: String!, $filter: ClaimFilter) {
  evidenceSummary(target: $target, filter: $filter) {
    target { symbol }
    total
    cells { condition { name } outcome { name } direction count }
  }
}"""


async def test_evidence_summary(seeded_db: Database, settings: Settings) -> None:
    data = (await gql(seeded_db, settings, SUMMARY, {"target": "migration inhibitory factor"}))[
        "evidenceSummary"
    ]
    assert data["target"] == {"symbol": "MIF"}
    csf = {
        (c["condition"]["name"], c["direction"]): c["count"]
        for c in data["cells"]
        if c["outcome"]["name"] == "CSF MIF level"
    }
    assert csf == {
        ("clinically isolated syndrome", "DECREASES"): 1,
        ("relapsing-remitting multiple sclerosis", "DECREASES"): 1,
        ("secondary progressive multiple sclerosis", "INCREASES"): 1,
    }
    assert data["total"] == 12

    # Every cell, for several targets, against the oracle: visible claims bearing on the target,
    # grouped by (condition, outcome, target-level direction); binds/modulates count only in total.
    rows = await all_claims(seeded_db, settings)
    for target in ("MIF", "IL-6R", "PDE4", "S1P receptor", "LIF", "protective immune response"):
        bearing = [r for r in rows if r.bears_on(target)]
        expected = Counter(
            (r.condition, r.outcome, r.target_directions()[target])
            for r in bearing
            if r.target_directions()[target] is not None
        )
        summary = (await gql(seeded_db, settings, SUMMARY, {"target": target}))["evidenceSummary"]
        got = Counter()
        for cell in summary["cells"]:
            key = (
                cell["condition"]["name"] if cell["condition"] else None,
                cell["outcome"]["name"],
                cell["direction"],
            )
            assert key not in got, f"{target}: cell {key} listed twice"
            got[key] = cell["count"]
        assert got == expected, f"{target}: cells differ from the claims bearing on it"
        assert summary["total"] == len(bearing), f"{target}: total should count every claim bearing on it"
    # An inhibitor's effect reads turned over: tocilizumab lowers NMOSD activity, so IL-6R raises it.
    s1p = (await gql(seeded_db, settings, SUMMARY, {"target": "S1P receptor"}))["evidenceSummary"]
    assert s1p["total"] == 1 and s1p["cells"] == [], "a modulator's claim counts in total, in no cell"

    # The filter narrows the claims summarised.
    narrowed = (await gql(seeded_db, settings, SUMMARY, {"target": "MIF", "filter": {"condition": "RRMS"}}))[
        "evidenceSummary"
    ]
    assert narrowed["total"] == 2
    assert {(c["outcome"]["name"], c["direction"], c["count"]) for c in narrowed["cells"]} == {
        ("CSF MIF level", "DECREASES", 1),
        ("CSF MIF level, women vs men", "INCREASES", 1),
    }

    for unknown in ("no such target", "HGNC:1", ""):
        result = (await gql(seeded_db, settings, SUMMARY, {"target": unknown}))["evidenceSummary"]
        assert result == {"target": None, "total": 0, "cells": []}, f"unknown target {unknown!r}"


async def test_evidence_summary_cells_in_one_total_order(seeded_db: Database, settings: Settings) -> None:
    """Most claims first; ties by outcome, then condition (none first), then direction, on both
    databases, so a page of cells never reshuffles between requests or backends."""
    query = """query($target: String!) {
      evidenceSummary(target: $target) { cells { condition { id } outcome { id } direction count } }
    }"""
    for target in ("MIF", "IL-6R", "PDE4", "LIF"):
        cells = (await gql(seeded_db, settings, query, {"target": target}))["evidenceSummary"]["cells"]
        keys = [
            (
                -cell["count"],
                int_id(cell["outcome"]["id"]),
                -1 if cell["condition"] is None else int_id(cell["condition"]["id"]),
                cell["direction"],
            )
            for cell in cells
        ]
        assert len(keys) > 1, f"{target}: too few cells to tell an order"
        assert keys == sorted(keys), f"{target}: cells out of order: {keys}"
        assert len(set(keys)) == len(keys)
