"""The input records: one declaration of what is given to create a source or a claim.

Every way in reads these: the GraphQL mutations (their Strawberry inputs are converted to them),
the store commands, the seed files and the bulk import. Field names are the GraphQL input
fields' (camelCase aliases of the snake_case attributes); either spelling is read, so the seed
YAML keeps its snake_case keys.

A reference names another object by text (a vocabulary entry's name, alias or CURIE; a source's
DOI, PMID or URL) or by its database id (an int). The API turns a global ID into the id before
the store sees it; the seed loader turns its source keys into ids. A claim's source and a quote's
may instead be given in full, as a SourceRecord (SourceGiven); the API's inputs never do that.

Here the types are checked (pydantic); the rules (lengths, ranges, exactly one subject, at most 50
quotes, DOI and PMID spelling, ...) are schema.validation's, which reports every problem at once
with the field path and message the API gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Tag
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from schema.enums import EffectDirection, EvidenceType, Modality, SourceKind, Stance


@dataclass(frozen=True)
class Refers:
    """Marks a reference field with the type of object it names (the GraphQL type name), so the
    API knows which global IDs to accept there."""

    type_name: str


def refers_to(field: FieldInfo) -> str | None:
    """The type a reference field names, or None for any other field."""
    for item in field.metadata:
        if isinstance(item, Refers):
            return item.type_name
    return None


class Record(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        frozen=True,
        use_attribute_docstrings=True,
    )


class SourceRecord(Record):
    """A document claims come from: a paper, preprint, review, trial registry entry, blog post..."""

    kind: SourceKind
    """What kind of document it is."""
    title: str
    """At most 1,000 characters."""
    authors: list[str] | None = None
    """Each at most 300 characters."""
    venue: str | None = None
    """Journal, site or publisher; at most 300 characters."""
    year: int | None = None
    """Year of publication, 1500-2200; taken from `published` when left out."""
    published: date | None = None
    """Date of publication, when known; must fall in `year` when both are given."""
    doi: str | None = None
    """Unique in any spelling (a https://doi.org/ or doi: prefix is accepted)."""
    pmid: str | None = None
    """PubMed id; unique."""
    url: str | None = None
    """An http(s) address of at most 2,000 characters."""
    peer_reviewed: bool = False
    """Whether it was peer reviewed."""
    ai_generated: bool = False
    """Whether it was written by an AI (an AI-generated summary, say)."""
    derived_from: Annotated[int | str | None, Refers("Source")] = None
    """The source this one retells or reports on: its DOI, PMID, URL or id."""
    note: str | None = None
    """A curator's reason for an entry (documentation only; not stored)."""


def _source_form(value: Any) -> str:
    """Which form a source is given in: an object is a source record, anything else a reference.
    Deciding by the shape, not by trying both, keeps a bad field of a record from being reported
    as "not a reference" too."""
    return "record" if isinstance(value, (dict, SourceRecord)) else "reference"


# A claim's (or a quote's) source: a reference to a stored source (DOI, PMID, URL or id), or the
# source given in full, which the store reuses when it is stored already and creates otherwise
# (docs/records.md). derivedFrom inside a source record is always a reference.
SourceGiven = Annotated[
    Annotated[int | str, Tag("reference")] | Annotated[SourceRecord, Tag("record")],
    Discriminator(_source_form),
]


class CohortRecord(Record):
    """A study population. A claim names its source's cohort by label: a label the source
    already has is reused (and must not be contradicted), a new one is created."""

    label: str
    """At most 300 characters; unique within the claim's source."""
    size: int | None = None
    """People or animals in it; not negative."""
    female_count: int | None = None
    """Not negative and at most `size`."""
    condition: Annotated[int | str | None, Refers("Condition")] = None
    """Name, alias, CURIE or id of the cohort's condition."""
    treatment_status: str | None = None
    """At most 300 characters ("treatment-naive", "on therapy")."""
    sample_type: str | None = None
    """At most 100 characters ("CSF", "serum")."""


class StatisticsRecord(Record):
    """What the source reports about the size and certainty of the effect."""

    effect_size: float | None = None
    """A finite number."""
    effect_measure: str | None = None
    """What effectSize measures ("SMD", "odds ratio"); at most 100 characters."""
    p_value: float | None = None
    """Between 0 and 1."""
    ci_low: float | None = None
    """A finite number, at most ciHigh."""
    ci_high: float | None = None
    """A finite number."""


class EvidenceRecord(Record):
    """A verbatim quote from a source that states or disputes the claim."""

    quote: str
    """Verbatim, at most 2,000 characters."""
    locator: str | None = None
    """Where in the source ("Results", "p. 4", "Fig. 2"); at most 300 characters."""
    stance: Stance = Stance.SUPPORTS
    """Whether the quote supports or disputes the claim."""
    source: Annotated[SourceGiven | None, Refers("Source")] = None
    """The source quoted: its DOI, PMID, URL or id, or a source record (reused when it names a
    stored source, created otherwise); the claim's own source when left out."""


class ClaimRecord(Record):
    """One finding: a subject (a target or an intervention) moves an outcome in a direction, in
    an organism and context, as a source states it, with 1-50 quotes."""

    statement: str
    """The curator's paraphrase of the finding; at most 2,000 characters."""
    source: Annotated[SourceGiven, Refers("Source")]
    """The source that states the claim: its DOI, PMID, URL or id, or a source record (reused
    when its DOI, PMID or URL names a stored source whose fields it agrees with, created
    otherwise; its derivedFrom may name a source given by an earlier record)."""
    target: Annotated[int | str | None, Refers("Target")] = None
    """The subject when it is a target (symbol, alias, CURIE or id); exactly one of target and
    intervention."""
    intervention: Annotated[int | str | None, Refers("Intervention")] = None
    """The subject when it is an intervention (name, alias, CURIE or id)."""
    outcome: Annotated[int | str, Refers("Outcome")]
    """Name, alias or id of what the subject moves."""
    direction: EffectDirection
    """Which way the subject moves the outcome, as the source states it."""
    modality: Modality
    """How firmly the source says it."""
    evidence_type: EvidenceType
    """The kind of study or experience behind it."""
    organism: Annotated[int | str, Refers("Organism")]
    """Scientific or common name, NCBITaxon CURIE or id."""
    condition: Annotated[int | str | None, Refers("Condition")] = None
    """Name, alias, CURIE or id of the condition studied."""
    cohort: CohortRecord | None = None
    """The population studied."""
    comparator: CohortRecord | None = None
    """The population it is compared with."""
    sample_type: str | None = None
    """At most 100 characters ("CSF", "serum")."""
    statistics: StatisticsRecord | None = None
    """The effect's size and certainty, as the source reports them."""
    evidence: list[EvidenceRecord]
    """1-50 quotes."""
    submit: bool = False
    """Create the claim SUBMITTED for review rather than as a DRAFT."""
    note: str | None = None
    """A curator's reason for an entry (documentation only; not stored)."""

    def sources(self) -> Iterator[tuple[tuple[str, ...], int | str | SourceRecord | None]]:
        """The sources the record names or gives, each with its field path: its own, then its
        quotes' (None for a quote of the claim's own source)."""
        yield ("source",), self.source
        for index, ev in enumerate(self.evidence):
            yield ("evidence", str(index), "source"), ev.source

    def with_sources(
        self, source_for: Callable[[tuple[str, ...], Any], int | str | SourceRecord | None]
    ) -> ClaimRecord:
        """This record with each source (as sources() lists them) replaced by what `source_for`
        gives for its path and value; the record itself when nothing changes."""
        changed = False
        evidence = []
        for (path, old), ev in zip(list(self.sources())[1:], self.evidence, strict=True):
            new = source_for(path, old)
            changed |= new is not old
            evidence.append(ev if new is old else ev.model_copy(update={"source": new}))
        source = source_for(("source",), self.source)
        if source is self.source and not changed:
            return self
        return self.model_copy(update={"source": source, "evidence": evidence})


RECORDS: tuple[type[Record], ...] = (
    SourceRecord,
    CohortRecord,
    StatisticsRecord,
    EvidenceRecord,
    ClaimRecord,
)


def claim_record_json_schema() -> dict[str, object]:
    """The JSON Schema of a claim record in its GraphQL field names, as docs/claim-record.schema.json
    commits it (`claimsdb export-record-schema` prints it): generated from ClaimRecord itself,
    so the file cannot say something the validator does not."""
    schema = ClaimRecord.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://claimsdb.example.org/schema/claim-record.schema.json",
        **schema,
    }
