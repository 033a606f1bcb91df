"""The alias normaliser: one comparison key for every spelling of a name."""

from __future__ import annotations

import pytest

from schema.normalize import clean_label, normalize_name

SAME_NAME = [
    pytest.param(["IL-1β", "IL1beta", "il-1 beta", "IL-1 Beta", "IL1Β", "il_1_BETA"], id="il1b"),
    pytest.param(["TNF-α", "TNFalpha", "tnf alpha", "TNF-Α", "TNF–α"], id="tnfa"),
    pytest.param(["IFN-γ", "IFNgamma", "IFN-Γ", "ifn gamma"], id="ifng"),
    pytest.param(["IL-6R", "il6r", "Il_6 R", "IL‐6R", "IL–6R", "IL—6R", "IL−6R", " IL 6 R "], id="il6r"),
    pytest.param(["TGF-β1", "TGFbeta1", "TGF-ϐ1", "tgf beta 1"], id="tgfb1"),
    pytest.param(["µ-opioid receptor", "mu-opioid receptor", "μ opioid receptor"], id="micro-sign"),
    pytest.param(["CD4+ T cell", "cd4+ t-cell", "CD4+_T_CELL"], id="plus-kept-alike"),
    pytest.param(["ＩＬ－６", "IL-6"], id="full-width"),
]


@pytest.mark.parametrize("spellings", SAME_NAME)
def test_spellings_of_one_name_share_a_key(spellings: list[str]) -> None:
    keys = {spelling: normalize_name(spelling) for spelling in spellings}
    assert len(set(keys.values())) == 1, f"these should be one name, keys differ: {keys}"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("IL-1β", "il1beta"),
        ("TNF-α", "tnfalpha"),
        ("IL-6R", "il6r"),
        ("Σ-receptor", "sigmareceptor"),
        ("NF-κB", "nfkappab"),
        ("Tab\tand\nnewline", "tabandnewline"),
    ],
)
def test_key_is_lower_case_with_greek_spelled_out(name: str, key: str) -> None:
    assert normalize_name(name) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("IL-1/IL-6", "IL-1 IL-6"),
        ("IL-1/IL-6", "IL-1IL-6"),
        ("CD4+", "CD4"),
        ("IL-6 (soluble)", "IL-6 soluble"),
        ("IL-1β", "IL-1α"),
        ("IL-6", "IL-6R"),
        ("anti-CD20, rituximab", "anti-CD20 rituximab"),
    ],
)
def test_other_punctuation_and_letters_keep_names_apart(a: str, b: str) -> None:
    assert normalize_name(a) != normalize_name(b), f"{a!r} and {b!r} must stay different names"


def test_key_is_stable_under_renormalising() -> None:
    for name in ["IL-1β", "TNF-α", "IL-6 (soluble)", "CD4+ T cell"]:
        key = normalize_name(name)
        assert normalize_name(key) == key, f"normalising {name!r} twice changed its key"


@pytest.mark.parametrize(
    ("label", "cleaned"),
    [
        ("  interleukin 6  ", "interleukin 6"),
        ("interleukin\t \n6   receptor", "interleukin 6 receptor"),
        ("IL-1β", "IL-1β"),  # case, hyphens and Greek are kept: this is a display label
        ("Cafe\u0301", "Café"),  # composed to NFC
        ("", ""),
    ],
)
def test_clean_label_trims_and_folds_whitespace(label: str, cleaned: str) -> None:
    assert clean_label(label) == cleaned
