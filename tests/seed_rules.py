"""The curation rules every seed claim keeps (seeds/FORMAT.md, "Rules"; issue 13).

Each rule is a function of one seed claim (or source) that returns its problems as sentences, empty
when the claim keeps the rule, so a test can run it over every seed and a unit test can show it
catching a fabricated bad example. A claim's `note` is where the curator says why a rule does not
apply: the hedge rule accepts a note that names the hedge word in quotes ('could'), the organism
rules a note that says "organism".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from api.store.seeding import ClaimSeed, SourceSeed, VocabularyFile
from schema.enums import EvidenceType, Modality, SourceKind, Stance

# Words by which a source says it is not sure. "?" stands for a question.
HEDGE = re.compile(
    r"\b(?:may|maybe|might|could|perhaps|possibl[ey]|suggest\w*|appears?|seems?|doubt|I think)\b"
    r"|question mark|\?",
    re.IGNORECASE,
)
# Wording that says a finding concerns people ("I", "my": a reader's own experience, see below).
PEOPLE = re.compile(
    r"\b(?:people|persons?|patients?|humans?|women|men|individuals|adults|children|HCs|healthy controls)\b",
    re.IGNORECASE,
)
FIRST_PERSON = re.compile(r"\b(?:I|my|me)\b")
MICE = re.compile(r"\b(?:mouse|mice|murine)\b", re.IGNORECASE)
ANIMALS = re.compile(r"\banimals?\b", re.IGNORECASE)
CELLS = re.compile(r"\bcells?\b", re.IGNORECASE)
# "a mouse model of the disease", "animal models of ALS": a condition named as modelled, not in people.
MODEL = re.compile(r"\bmodels?\b", re.IGNORECASE)

HUMAN, MOUSE, ANIMAL = 9606, 10090, 33208
ANIMAL_EVIDENCE = {EvidenceType.ANIMAL_MODEL, EvidenceType.IN_VITRO}
# Kinds of source that can be journal articles (FORMAT.md, "peer_reviewed").
JOURNAL_KINDS = {SourceKind.PRIMARY_RESEARCH, SourceKind.REVIEW, SourceKind.CLINICAL_TRIAL}


def _supporting(claim: ClaimSeed) -> list[str]:
    return [e.quote for e in claim.evidence if e.stance is Stance.SUPPORTS]


def _note_names(note: str | None, word: str) -> bool:
    """The note names `word` in single or double quotes: 'could', "?"."""
    text = (note or "").casefold()
    return any(f"{q}{word.casefold()}{q}" in text for q in ("'", '"'))


def _explains_organism(note: str | None) -> bool:
    return "organism" in (note or "").casefold()


def hedge_problems(claim: ClaimSeed) -> list[str]:
    """A hedge never backs an ASSERTED claim unless the note names the word and says why; a
    question backs only a HYPOTHESIS."""
    problems: list[str] = []
    for quote in _supporting(claim):
        words = sorted({m.group(0).casefold() for m in HEDGE.finditer(quote)})
        if claim.modality is Modality.ASSERTED:
            for word in words:
                if not _note_names(claim.note, word):
                    problems.append(
                        f"ASSERTED, but a supporting quote hedges with {word!r}: {quote!r} "
                        f"(make the claim HEDGED or HYPOTHESIS, or name '{word}' in the note and say why)"
                    )
        elif claim.modality is Modality.HEDGED and quote.rstrip().endswith("?"):
            if not _note_names(claim.note, "?"):
                problems.append(f"a question backs a HEDGED claim; a question is a HYPOTHESIS: {quote!r}")
    return problems


class Names:
    """The seed vocabulary's organisms (to taxon ids) and conditions (every name of each)."""

    def __init__(self, vocabulary: VocabularyFile) -> None:
        self.taxa: dict[str, int] = {}
        for o in vocabulary.organisms:
            for name in (o.scientific_name, o.common_name, *o.aliases, f"NCBITaxon:{o.taxon_id}"):
                if name:
                    self.taxa[name.casefold()] = o.taxon_id
        self.conditions: dict[str, list[str]] = {}
        for c in vocabulary.conditions:
            names = [c.name, *c.aliases]
            for name in names:
                self.conditions[name.casefold()] = names

    def taxon(self, organism: str) -> int | None:
        return self.taxa.get(organism.casefold())

    def condition_named(self, condition: str | None, quote: str) -> bool:
        """The quote names the claim's condition (any of its names) and not as a model of it."""
        if not condition or MODEL.search(quote) or MICE.search(quote) or ANIMALS.search(quote):
            return False
        for name in self.conditions.get(condition.casefold(), [condition]):
            flags = 0 if name.isupper() else re.IGNORECASE
            if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", quote, flags):
                return True
        return False


def organism_problems(claim: ClaimSeed, names: Names) -> list[str]:
    """Organism human needs a quote that speaks of people (or names the claim's condition as people
    have it); mouse and animal claims need mouse / animal wording and animal-model (or cell)
    evidence; wording about mice, animals or cells (with no species) needs the matching organism and
    evidence type, and no quote about mice alone backs a human claim (nor one about people alone an animal
    claim). A note that says "organism" explains a human claim whose sentence names no species."""
    quotes = _supporting(claim)
    text = " ".join(quotes)
    taxon = names.taxon(claim.organism)
    people = (
        any(PEOPLE.search(q) for q in quotes)
        or (claim.evidence_type is EvidenceType.ANECDOTE and bool(FIRST_PERSON.search(text)))
        or any(names.condition_named(claim.condition, q) for q in quotes)
    )
    mice, animals, cells = bool(MICE.search(text)), bool(ANIMALS.search(text)), bool(CELLS.search(text))
    explained = _explains_organism(claim.note)
    evidence = claim.evidence_type
    problems: list[str] = []

    if taxon is None:
        problems.append(f"organism {claim.organism!r} is not in vocabulary.yaml")
    if taxon == HUMAN:
        if not people and not explained:
            problems.append(
                "organism human, but no supporting quote speaks of people (or names the condition "
                "as people have it); quote the words that do, or say in the note why (organism: ...)"
            )
        if evidence is EvidenceType.ANIMAL_MODEL:
            problems.append("organism human with ANIMAL_MODEL evidence")
    if taxon == MOUSE:
        if not mice:
            problems.append("organism mouse, but no supporting quote speaks of mice")
        if evidence not in ANIMAL_EVIDENCE:
            problems.append(f"organism mouse needs ANIMAL_MODEL or IN_VITRO evidence, not {evidence.value}")
    if taxon == ANIMAL:
        if not animals:
            problems.append("organism animal, but no supporting quote speaks of animals")
        if evidence is not EvidenceType.ANIMAL_MODEL:
            problems.append(f"organism animal needs ANIMAL_MODEL evidence, not {evidence.value}")

    if not people:
        if mice and taxon != MOUSE:
            problems.append(f"the quotes speak of mice, not people: organism mouse, not {claim.organism!r}")
        elif animals and not mice and taxon != ANIMAL:
            problems.append(
                f"the quotes speak of animals, not people: the organism is animal, not {claim.organism!r}"
            )
        if (mice or animals) and evidence not in ANIMAL_EVIDENCE:
            problems.append(f"the quotes speak of mice or animals: ANIMAL_MODEL, not {evidence.value}")
        if cells and not (mice or animals) and taxon in (HUMAN, MOUSE) and not explained:
            problems.append(f"the quotes speak of cells and name no species, not {claim.organism!r}")
    # Quote by quote: words about mice or animals alone never back a human claim, words about
    # people alone never back a mouse or animal claim.
    for quote in quotes:
        of_people = bool(PEOPLE.search(quote))
        of_animals = bool(MICE.search(quote) or ANIMALS.search(quote))
        if taxon == HUMAN and of_animals and not of_people:
            problems.append(f"a quote about mice or animals backs a human claim: {quote!r}")
        if taxon in (MOUSE, ANIMAL) and of_people and not of_animals:
            problems.append(f"a quote about people backs a claim of organism {claim.organism}: {quote!r}")
    if evidence is EvidenceType.IN_VITRO and not cells:
        problems.append("IN_VITRO evidence, but no supporting quote speaks of cells")
    return problems


def _number(value: int) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){value}(?![\w.])")


def cohort_problems(claim: ClaimSeed, quotes_of_source: Iterable[str]) -> list[str]:
    """A cohort's size (and female count) stands in the claim's own quotes or in a quote of
    another claim of the same source; `quotes_of_source` are all the quotes of that source's claims."""
    own = [e.quote for e in claim.evidence]
    others = list(quotes_of_source)
    problems: list[str] = []
    for role, cohort in (("cohort", claim.cohort), ("comparator", claim.comparator)):
        if cohort is None:
            continue
        for field, value in (("size", cohort.size), ("female_count", cohort.female_count)):
            if value is None:
                continue
            if not any(_number(value).search(q) for q in (*own, *others)):
                problems.append(
                    f"{role} {cohort.label!r} has {field} {value}, which no quote of its source gives "
                    "(quote where the document says it, or leave it empty)"
                )
    return problems


def peer_review_problem(source: SourceSeed) -> str | None:
    """peer_reviewed is true exactly for a journal article the document identifies: a research,
    review or trial paper with its journal (venue) and a DOI or PMID."""
    identified = source.kind in JOURNAL_KINDS and bool(source.venue) and bool(source.doi or source.pmid)
    if source.peer_reviewed == identified:
        return None
    if source.peer_reviewed:
        return (
            f"source {source.key}: peer_reviewed true, but it is not a journal article the document "
            "identifies (kind, venue and DOI or PMID); a guess is false"
        )
    return (
        f"source {source.key}: a journal article the document identifies (venue, DOI/PMID) is peer reviewed"
    )


def quotes_by_source(claims: Iterable[ClaimSeed]) -> Mapping[str, list[str]]:
    by_source: dict[str, list[str]] = {}
    for claim in claims:
        by_source.setdefault(claim.source, []).extend(e.quote for e in claim.evidence)
    return by_source
