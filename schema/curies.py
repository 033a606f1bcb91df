"""CURIE cross-references ("HGNC:6019", "UniProt:P08887", "NCBITaxon:9606").

Prefixes are checked against the Bioregistry (which ships its registry, so this works offline)
and stored in one canonical spelling, so "hgnc:6019" and "HGNC:6019" are the same reference.
Local identifiers are checked against the registry's pattern where it has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from schema.identifiers import IdentifierError

# Display spellings for the prefixes this domain uses most, where the Bioregistry has no
# preferred prefix of its own; the rest fall back to the registry's preferred prefix, else upper case.
_DISPLAY = {
    "hgnc": "HGNC",
    "uniprot": "UniProt",
    "mesh": "MeSH",
    "drugbank": "DrugBank",
    "ncbitaxon": "NCBITaxon",
    "pubchem.compound": "PubChem.Compound",
    "omim": "OMIM",
    "orpha": "Orphanet",
}

_SHAPE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9._-]*)\s*:\s*(\S+)\s*$")


@dataclass(frozen=True)
class Curie:
    prefix: str  # canonical Bioregistry prefix, lower case ("hgnc")
    identifier: str  # local identifier ("6019")

    def __str__(self) -> str:
        return f"{display_prefix(self.prefix)}:{self.identifier}"


@cache
def _registry():  # imported lazily: the registry takes a moment to load
    import bioregistry

    return bioregistry


@cache
def display_prefix(prefix: str) -> str:
    if prefix in _DISPLAY:
        return _DISPLAY[prefix]
    return _registry().get_preferred_prefix(prefix) or prefix.upper()


def split_curie(value: str) -> tuple[str, str] | None:
    """The (prefix, identifier) of something shaped like a CURIE, else None. No registry check."""
    match = _SHAPE.match(value)
    if not match or "://" in value:
        return None
    return match.group(1), match.group(2)


def parse_curie(value: str) -> Curie:
    """Validate and canonicalise a CURIE; raises IdentifierError naming what is wrong."""
    parts = split_curie(value)
    if parts is None:
        raise IdentifierError(f"'{value}' is not a CURIE; expected PREFIX:ID such as HGNC:6019")
    raw_prefix, raw_id = parts
    registry = _registry()
    prefix = registry.normalize_prefix(raw_prefix)
    if prefix is None:
        raise IdentifierError(
            f"'{raw_prefix}' in '{value}' is not a known identifier prefix "
            "(see bioregistry.io; e.g. HGNC, UniProt, MONDO, MeSH, NCBITaxon)"
        )
    identifier = registry.standardize_identifier(prefix, raw_id)
    pattern = registry.get_pattern(prefix)
    if pattern and not re.match(pattern, identifier):
        raise IdentifierError(
            f"'{raw_id}' is not a valid {display_prefix(prefix)} identifier (expected pattern {pattern})"
        )
    return Curie(prefix, identifier)
