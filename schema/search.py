"""The rules of searching, apart from any database.

- Claim text search takes web-search syntax, as PostgreSQL's websearch_to_tsquery reads it:
  words must all occur (AND), `"quoted words"` must occur as a phrase, `-word` must not occur,
  and `OR` between words offers alternatives (`a b OR c` is (a AND b) OR c). `parse_websearch`
  turns the text into OR-groups of terms, which the store renders for each database's own index
  (SQLite FTS5, PostgreSQL tsquery).
- A claim's searchable text holds its statement, the names of its subject, outcome and
  condition, and its quotes (`claim_document`), so "remyelination" finds the claims about that
  outcome whatever their wording.
- Names (labels, aliases, CURIEs, titles, DOIs) are ranked for typeahead the same way on both
  databases (`rank_name`): an exact match first, then a name that starts with the text, then one
  that contains it, then a close one (trigram similarity, as PostgreSQL's pg_trgm computes it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from schema.normalize import normalize_name

# Text longer than this names nothing real (and LIKE patterns this long are refused by SQLite).
MAX_SEARCH_TEXT = 200
# At most this many words and phrases of a web-search text are used.
MAX_TERMS = 32


@dataclass(frozen=True)
class Term:
    """One word, or a phrase of several words in order."""

    words: tuple[str, ...]


@dataclass
class Group:
    """Terms that must all occur (`present`) and terms none of which may occur (`absent`)."""

    present: list[Term] = field(default_factory=list)
    absent: list[Term] = field(default_factory=list)


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


def parse_websearch(text: str) -> list[Group]:
    """OR-groups of a web-search text; a group with no terms is dropped. Punctuation inside a
    word splits it as the text indexes split it (IL-6R: the phrase "il 6r")."""
    groups: list[Group] = [Group()]
    used = 0
    for match in _TOKEN.finditer(text):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None and bare.upper() == "OR":
            if groups[-1].present or groups[-1].absent:
                groups.append(Group())
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        words = tuple(_WORD.findall(quoted if quoted is not None else bare or ""))
        if not words or used >= MAX_TERMS:
            continue
        used += 1
        (groups[-1].absent if negated else groups[-1].present).append(Term(words))
    return [g for g in groups if g.present or g.absent]


def claim_document(statement: str, names: Iterable[str | None], quotes: Iterable[str]) -> str:
    """The searchable text of a claim: its statement, the names of its subject, outcome and
    condition (those it has), then its quotes in order, one per line."""
    return "\n".join([statement, *(n for n in names if n), *quotes])


# --- names ---------------------------------------------------------------------------------

EXACT, PREFIX, CONTAINS, SIMILAR = 1.0, 0.9, 0.7, 0.6
# Below this trigram similarity a name is not offered (pg_trgm's own default threshold).
SIMILARITY_THRESHOLD = 0.3


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: of each word (alphanumerics), lower-cased, padded with two blanks
    in front and one behind."""
    out: set[str] = set()
    for word in re.findall(r"[^\W_]+", text.lower(), re.UNICODE):
        padded = f"  {word} "
        out.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return out


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity: shared trigrams over all trigrams of the two texts."""
    x, y = trigrams(a), trigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def search_keys(text: str) -> tuple[str, str]:
    """The keys a text is compared with names by: the alias normaliser's key (case, spaces,
    hyphens, Greek letters folded) and the plain lower-cased text (CURIEs, DOIs, titles)."""
    return normalize_name(text), " ".join(text.lower().split())


def rank_name(text: str, name: str, key: str) -> float:
    """How well a name answers a typed text: 1 for an exact match (of the normalised key), just
    under 0.9 for a name starting with the text (the more of it typed, the higher), 0.7 for one
    containing it, 0.6 x trigram similarity for a close one; 0 for none of these."""
    normalized, lowered = search_keys(text)
    if not normalized and not lowered:
        return 0.0
    if key in (normalized, lowered):
        return EXACT
    for typed in (normalized, lowered):
        if typed and key.startswith(typed):
            return PREFIX * (0.9 + 0.1 * len(typed) / max(len(key), 1))
    if lowered and lowered in name.lower():
        return CONTAINS * (0.9 + 0.1 * len(lowered) / max(len(name), 1))
    close = similarity(text, name)
    return SIMILAR * close if close >= SIMILARITY_THRESHOLD else 0.0


class SearchKind(StrEnum):
    """What a search hit is."""

    TARGET = "TARGET"
    INTERVENTION = "INTERVENTION"
    CONDITION = "CONDITION"
    OUTCOME = "OUTCOME"
    ORGANISM = "ORGANISM"
    SOURCE = "SOURCE"
    CLAIM = "CLAIM"


# The kinds found by their names (search_term); claims are found by their text.
NAMED_KINDS = tuple(k for k in SearchKind if k is not SearchKind.CLAIM)
# A claim found by its text ranks below every name found exactly, by prefix or by substring:
# the best claim scores this much, the next ones less.
CLAIM_SCORE = 0.5
