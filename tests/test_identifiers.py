"""The pure rules in schema/: identifiers, CURIEs, target-level bearing, audit hashing, and
claim fingerprints."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from schema.audit import GENESIS_HASH, EventContent, event_hash, verify_chain
from schema.bearing import directions_oppose, target_level_direction
from schema.claims import claim_fingerprint
from schema.curies import parse_curie
from schema.enums import EffectDirection, TargetAction
from schema.identifiers import (
    IdentifierError,
    looks_like_doi,
    looks_like_pmid,
    normalize_doi,
    normalize_pmid,
)

INC = EffectDirection.INCREASES
DEC = EffectDirection.DECREASES
NONE_ = EffectDirection.NO_EFFECT
MIXED = EffectDirection.MIXED

# --- DOI ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "doi"),
    [
        ("10.1038/nrn.2017.1", "10.1038/nrn.2017.1"),
        ("10.1038/NRN.2017.1", "10.1038/nrn.2017.1"),
        ("https://doi.org/10.1016/J.Cell.2020.01.001", "10.1016/j.cell.2020.01.001"),
        ("http://doi.org/10.1016/j.cell.2020.01.001", "10.1016/j.cell.2020.01.001"),
        ("HTTPS://DOI.ORG/10.1016/J.CELL.2020.01.001", "10.1016/j.cell.2020.01.001"),
        ("https://dx.doi.org/10.1212/WNL.0000000000001", "10.1212/wnl.0000000000001"),
        ("http://dx.doi.org/10.1212/WNL.0000000000001", "10.1212/wnl.0000000000001"),
        ("doi:10.1212/WNL.1", "10.1212/wnl.1"),
        ("DOI: 10.1212/WNL.1", "10.1212/wnl.1"),
        ("  10.1212/abc/ ", "10.1212/abc"),
    ],
)
def test_normalize_doi_gives_the_bare_lower_case_doi(raw: str, doi: str) -> None:
    assert normalize_doi(raw) == doi
    assert normalize_doi(doi) == doi, "a normalised DOI must normalise to itself"
    assert looks_like_doi(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "10.12/abc",  # registrant code too short
        "11.1234/abc",  # not a DOI directory
        "10.1234/",  # no suffix
        "10.1234/a b",  # whitespace in the suffix
        "https://example.org/10.1234/abc",  # not a DOI resolver
        "pmid:20406167",
    ],
)
def test_invalid_doi_is_refused_with_the_expected_form(raw: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_doi(raw)
    message = str(caught.value)
    assert f"'{raw}'" in message, f"the message should quote the value: {message}"
    assert "10.1234/suffix" in message, f"the message should show the expected form: {message}"
    assert not looks_like_doi(raw)


# --- PMID ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "pmid"),
    [
        ("20406167", "20406167"),
        (20406167, "20406167"),
        ("PMID: 20406167", "20406167"),
        ("pmid:20406167", "20406167"),
        (" PMID:  20406167 ", "20406167"),
        ("https://pubmed.ncbi.nlm.nih.gov/20406167/", "20406167"),
        ("https://pubmed.ncbi.nlm.nih.gov/20406167", "20406167"),
        ("https://www.ncbi.nlm.nih.gov/pubmed/20406167", "20406167"),
        ("0020406", "20406"),  # leading zeros dropped
        (1, "1"),
    ],
)
def test_normalize_pmid_gives_the_decimal_digits(raw: str | int, pmid: str) -> None:
    assert normalize_pmid(raw) == pmid
    assert normalize_pmid(pmid) == pmid
    assert looks_like_pmid(str(raw))


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "0", 0, "-5", -5, "12.5", "1234567890", "PMID:", "10.1038/nrn.2017.1"],
)
def test_invalid_pmid_is_refused_with_an_example(raw: str | int) -> None:
    with pytest.raises(IdentifierError) as caught:
        normalize_pmid(raw)
    message = str(caught.value)
    assert f"'{raw}'" in message, f"the message should quote the value: {message}"
    assert "positive number" in message, f"the message should say what is expected: {message}"
    assert not looks_like_pmid(str(raw))


def test_superscript_digits_are_an_identifier_error_not_a_crash() -> None:
    with pytest.raises(IdentifierError):
        normalize_pmid("12³")
    assert not looks_like_pmid("12³")


# --- CURIEs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HGNC:6019", "HGNC:6019"),
        ("hgnc:6019", "HGNC:6019"),
        (" hgnc : 6019 ", "HGNC:6019"),
        ("UniProt:P08887", "UniProt:P08887"),
        ("uniprot:P08887", "UniProt:P08887"),
        ("NCBITaxon:9606", "NCBITaxon:9606"),
        ("ncbitaxon:9606", "NCBITaxon:9606"),
        ("mesh:D009103", "MeSH:D009103"),
        ("MESH:D009103", "MeSH:D009103"),
        ("MONDO:0005301", "MONDO:0005301"),
        ("mondo:0005301", "MONDO:0005301"),
    ],
)
def test_parse_curie_canonicalises_the_prefix(raw: str, canonical: str) -> None:
    curie = parse_curie(raw)
    assert str(curie) == canonical
    assert parse_curie(canonical) == curie, "both spellings must be the same reference"


def test_curie_keeps_prefix_and_identifier_apart() -> None:
    curie = parse_curie("hgnc:6019")
    assert (curie.prefix, curie.identifier) == ("hgnc", "6019")


def test_unknown_prefix_is_named_in_the_error() -> None:
    with pytest.raises(IdentifierError, match="'notaprefix' in 'notaprefix:123' is not a known"):
        parse_curie("notaprefix:123")


@pytest.mark.parametrize(
    ("raw", "local", "prefix"),
    [("HGNC:abc", "abc", "HGNC"), ("MONDO:123", "123", "MONDO"), ("UniProt:12345", "12345", "UniProt")],
)
def test_bad_local_identifier_names_the_pattern(raw: str, local: str, prefix: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_curie(raw)
    message = str(caught.value)
    assert f"'{local}' is not a valid {prefix} identifier" in message, message
    assert "expected pattern ^" in message, f"the message should show the pattern: {message}"


@pytest.mark.parametrize(
    "raw", ["", "HGNC", "HGNC:", ":6019", "6019", "https://identifiers.org/hgnc:6019", "IL-6 R"]
)
def test_not_a_curie_at_all(raw: str) -> None:
    with pytest.raises(IdentifierError, match="is not a CURIE; expected PREFIX:ID"):
        parse_curie(raw)


# --- target-level direction ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "action", "expected"),
    [
        (INC, TargetAction.INHIBITS, DEC),
        (DEC, TargetAction.INHIBITS, INC),
        (NONE_, TargetAction.INHIBITS, NONE_),
        (MIXED, TargetAction.INHIBITS, MIXED),
        *[(d, TargetAction.ACTIVATES, d) for d in EffectDirection],
        *[(d, None, d) for d in EffectDirection],
        *[(d, TargetAction.BINDS, None) for d in EffectDirection],
        *[(d, TargetAction.MODULATES, None) for d in EffectDirection],
    ],
)
def test_target_level_direction(
    direction: EffectDirection, action: TargetAction | None, expected: EffectDirection | None
) -> None:
    assert target_level_direction(direction, action) is expected


# Every ordered pair of directions (and None), and whether they oppose.
_OPPOSE = {
    (INC, DEC): True,
    (INC, NONE_): True,
    (DEC, NONE_): True,
}


@pytest.mark.parametrize("a", [*EffectDirection, None], ids=lambda d: str(d))
@pytest.mark.parametrize("b", [*EffectDirection, None], ids=lambda d: str(d))
def test_directions_oppose_truth_table(a: EffectDirection | None, b: EffectDirection | None) -> None:
    expected = _OPPOSE.get((a, b), False) or _OPPOSE.get((b, a), False)  # type: ignore[arg-type]
    assert directions_oppose(a, b) is expected, f"directions_oppose({a}, {b}) should be {expected}"


def test_mixed_opposes_nothing() -> None:
    for other in [*EffectDirection, None]:
        assert not directions_oppose(MIXED, other)
        assert not directions_oppose(other, MIXED)


# --- audit hash chain ---------------------------------------------------------------------

_T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _event(event_id: int, **changes: Any) -> EventContent:
    content = EventContent(
        id=event_id,
        at=_T0 + timedelta(seconds=event_id),
        actor_id=7,
        action="claim.create",
        entity_type="claim",
        entity_id=100 + event_id,
        before=None,
        after={"statement": f"claim {event_id}", "status": "DRAFT"},
        comment=None,
        request_id="req-1",
    )
    return dataclasses.replace(content, **changes)


def _chain(count: int, anchor: str = GENESIS_HASH) -> list[tuple[EventContent, str, str]]:
    chain, previous = [], anchor
    for event_id in range(1, count + 1):
        content = _event(event_id)
        digest = event_hash(content, previous)
        chain.append((content, previous, digest))
        previous = digest
    return chain


def test_event_hash_is_deterministic() -> None:
    event = _event(1)
    digest = event_hash(event, GENESIS_HASH)
    assert digest == event_hash(_event(1), GENESIS_HASH)
    assert len(digest) == 64 and int(digest, 16) >= 0, "a hex SHA-256 digest"


def test_event_hash_does_not_depend_on_the_time_zone_or_key_order() -> None:
    event = _event(1)
    elsewhere = dataclasses.replace(event, at=event.at.astimezone(timezone(timedelta(hours=5))))
    reordered = dataclasses.replace(event, after=dict(reversed(list(event.after.items()))))
    assert event_hash(elsewhere, GENESIS_HASH) == event_hash(event, GENESIS_HASH)
    assert event_hash(reordered, GENESIS_HASH) == event_hash(event, GENESIS_HASH)


@pytest.mark.parametrize(
    "change",
    [
        {"id": 2},
        {"at": _T0 + timedelta(seconds=1, microseconds=1)},
        {"actor_id": 8},
        {"actor_id": None},
        {"action": "claim.update"},
        {"entity_type": "source"},
        {"entity_id": 999},
        {"before": {}},
        {"after": {"statement": "claim 1!", "status": "DRAFT"}},
        {"comment": "edited"},
        {"request_id": "req-2"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_event_hash_covers_every_field(change: dict[str, Any]) -> None:
    original = event_hash(_event(1), GENESIS_HASH)
    assert event_hash(_event(1, **change), GENESIS_HASH) != original
    assert event_hash(_event(1), "1" * 64) != original, "the previous hash is covered too"


def test_intact_chain_verifies() -> None:
    assert verify_chain(_chain(5)) is None
    assert verify_chain([]) is None


def test_edited_field_breaks_the_chain_at_that_event() -> None:
    chain = _chain(5)
    content, previous, digest = chain[2]
    chain[2] = (dataclasses.replace(content, comment="quietly edited"), previous, digest)
    broken = verify_chain(chain)
    assert broken is not None, "an edited event went unnoticed"
    assert broken.event_id == 3
    assert "content does not match its hash" in broken.reason


def test_removed_event_breaks_the_chain_after_the_gap() -> None:
    chain = _chain(5)
    del chain[2]
    broken = verify_chain(chain)
    assert broken is not None, "a removed event went unnoticed"
    assert broken.event_id == 4
    assert "previous_hash does not match" in broken.reason


def test_rewritten_hash_breaks_the_chain() -> None:
    chain = _chain(3)
    content, previous, _ = chain[1]
    forged = dataclasses.replace(content, comment="forged")
    chain[1] = (forged, previous, event_hash(forged, previous))  # recomputed, but event 3 disagrees
    broken = verify_chain(chain)
    assert broken is not None and broken.event_id == 3


def test_verify_continues_from_an_anchor() -> None:
    chain = _chain(6)
    anchor = chain[2][2]  # the hash of event 3
    assert verify_chain(chain[3:], anchor=anchor) is None
    broken = verify_chain(chain[3:])  # from genesis, event 4 does not follow
    assert broken is not None and broken.event_id == 4
    broken = verify_chain(chain[3:], anchor=chain[1][2])
    assert broken is not None and broken.event_id == 4


# --- claim fingerprint --------------------------------------------------------------------

_CLAIM: dict[str, Any] = {
    "source_id": 1,
    "subject_target_id": 2,
    "subject_intervention_id": None,
    "outcome_id": 3,
    "direction": "INCREASES",
    "organism_id": 4,
    "condition_id": 5,
    "cohort_id": 6,
    "comparator_id": 7,
    "sample_type": "CSF",
}


def test_fingerprint_is_deterministic_and_ignores_sample_type_case() -> None:
    base = claim_fingerprint(**_CLAIM)
    assert claim_fingerprint(**_CLAIM) == base
    assert len(base) == 64
    assert claim_fingerprint(**{**_CLAIM, "sample_type": "csf"}) == base
    assert claim_fingerprint(**{**_CLAIM, "sample_type": "  Csf "}) == base


@pytest.mark.parametrize(
    "change",
    [
        {"source_id": 10},
        {"subject_target_id": None, "subject_intervention_id": 2},
        {"outcome_id": 30},
        {"direction": "DECREASES"},
        {"organism_id": 40},
        {"condition_id": None},
        {"condition_id": 50},
        {"cohort_id": None},
        {"comparator_id": None},
        {"cohort_id": 7, "comparator_id": 6},
        {"sample_type": "serum"},
        {"sample_type": None},
    ],
    ids=lambda change: "+".join(f"{k}={v}" for k, v in change.items()),
)
def test_fingerprint_differs_when_the_finding_differs(change: dict[str, Any]) -> None:
    assert claim_fingerprint(**{**_CLAIM, **change}) != claim_fingerprint(**_CLAIM)
