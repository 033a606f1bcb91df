"""Query.claims filters over the seeded claims (issue 3), on SQLite and PostgreSQL.

Each filter's expected result is computed independently, in Python, from every claim as the API
shows it unfiltered (graphql_client.all_claims), so the tests say what a filter must select rather
than repeating how the store selects it. A few seed facts are pinned too (IL-6R bears on 8 claims,
...), so a mistake shared by the oracle and the implementation still shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from graphql_client import (
    MS_FAMILY,
    SEEDED_CLAIMS,
    ClaimRow,
    ClaimSpec,
    all_claims,
    conflicting_ids,
    create_claims,
    create_source,
    create_user,
    global_id,
    gql,
    gql_error,
    int_id,
)

from api.settings import Settings
from api.store.db import Database
from schema.enums import EffectDirection, Role

FILTERED = """
query Filtered($filter: ClaimFilter) {
  claims(filter: $filter, first: 100) {
    totalCount
    pageInfo { hasNextPage }
    nodes { id }
  }
}
"""

MIF_PAPER_DOI = "10.1016/j.jns.2022.120320"
PROGRESSIVE_MS = {
    "progressive multiple sclerosis",
    "secondary progressive multiple sclerosis",
    "primary progressive multiple sclerosis",
}


async def filtered_ids(
    db: Database, settings: Settings, filter_: dict[str, Any] | None, **kwargs: Any
) -> tuple[set[str], int]:
    data = await gql(db, settings, FILTERED, {"filter": filter_}, **kwargs)
    connection = data["claims"]
    assert not connection["pageInfo"]["hasNextPage"], "expected every match on one page of 100"
    ids = [n["id"] for n in connection["nodes"]]
    assert len(ids) == len(set(ids)), f"a claim came back twice: {ids}"
    return set(ids), connection["totalCount"]


def stems_in(*stems: str) -> Callable[[ClaimRow], bool]:
    """Every stem occurs in the statement or a quote (the text filter is stemmed)."""

    def predicate(row: ClaimRow) -> bool:
        text = " ".join([row.statement, *row.quotes]).lower()
        return all(stem in text for stem in stems)

    return predicate


def published_within(start: date | None, end: date | None) -> Callable[[ClaimRow], bool]:
    """A source dated only by its year counts as published within that year."""

    def predicate(row: ClaimRow) -> bool:
        if row.source_published is not None:
            day = row.source_published
            return (start is None or day >= start) and (end is None or day <= end)
        if row.source_year is None:
            return False
        return (start is None or row.source_year >= start.year) and (
            end is None or row.source_year <= end.year
        )

    return predicate


@dataclass(frozen=True)
class Case:
    filter: dict[str, Any]
    predicate: Callable[[ClaimRow], bool]
    # How many seeded claims match, where the seeds make that a fact worth pinning.
    pinned: int | None = None


def _all(*predicates: Callable[[ClaimRow], bool]) -> Callable[[ClaimRow], bool]:
    return lambda row: all(p(row) for p in predicates)


HUMAN = lambda r: r.organism[0] == "Homo sapiens"  # noqa: E731
MOUSE = lambda r: r.organism[0] == "Mus musculus"  # noqa: E731
IN_MS = lambda r: r.condition in MS_FAMILY  # noqa: E731

CASES: dict[str, Case] = {
    # target: the subject, or an intervention acting on it; any alias or CURIE
    "target-il6r": Case({"target": "il6r"}, lambda r: r.bears_on("IL-6R"), pinned=10),
    "target-IL-6R": Case({"target": "IL-6R"}, lambda r: r.bears_on("IL-6R"), pinned=10),
    "target-CD126": Case({"target": "CD126"}, lambda r: r.bears_on("IL-6R"), pinned=10),
    "target-HGNC": Case({"target": "HGNC:6019"}, lambda r: r.bears_on("IL-6R"), pinned=10),
    "target-long-alias": Case({"target": "Interleukin 6 Receptor"}, lambda r: r.bears_on("IL-6R"), pinned=10),
    # targets: the union of single-target filters
    "targets-two": Case({"targets": ["MIF", "pde4"]}, lambda r: r.bears_on("MIF") or r.bears_on("PDE4")),
    "targets-one": Case({"targets": ["CD126"]}, lambda r: r.bears_on("IL-6R"), pinned=10),
    "targets-empty": Case({"targets": []}, lambda r: False, pinned=0),
    "targets-and-target": Case({"targets": ["MIF", "PDE4"], "target": "PDE4"}, lambda r: r.bears_on("PDE4")),
    "target-MIF-incl-ibudilast": Case({"target": "MIF"}, lambda r: r.bears_on("MIF"), pinned=12),
    "target-PDE4": Case({"target": "pde4"}, lambda r: r.bears_on("PDE4"), pinned=4),
    # intervention: the subject only
    "intervention-name": Case({"intervention": "tocilizumab"}, lambda r: r.subject == "tocilizumab", 2),
    "intervention-brand": Case({"intervention": "Actemra"}, lambda r: r.subject == "tocilizumab", 2),
    "intervention-alias": Case(
        {"intervention": "IL-6R blockade"}, lambda r: r.subject == "anti-IL-6R therapy", pinned=6
    ),
    # condition: the condition and its descendants
    "condition-MS": Case({"condition": "MS"}, IN_MS, pinned=27),
    "condition-MS-curie": Case({"condition": "MONDO:0005301"}, IN_MS, pinned=27),
    "condition-progressive": Case({"condition": "progressive MS"}, lambda r: r.condition in PROGRESSIVE_MS),
    "condition-leaf-RRMS": Case(
        {"condition": "rrms"}, lambda r: r.condition == "relapsing-remitting multiple sclerosis"
    ),
    "condition-arthritis-incl-RA": Case(
        {"condition": "arthritis"}, lambda r: r.condition in {"arthritis", "rheumatoid arthritis"}, 2
    ),
    # organism: scientific or common name, alias, NCBITaxon CURIE
    "organism-human": Case({"organism": "human"}, HUMAN),
    "organism-scientific": Case({"organism": "Homo sapiens"}, HUMAN),
    "organism-curie": Case({"organism": "NCBITaxon:9606"}, HUMAN),
    "organism-mouse-plural": Case({"organism": "mice"}, MOUSE),
    # outcome
    "outcome": Case({"outcome": "CSF MIF level"}, lambda r: r.outcome == "CSF MIF level", pinned=3),
    "outcome-alias": Case(
        {"outcome": "cerebrospinal fluid MIF level"}, lambda r: r.outcome == "CSF MIF level", pinned=3
    ),
    # enums: any of the listed values
    "direction": Case({"direction": ["INCREASES"]}, lambda r: r.direction == "INCREASES"),
    "direction-two": Case(
        {"direction": ["NO_EFFECT", "MIXED"]}, lambda r: r.direction in {"NO_EFFECT", "MIXED"}
    ),
    "direction-empty-list": Case({"direction": []}, lambda r: False, pinned=0),
    "modality": Case({"modality": ["HEDGED"]}, lambda r: r.modality == "HEDGED"),
    "modality-two": Case(
        {"modality": ["HYPOTHESIS", "ASSERTED"]}, lambda r: r.modality in {"HYPOTHESIS", "ASSERTED"}
    ),
    "evidenceType": Case({"evidenceType": ["ANIMAL_MODEL"]}, lambda r: r.evidence_type == "ANIMAL_MODEL"),
    "evidenceType-two": Case(
        {"evidenceType": ["CASE_REPORT", "ANECDOTE"]},
        lambda r: r.evidence_type in {"CASE_REPORT", "ANECDOTE"},
    ),
    "sourceKind": Case({"sourceKind": ["BLOG_POST"]}, lambda r: r.source_kind == "BLOG_POST"),
    "sourceKind-two": Case(
        {"sourceKind": ["COMMENT", "LAY_SUMMARY"]}, lambda r: r.source_kind in {"COMMENT", "LAY_SUMMARY"}
    ),
    # status: anonymous viewers see ACCEPTED claims whatever they ask for
    "status-accepted": Case({"status": ["ACCEPTED"]}, lambda r: True, pinned=SEEDED_CLAIMS),
    "status-draft-anonymous": Case({"status": ["DRAFT", "SUBMITTED"]}, lambda r: False, pinned=0),
    "status-all": Case(
        {"status": ["DRAFT", "SUBMITTED", "ACCEPTED", "REJECTED", "RETRACTED"]},
        lambda r: True,
        pinned=SEEDED_CLAIMS,
    ),
    # source: DOI in any spelling (PMID and global ID: see the tests below)
    "source-doi": Case({"source": MIF_PAPER_DOI}, lambda r: r.source_doi == MIF_PAPER_DOI, pinned=7),
    "source-doi-url-upper": Case(
        {"source": "https://doi.org/10.1016/J.JNS.2022.120320"}, lambda r: r.source_doi == MIF_PAPER_DOI, 7
    ),
    "source-unknown-doi": Case({"source": "10.9999/nothing.here"}, lambda r: False, pinned=0),
    "source-not-an-identifier": Case({"source": "not a source"}, lambda r: False, pinned=0),
    # text: all words, stemmed, in the statement or the quotes
    "text-stemmed": Case({"text": "decreased"}, stems_in("decreas"), pinned=3),
    "text-all-words": Case({"text": "macrophage migration"}, stems_in("macrophag", "migrat")),
    # Web-search syntax (OR, "phrases", -word); FTS5's own operators are plain words.
    "text-fts-operators-are-words": Case({"text": "MIF NEAR(x* AND"}, lambda r: False, pinned=0),
    "text-or": Case(
        {"text": "ibudilast OR sotrovimab"}, lambda r: stems_in("ibudilast")(r) or stems_in("sotrovimab")(r)
    ),
    "text-or-unclosed-phrase": Case({"text": 'ibudilast OR "NEAR(' + "x"}, stems_in("ibudilast")),
    "text-not": Case(
        {"text": "MIF -ibudilast"}, lambda r: stems_in("mif")(r) and not stems_in("ibudilast")(r)
    ),
    "text-phrase": Case({"text": '"cerebrospinal fluid"'}, stems_in("cerebrospinal fluid")),
    # cohort size
    "minCohortSize": Case({"minCohortSize": 20}, lambda r: (r.cohort_size or -1) >= 20, pinned=2),
    "minCohortSize-exact-boundary": Case({"minCohortSize": 26}, lambda r: (r.cohort_size or -1) >= 26, 1),
    # published window (year-only sources count as published within that year)
    "publishedFrom": Case({"publishedFrom": "2017-01-01"}, published_within(date(2017, 1, 1), None)),
    "publishedTo": Case({"publishedTo": "2016-12-31"}, published_within(None, date(2016, 12, 31))),
    "published-window-day": Case(
        {"publishedFrom": "2017-06-01", "publishedTo": "2017-06-30"},
        published_within(date(2017, 6, 1), date(2017, 6, 30)),
    ),
    "published-year-only-end-of-year": Case(
        {"publishedFrom": "2022-12-31"}, published_within(date(2022, 12, 31), None), pinned=7
    ),
    # combinations: every given field must hold
    "combo-target-condition": Case(
        {"target": "CD126", "condition": "MS"}, _all(lambda r: r.bears_on("IL-6R"), IN_MS), pinned=3
    ),
    "combo-target-organism-direction": Case(
        {"target": "MIF", "organism": "human", "direction": ["DECREASES"]},
        _all(lambda r: r.bears_on("MIF"), HUMAN, lambda r: r.direction == "DECREASES"),
    ),
    "combo-condition-evidence-organism": Case(
        {"condition": "MS", "evidenceType": ["ANIMAL_MODEL"], "organism": "NCBITaxon:10090"},
        _all(IN_MS, lambda r: r.evidence_type == "ANIMAL_MODEL", MOUSE),
    ),
    "combo-kind-cohort-text": Case(
        {"sourceKind": ["PRIMARY_RESEARCH"], "minCohortSize": 20, "text": "MIF"},
        _all(
            lambda r: r.source_kind == "PRIMARY_RESEARCH",
            lambda r: (r.cohort_size or -1) >= 20,
            stems_in("mif"),
        ),
    ),
}


def check(failures: list[str], label: str, got: set[str], expected: set[str], total: int) -> None:
    if got != expected:
        failures.append(f"{label}: missing {sorted(expected - got)}, unexpected {sorted(got - expected)}")
    elif total != len(expected):
        failures.append(f"{label}: totalCount {total}, but {len(expected)} claims came back")


async def test_every_claim_filter_field_alone_and_combined(seeded_db: Database, settings: Settings) -> None:
    """Every ClaimFilter field, alone and combined, against the independent oracle. All cases
    run on one database (they only read) and every failing case is reported."""
    rows = await all_claims(seeded_db, settings)
    assert len(rows) == SEEDED_CLAIMS
    failures: list[str] = []
    for case_id, case in CASES.items():
        expected = {r.id for r in rows if case.predicate(r)}
        got, total = await filtered_ids(seeded_db, settings, case.filter)
        check(failures, f"{case_id} {case.filter}", got, expected, total)
        if case.pinned is not None and len(expected) != case.pinned:
            failures.append(
                f"{case_id}: the seeds hold {case.pinned} such claims, the oracle found {len(expected)}"
            )

    # hasConflict: opposing target-level directions on a shared target and the same outcome.
    in_conflict = conflicting_ids(rows)
    for start in (  # domain.md's four examples
        "MIF levels in the cerebrospinal fluid, measured by ELISA, were elevated",
        "The blogger states that rolipram",
        "The blogger asks whether anti-IL-6 receptor therapy",
        "Several immunosuppressive and immunomodulatory therapies",
    ):
        assert any(r.statement.startswith(start) and r.id in in_conflict for r in rows), f"oracle: {start}..."
    il6r_in_ms = {r.id for r in rows if r.bears_on("IL-6R") and r.condition in MS_FAMILY}
    for flag, expected in ((True, in_conflict), (False, {r.id for r in rows} - in_conflict)):
        got, total = await filtered_ids(seeded_db, settings, {"hasConflict": flag})
        check(failures, f"hasConflict {flag}", got, expected, total)
        combined = {"hasConflict": flag, "target": "IL-6R", "condition": "MS"}
        got, total = await filtered_ids(seeded_db, settings, combined)
        check(failures, f"{combined}", got, expected & il6r_in_ms, total)

    # source by global ID; another type's ID or an unknown one matches nothing.
    blog = next(r for r in rows if r.subject == "tocilizumab")
    got, total = await filtered_ids(seeded_db, settings, {"source": blog.source_id})
    check(failures, "source by global ID", got, {r.id for r in rows if r.source_id == blog.source_id}, total)
    for nothing in (global_id("Target", int_id(blog.source_id)), global_id("Source", 999_999)):
        got, total = await filtered_ids(seeded_db, settings, {"source": nothing})
        check(failures, f"source {nothing}", got, set(), total)

    # No filter, or an empty one, is every visible claim.
    for empty in (None, {}):
        got, total = await filtered_ids(seeded_db, settings, empty)
        check(failures, f"filter {empty}", got, {r.id for r in rows}, total)

    assert not failures, "filters that selected the wrong claims:\n" + "\n".join(failures)


async def test_names_aliases_curies_and_greek_letters_resolve_alike(
    seeded_db: Database, settings: Settings
) -> None:
    data = await gql(
        seeded_db,
        settings,
        """{
          a: target(symbol: "il6r") { id symbol }
          b: target(symbol: "IL-6R") { id }
          c: target(symbol: "CD126") { id }
          d: target(symbol: "HGNC:6019") { id }
          e: target(symbol: "  Il 6 R ") { id }
          f: target(symbol: "IL-1β") { id symbol }
          g: target(symbol: "IL1beta") { id }
          h: target(symbol: "il-1 BETA") { id }
          i: target(symbol: "TNF-alpha") { id symbol }
          unknown: target(symbol: "IL-99") { id }
          emptyName: target(symbol: "") { id }
          curieUnknown: target(symbol: "HGNC:1") { id }
          toci: intervention(name: "ROACTEMRA") { id name }
          noDrug: intervention(name: "aspirin") { id }
          ms: claims(filter: {condition: "MeSH:D009103"}) { totalCount }
          organisms { totalCount nodes { taxonId commonName } }
        }""",
    )
    il6r = data["a"]["id"]
    assert data["a"]["symbol"] == "IL-6R"
    assert data["b"]["id"] == data["c"]["id"] == data["d"]["id"] == data["e"]["id"] == il6r
    assert data["f"]["symbol"] == "IL-1β"
    assert data["g"] == data["h"] == {"id": data["f"]["id"]}, "IL1beta and il-1 BETA should be IL-1β"
    assert data["i"]["symbol"] == "TNF-α"
    assert data["unknown"] is None, "an unknown symbol is null, not an error"
    assert data["emptyName"] is None
    assert data["curieUnknown"] is None
    assert data["toci"]["name"] == "tocilizumab"
    assert data["noDrug"] is None
    assert data["ms"]["totalCount"] == 27
    assert {(n["taxonId"], n["commonName"]) for n in data["organisms"]["nodes"]} == {
        (9606, "human"),
        (10090, "mouse"),
        (33208, "animal"),
        (40674, "mammal"),
    }
    humans = [
        (await filtered_ids(seeded_db, settings, {"organism": name}))[0]
        for name in ("human", "Homo sapiens", "NCBITaxon:9606", "HUMANS", "homo  sapiens")
    ]
    assert humans[0] and all(h == humans[0] for h in humans), "every name of human should match alike"


async def test_filters_over_added_claims(seeded_db: Database, settings: Settings) -> None:
    """What the seeds lack: a claim about IL-6R itself, one in EAE, one about IL-1β, and a
    source with a PMID."""
    pmid_source = await create_source(seeded_db, "A PMID-only paper", pmid="31234567", year=2019)
    own, eae, il1b, by_pmid = (
        global_id("Claim", i)
        for i in await create_claims(
            seeded_db,
            [
                ClaimSpec("IL-6R itself.", source=MIF_PAPER_DOI, target="IL-6R", outcome="inflammation"),
                ClaimSpec(
                    "In EAE, LIF lowers disease severity.",
                    source=MIF_PAPER_DOI,
                    target="LIF",
                    outcome="disease severity",
                    organism="mouse",
                    condition="EAE",
                ),
                ClaimSpec("IL-1β raises fever.", source=MIF_PAPER_DOI, target="IL1B", outcome="fever"),
                ClaimSpec(
                    "From a PMID source.", source="PMID:31234567", target="LIF", outcome="remyelination"
                ),
            ],
        )
    )

    # The target rule: IL-6R finds tocilizumab, sarilumab, anti-IL-6R therapy and IL-6R itself.
    data = await gql(
        seeded_db,
        settings,
        """{
          claims(filter: {target: "CD126"}, first: 100) {
            totalCount
            nodes { id targets { symbol } subject { ... on Target { symbol } ... on Intervention { name } } }
          }
          target(symbol: "il6r") { claims(first: 100) { totalCount } }
        }""",
    )
    nodes = data["claims"]["nodes"]
    subjects = {n["subject"].get("symbol") or n["subject"].get("name") for n in nodes}
    assert subjects == {"IL-6R", "tocilizumab", "sarilumab", "anti-IL-6R therapy"}
    assert data["claims"]["totalCount"] == 11 and own in {n["id"] for n in nodes}
    for node in nodes:
        assert "IL-6R" in {t["symbol"] for t in node["targets"]}, f"{node} should list IL-6R in its targets"
    assert data["target"]["claims"]["totalCount"] == 11, "Target.claims should follow the same rule"
    toci, _ = await filtered_ids(seeded_db, settings, {"intervention": "tocilizumab", "target": "IL-6R"})
    assert len(toci) == 2, "an intervention filter is about the subject only"

    # The condition hierarchy: MS includes EAE (a model of MS) as well as RRMS, SPMS and CIS.
    rows = await all_claims(seeded_db, settings)
    ms, _ = await filtered_ids(seeded_db, settings, {"condition": "multiple sclerosis"})
    conditions = {r.condition for r in rows if r.id in ms}
    for name in (
        "relapsing-remitting multiple sclerosis",
        "secondary progressive multiple sclerosis",
        "clinically isolated syndrome",
        "experimental autoimmune encephalomyelitis",
        "multiple sclerosis",
    ):
        assert name in conditions, f"filtering by MS should include claims about {name}"
    assert eae in ms and conditions <= MS_FAMILY
    assert (await filtered_ids(seeded_db, settings, {"condition": "EAE"}))[0] == {eae}
    spms, _ = await filtered_ids(seeded_db, settings, {"condition": "SPMS"})
    assert {r.condition for r in rows if r.id in spms} == {"secondary progressive multiple sclerosis"}
    hierarchy = await gql(
        seeded_db,
        settings,
        """{ conditions(search: "multiple sclerosis", first: 50) {
               nodes { name parent { name } children { name } } } }""",
    )
    by_name = {n["name"]: n for n in hierarchy["conditions"]["nodes"]}
    assert {c["name"] for c in by_name["multiple sclerosis"]["children"]} >= {
        "clinically isolated syndrome",
        "relapsing multiple sclerosis",
        "progressive multiple sclerosis",
        "experimental autoimmune encephalomyelitis",
    }
    assert by_name["relapsing-remitting multiple sclerosis"]["parent"] == {
        "name": "relapsing multiple sclerosis"
    }

    # Greek letters: the IL-1β claim is found by either spelling and by its CURIE.
    for name in ("IL-1β", "IL1beta", "il-1 beta", "HGNC:5992"):
        got, _ = await filtered_ids(seeded_db, settings, {"target": name})
        assert got == {il1b}, f"target {name!r} should find the IL-1β claim"

    # source by PMID, in any spelling, in the filter and in Query.source.
    for spelling in ("31234567", "PMID:31234567", " pmid: 31234567 "):
        got, total = await filtered_ids(seeded_db, settings, {"source": spelling})
        assert (got, total) == ({by_pmid}, 1), f"source {spelling!r} should find the PMID claim"
    data = await gql(seeded_db, settings, '{ source(pmid: "31234567") { id pmid claims { nodes { id } } } }')
    assert data["source"] == {
        "id": global_id("Source", pmid_source),
        "pmid": "31234567",
        "claims": {"nodes": [{"id": by_pmid}]},
    }


# --- visibility ---------------------------------------------------------------------------


async def test_drafts_are_invisible_to_anonymous_viewers_and_visible_to_reviewers(
    seeded_db: Database, settings: Settings
) -> None:
    curator = await create_user(seeded_db, "carla", Role.CURATOR)
    other_curator = await create_user(seeded_db, "colin", Role.CURATOR)
    reviewer = await create_user(seeded_db, "rita", Role.REVIEWER)
    [draft] = await create_claims(
        seeded_db,
        [
            ClaimSpec(
                # Opposes the accepted "anti-IL-6R therapy increases MS onset" at IL-6R level.
                "A draft: IL-6R signalling raises MS onset.",
                source=MIF_PAPER_DOI,
                target="IL-6R",
                outcome="MS onset",
                direction=EffectDirection.INCREASES,
            )
        ],
        actor=curator,
        status=None,  # what a curator gets: a DRAFT
    )
    draft_id = global_id("Claim", draft)
    query = """
      query($id: ID!, $status: [ClaimStatus!]) {
        all: claims(first: 100) { totalCount nodes { id } }
        asked: claims(filter: {status: $status}, first: 100) { totalCount nodes { id status } }
        il6r: claims(filter: {target: "IL-6R"}, first: 100) { totalCount }
        conflicted: claims(filter: {hasConflict: true, outcome: "MS onset"}) { totalCount }
        node(id: $id) { id ... on Claim { status } }
        nodes(ids: [$id]) { id }
        target(symbol: "IL-6R") { claims(first: 100) { totalCount } }
        source(doi: "10.1016/j.jns.2022.120320") { claims(first: 100) { totalCount } }
        summary: evidenceSummary(target: "IL-6R") { total }
      }
    """
    variables = {"id": draft_id, "status": ["DRAFT"]}

    anonymous = await gql(seeded_db, settings, query, variables)
    assert anonymous["all"]["totalCount"] == SEEDED_CLAIMS
    assert draft_id not in {n["id"] for n in anonymous["all"]["nodes"]}
    assert anonymous["asked"] == {"totalCount": 0, "nodes": []}, "status: [DRAFT] must not reveal drafts"
    assert anonymous["il6r"]["totalCount"] == 10
    assert anonymous["conflicted"]["totalCount"] == 0, "a hidden draft must not make a visible conflict"
    assert anonymous["node"] is None, "node(id) must not reveal a draft"
    assert anonymous["nodes"] == [None]
    assert anonymous["target"]["claims"]["totalCount"] == 10
    assert anonymous["source"]["claims"]["totalCount"] == 7
    assert anonymous["summary"]["total"] == 10

    other = await gql(seeded_db, settings, query, variables, actor=other_curator)
    assert other["node"] is None and other["asked"]["totalCount"] == 0, "another curator's draft is private"

    own = await gql(seeded_db, settings, query, variables, actor=curator)
    assert own["node"] == {"id": draft_id, "status": "DRAFT"}, "a curator sees their own draft"
    assert own["asked"]["totalCount"] == 1

    seen = await gql(seeded_db, settings, query, variables, actor=reviewer)
    assert seen["node"] == {"id": draft_id, "status": "DRAFT"}, "a reviewer sees drafts"
    assert seen["nodes"] == [{"id": draft_id}]
    assert seen["asked"] == {"totalCount": 1, "nodes": [{"id": draft_id, "status": "DRAFT"}]}
    assert seen["all"]["totalCount"] == SEEDED_CLAIMS + 1
    assert seen["il6r"]["totalCount"] == 11
    assert seen["target"]["claims"]["totalCount"] == 11
    assert seen["source"]["claims"]["totalCount"] == 8
    assert seen["summary"]["total"] == 11
    assert seen["conflicted"]["totalCount"] == 2, "to a reviewer the draft and the claim it opposes conflict"


@pytest.mark.parametrize(
    ("filter", "field", "suggested"),
    [
        ({"target": "no such target"}, ["filter", "target"], None),
        ({"target": "IL-6RR"}, ["filter", "target"], "IL-6R"),
        ({"intervention": "aspirin"}, ["filter", "intervention"], None),
        ({"condition": "no such disease"}, ["filter", "condition"], None),
        ({"organism": "NCBITaxon:10116"}, ["filter", "organism"], None),
        ({"outcome": "CSF MIF levl"}, ["filter", "outcome"], "CSF MIF level"),
        ({"target": "MIF", "organism": "unicorn"}, ["filter", "organism"], None),
        ({"targets": ["MIF", "PDE44"]}, ["filter", "targets", "1"], "PDE4"),
    ],
)
async def test_an_unknown_name_is_not_found_with_the_closest_names(
    seeded_db: Database, settings: Settings, filter: dict[str, Any], field: list[str], suggested: str | None
) -> None:
    """Not an empty page: a typo would look like "no evidence". The error names the filter
    field and, where there are some, the closest names (compiled and resolver paths alike)."""
    errors = await gql_error(seeded_db, settings, FILTERED, {"filter": filter})
    assert len(errors) == 1, errors
    assert errors[0].extensions == {"code": "NOT_FOUND", "field": field}, errors[0].extensions
    if suggested is not None:
        assert f"did you mean '{suggested}'" in errors[0].message, errors[0].message


async def test_more_than_a_hundred_targets_are_refused(seeded_db: Database, settings: Settings) -> None:
    errors = await gql_error(seeded_db, settings, FILTERED, {"filter": {"targets": ["MIF"] * 101}})
    assert errors[0].extensions["code"] == "INVALID" and "at most 100" in errors[0].message, errors
