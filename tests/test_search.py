"""Search across the vocabulary, sources and claims (Query.search), and claim text search in
web-search syntax (ClaimFilter.text): the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from graphql_client import gql, gql_error

from api.settings import Settings
from api.store.db import Database
from schema.search import parse_websearch, rank_name, similarity

SEARCH = """
query($text: String!, $kinds: [SearchKind!], $first: Int) {
  search(text: $text, kinds: $kinds, first: $first) {
    kind label matched score
    node { id __typename ... on Target { symbol } ... on Claim { statement } }
  }
}
"""


async def _search(db: Database, settings: Settings, text: str, **variables: Any) -> list[dict[str, Any]]:
    data = await gql(db, settings, SEARCH, {"text": text, **variables})
    return data["search"]


@pytest.mark.parametrize(
    ("text", "kind", "label", "matched"),
    [
        ("CD126", "TARGET", "IL-6R", "CD126"),  # an alias, exactly
        ("il6r", "TARGET", "IL-6R", "IL-6R"),  # case and hyphen folded
        ("HGNC:6019", "TARGET", "IL-6R", "HGNC:6019"),  # a CURIE
        ("remyelination", "OUTCOME", "remyelination", "remyelination"),
        ("myelin repair", "OUTCOME", "remyelination", "myelin repair"),
        ("NCBITaxon:10090", "ORGANISM", "Mus musculus", "NCBITaxon:10090"),
        ("10.1016/j.jns.2022.120320", "SOURCE", None, "10.1016/j.jns.2022.120320"),
    ],
)
async def test_an_exact_name_ranks_first(
    seeded_db: Database, settings: Settings, text: str, kind: str, label: str | None, matched: str
) -> None:
    hits = await _search(seeded_db, settings, text)
    assert hits, f"nothing found for {text!r}"
    best = hits[0]
    assert (best["kind"], best["matched"], best["score"]) == (kind, matched, 1.0), hits[:3]
    if label is not None:
        assert best["label"] == label
    assert best["node"]["__typename"] == kind.title().replace("_", ""), best


async def test_prefix_substring_and_typos_find_names_for_typeahead(
    seeded_db: Database, settings: Settings
) -> None:
    prefix = await _search(seeded_db, settings, "remyel")
    assert prefix[0]["label"] == "remyelination" and 0.8 < prefix[0]["score"] < 1.0, prefix[:3]
    typo = await _search(seeded_db, settings, "remyelinaton")
    assert typo and typo[0]["label"] == "remyelination" and typo[0]["score"] < 0.7, typo[:3]
    inside = await _search(seeded_db, settings, "cerebrospinal", kinds=["SOURCE", "OUTCOME"])
    assert inside and {h["kind"] for h in inside} <= {"SOURCE", "OUTCOME"}, inside
    scores = [h["score"] for h in inside]
    assert scores == sorted(scores, reverse=True), "best first"


async def test_kinds_and_first_narrow_and_claims_are_found_by_their_text(
    seeded_db: Database, settings: Settings
) -> None:
    only = await _search(seeded_db, settings, "tocilizumab", kinds=["INTERVENTION"], first=3)
    assert [h["kind"] for h in only] == ["INTERVENTION"] and only[0]["label"] == "tocilizumab"
    claims = await _search(seeded_db, settings, "tocilizumab", kinds=["CLAIM"], first=5)
    assert claims and all(h["kind"] == "CLAIM" for h in claims), claims
    assert all(h["score"] <= 0.5 for h in claims)
    everything = await _search(seeded_db, settings, "tocilizumab", first=50)
    kinds = [h["kind"] for h in everything]
    assert kinds[0] == "INTERVENTION" and "CLAIM" in kinds, kinds


@pytest.mark.parametrize(("first", "text"), [(51, "MIF"), (-1, "MIF"), (5, "x" * 201)])
async def test_out_of_bounds_requests_are_refused(
    seeded_db: Database, settings: Settings, first: int, text: str
) -> None:
    errors = await gql_error(seeded_db, settings, SEARCH, {"text": text, "first": first})
    assert errors[0].extensions["code"] == "BAD_USER_INPUT", errors


TEXT = (
    "query($text: String!) { claims(filter: {text: $text}, first: 100) { totalCount nodes { statement } } }"
)


async def _statements(db: Database, settings: Settings, text: str) -> set[str]:
    data = await gql(db, settings, TEXT, {"text": text})
    return {n["statement"] for n in data["claims"]["nodes"]}


async def test_claim_text_takes_web_search_syntax(seeded_db: Database, settings: Settings) -> None:
    mif = await _statements(seeded_db, settings, "MIF")
    csf = await _statements(seeded_db, settings, '"cerebrospinal fluid"')
    assert mif and csf
    assert await _statements(seeded_db, settings, 'MIF "cerebrospinal fluid"') == mif & csf
    assert await _statements(seeded_db, settings, 'MIF -"cerebrospinal fluid"') == mif - csf
    ibudilast = await _statements(seeded_db, settings, "ibudilast")
    assert await _statements(seeded_db, settings, "MIF OR ibudilast") == mif | ibudilast
    every = await _statements(seeded_db, settings, "-zzzunheardof")
    assert len(every) >= len(mif | ibudilast), "a text only excluding a word keeps every other claim"


def test_websearch_parsing_and_ranking_rules() -> None:
    groups = parse_websearch('cat "red cars" -dog OR fish -"big bird"')
    assert [(len(g.present), len(g.absent)) for g in groups] == [(2, 1), (1, 1)]
    assert groups[0].present[1].words == ("red", "cars")
    assert parse_websearch("OR OR") == []
    assert rank_name("CD126", "CD126", "cd126") == 1.0
    assert 0.8 < rank_name("remy", "remyelination", "remyelination") < 0.9
    assert rank_name("xyz", "remyelination", "remyelination") == 0.0
    assert similarity("remyelination", "remyelinaton") > 0.5


async def test_new_names_are_found_at_once(db: Database, settings: Settings) -> None:
    """The search terms are written by the database itself (triggers), whatever writes a name."""
    from graphql_client import create_source

    await create_source(db, "Fingolimod and remyelination in a cuprizone model", doi="10.5555/search.1")
    by_title = await _search(db, settings, "cuprizone", kinds=["SOURCE"])
    by_doi = await _search(db, settings, "10.5555/SEARCH.1", kinds=["SOURCE"])
    assert by_title and by_title[0]["label"].startswith("Fingolimod"), by_title
    assert by_doi and by_doi[0]["score"] == 1.0, by_doi
