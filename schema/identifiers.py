"""Bibliographic identifiers: DOI and PMID, normalised so one document has one spelling.

A DOI is stored lower-case without any resolver prefix ("https://doi.org/", "doi:"), since DOIs
are case-insensitive by definition. A PMID is stored as its decimal digits.
"""

from __future__ import annotations

import re

_DOI_PREFIXES = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|info:doi/)", flags=re.IGNORECASE)
_DOI_RE = re.compile(r"^10\.[0-9]{4,9}/\S+$")
_PMID_PREFIXES = re.compile(
    r"^(?:pmid:?\s*|https?://(?:www\.)?(?:pubmed\.ncbi\.nlm\.nih\.gov|ncbi\.nlm\.nih\.gov/pubmed)/)",
    flags=re.IGNORECASE,
)


class IdentifierError(ValueError):
    """A DOI, PMID or CURIE that cannot be read; the message says what is expected."""


def normalize_doi(value: str) -> str:
    doi = _DOI_PREFIXES.sub("", value.strip()).strip().rstrip("/").lower()
    if not _DOI_RE.match(doi):
        raise IdentifierError(
            f"'{value}' is not a DOI; expected the form 10.1234/suffix "
            "(a https://doi.org/ or doi: prefix is accepted)"
        )
    return doi


def normalize_pmid(value: str | int) -> str:
    text = _PMID_PREFIXES.sub("", str(value).strip()).strip().rstrip("/")
    # [0-9], not str.isdigit(): that also admits superscripts and other scripts' digits.
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) == 0:
        raise IdentifierError(f"'{value}' is not a PMID; expected a positive number such as 20406167")
    return str(int(text))


def looks_like_doi(value: str) -> bool:
    try:
        normalize_doi(value)
    except IdentifierError:
        return False
    return True


def looks_like_pmid(value: str) -> bool:
    try:
        normalize_pmid(value)
    except IdentifierError:
        return False
    return True
