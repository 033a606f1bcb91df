"""Every seed claim keeps the curation rules of seeds/FORMAT.md (issue 13), and each rule catches
the mistake it is there for (a fabricated claim that breaks it)."""

from __future__ import annotations

from typing import Any

import pytest
from seed_rules import (
    Names,
    cohort_problems,
    hedge_problems,
    organism_problems,
    peer_review_problem,
    quotes_by_source,
)

from api.settings import PROJECT_ROOT
from api.store.seeding import ClaimSeed, DocumentFile, SourceSeed, read_seeds

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="module")
def seeds() -> tuple[Names, list[tuple[str, DocumentFile]]]:
    vocabulary, documents = read_seeds(SEEDS)
    assert documents, "no seed document files were found"
    return Names(vocabulary), [(path.name, doc) for path, doc in documents]


def _report(problems: list[str]) -> str:
    return "\n".join(problems)


def test_no_hedge_backs_an_asserted_claim(seeds) -> None:
    _, documents = seeds
    problems = [
        f"{name} claims.{i}: {p}"
        for name, doc in documents
        for i, claim in enumerate(doc.claims)
        for p in hedge_problems(claim)
    ]
    assert not problems, _report(problems)


def test_every_organism_matches_the_wording_of_its_quotes(seeds) -> None:
    names, documents = seeds
    problems = [
        f"{name} claims.{i}: {p}"
        for name, doc in documents
        for i, claim in enumerate(doc.claims)
        for p in organism_problems(claim, names)
    ]
    assert not problems, _report(problems)


def test_every_cohort_size_stands_in_a_quote_of_its_source(seeds) -> None:
    _, documents = seeds
    problems = []
    for name, doc in documents:
        quotes = quotes_by_source(doc.claims)
        for i, claim in enumerate(doc.claims):
            problems += [f"{name} claims.{i}: {p}" for p in cohort_problems(claim, quotes[claim.source])]
    assert not problems, _report(problems)
    sized = [c for _, doc in documents for c in doc.claims if c.cohort and c.cohort.size is not None]
    assert sized, "the rule has cohorts to check"


def test_every_source_follows_the_peer_review_rule(seeds) -> None:
    _, documents = seeds
    sources = [s for _, doc in documents for s in doc.sources]
    problems = [p for s in sources if (p := peer_review_problem(s))]
    assert not problems, _report(problems)
    assert {s.peer_reviewed for s in sources} == {True, False}, "the seeds show both cases of the rule"


# --- each rule catches the mistake it is for -------------------------------------------------------


def _claim(**fields: Any) -> ClaimSeed:
    base: dict[str, Any] = {
        "statement": "s",
        "source": "src",
        "target": "MIF",
        "outcome": "CSF MIF level",
        "direction": "DECREASES",
        "modality": "ASSERTED",
        "evidence_type": "OBSERVATIONAL",
        "organism": "human",
        "evidence": [{"quote": "MIF was lower in patients with RRMS"}],
    }
    quotes = fields.pop("quotes", None)
    if quotes is not None:
        base["evidence"] = [{"quote": q} for q in quotes]
    return ClaimSeed.model_validate({**base, **fields})


@pytest.mark.parametrize(
    "quote",
    [
        "Rolipram maybe makes relapsing MS worse in patients",
        "blocking this pathway may be of some rapid benefit in some people",
        "There is a question mark over anti-IL-6R therapy in people",
        "does it make MS worse in a few people?",
        "Sotrovimab appears not to be very effective in people",
        "The findings suggest a drug could help patients",
        "I doubt a few days of treatment make any difference to patients",
    ],
)
def test_the_hedge_rule_catches_a_hedge_behind_an_assertion(quote: str) -> None:
    assert hedge_problems(_claim(quotes=[quote]))
    assert not hedge_problems(_claim(quotes=[quote], modality="HYPOTHESIS"))


def test_the_hedge_rule_takes_a_reason_only_for_the_word_it_names() -> None:
    quote = "they could deliver LIF to cells in mice"
    assert not hedge_problems(_claim(quotes=[quote], note="'could' is past ability here, not a hedge"))
    assert hedge_problems(_claim(quotes=[quote], note="a reason that names no word"))
    assert hedge_problems(_claim(quotes=[quote + " and may help"], note="'could' is past ability"))
    # a question is a HYPOTHESIS, not merely HEDGED
    assert hedge_problems(_claim(quotes=["does it make MS worse in a few people?"], modality="HEDGED"))
    # a disputing quote does not back the claim
    disputed = _claim(
        evidence=[{"quote": "MIF was lower in patients"}, {"quote": "surely not?", "stance": "DISPUTES"}]
    )
    assert not hedge_problems(disputed)


def test_the_organism_rule_catches_people_mice_animals_and_cells_confused(seeds) -> None:
    names, _ = seeds

    def caught(**fields: Any) -> bool:
        return bool(organism_problems(_claim(**fields), names))

    assert not caught()
    # human with no word about people, unless the note says why
    assert caught(quotes=["MIF blocks migration"])
    assert not caught(quotes=["MIF blocks migration"], note="organism: the post is about people")
    # the condition named as people have it counts, named as a model does not
    assert not caught(quotes=["inhibits progressive MS"], condition="progressive MS")
    assert caught(quotes=["in a model of progressive MS"], condition="progressive MS")
    # a mouse result recorded for people, or with the wrong evidence type
    mouse = ["In mice, turning off PIM1 improved symptoms"]
    assert caught(quotes=mouse)
    assert caught(quotes=mouse, organism="mouse")
    assert not caught(quotes=mouse, organism="mouse", evidence_type="ANIMAL_MODEL")
    # a mouse claim whose quotes do not speak of mice
    assert caught(quotes=["PIM1 changes Drp1 in cells"], organism="mouse", evidence_type="ANIMAL_MODEL")
    # animal models recorded as people, or as a review
    animal = ["minocycline has shown promise in animal models of ALS"]
    assert caught(quotes=animal, condition="ALS")
    assert caught(quotes=animal, organism="animal", evidence_type="REVIEW")
    assert not caught(quotes=animal, organism="animal", evidence_type="ANIMAL_MODEL")
    # bare cells: no species, and IN_VITRO needs cells
    cells = ["cells lost mitochondrial function"]
    assert caught(quotes=cells, organism="mouse", evidence_type="IN_VITRO")
    assert not caught(quotes=cells, organism="mammal", evidence_type="IN_VITRO")
    assert caught(quotes=["PIM1 changes Drp1"], organism="mammal", evidence_type="IN_VITRO")
    # a quote about mice backs no human claim, a quote about people no animal claim, even beside
    # a quote that would do (issue 13: "...in humans" behind "promise in animal models")
    press = "Early studies in mice on LIF have been covered in the press as a possible cure for MS"
    assert caught(quotes=[press, "No Human Studies Until 2020"])
    humans = "Many therapies have been shown to stimulate the immune system in humans"
    assert caught(quotes=[humans, *animal], organism="animal", evidence_type="ANIMAL_MODEL")
    # a reader's own experience speaks of a person
    anecdote = ["I have had 5 Covid jabs and none of them produced antibodies"]
    assert not caught(quotes=anecdote, evidence_type="ANECDOTE")
    assert caught(quotes=anecdote, evidence_type="EXPERT_OPINION")
    assert caught(organism="unicorn")


def test_the_cohort_rule_catches_a_size_no_quote_gives() -> None:
    cohort = {"label": "treatment-naive RRMS", "size": 22, "condition": "RRMS"}
    unsized = _claim(cohort={**cohort, "size": None})
    assert not cohort_problems(unsized, [])
    claim = _claim(cohort=cohort, quotes=["MIF was decreased in treatment-naive RRMS patients"])
    assert cohort_problems(claim, [])
    assert cohort_problems(claim, ["RRMS (n = 122)", "2.2 ng/ml"]), "122 and 2.2 are not 22"
    assert not cohort_problems(claim, ["relapsing-remitting MS (RRMS) (n = 22)"])
    assert cohort_problems(_claim(comparator={"label": "healthy controls", "size": 24}), [])
    assert cohort_problems(_claim(cohort={**cohort, "size": None, "female_count": 12}), [])


def test_the_peer_review_rule_catches_a_guess_and_a_miss() -> None:
    def source(**fields: Any) -> SourceSeed:
        return SourceSeed.model_validate({"key": "k", "kind": "PRIMARY_RESEARCH", "title": "t", **fields})

    article = {"venue": "J Neurol Sci", "doi": "10.1016/j.jns.2022.120320"}
    assert peer_review_problem(source(**article, peer_reviewed=True)) is None
    assert peer_review_problem(source(**article, peer_reviewed=False)), "an identified article"
    assert peer_review_problem(source(venue="Pharmacological Research", peer_reviewed=True)), "a guess"
    assert peer_review_problem(source(kind="BLOG_POST", **article, peer_reviewed=True))
    assert peer_review_problem(source(kind="LAY_SUMMARY", peer_reviewed=False)) is None
