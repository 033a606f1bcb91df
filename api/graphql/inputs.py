"""Input types for reads: filters and orderings."""

from __future__ import annotations

from datetime import date

import strawberry

from api.graphql.ids import name_or_id
from api.graphql.types.enums import (
    ClaimOrderField,
    ClaimStatus,
    EffectDirection,
    EvidenceType,
    Modality,
    OrderDirection,
    SourceKind,
)
from api.store.queries.claims import ClaimFilterSpec
from api.store.vocabularies import VOCABULARIES
from schema.enums import VocabularyKind


def reference(value: str | None, type_name: str) -> int | str | None:
    """What the store takes for a name the client gave: the id behind a global ID of the
    expected type, else the name itself (a label, alias, CURIE, DOI, PMID or URL)."""
    return None if value is None else name_or_id(value, type_name)


def vocabulary_reference(kind: VocabularyKind, value: str) -> int | str:
    """reference() for a name of a vocabulary entry."""
    return name_or_id(value, VOCABULARIES[kind].type_name)


@strawberry.input(
    description=(
        "Narrow a list of claims. Names (target, intervention, condition, organism, outcome) accept "
        "the preferred label, any alias (case-, space-, hyphen- and Greek-insensitive) or a CURIE; "
        "an unknown name is an error (NOT_FOUND) naming the closest names. All given fields must "
        "hold (AND)."
    )
)
class ClaimFilter:
    target: str | None = strawberry.field(
        default=None,
        description="Claims whose subject is the target, or an intervention acting on it.",
    )
    targets: list[str] | None = strawberry.field(
        default=None,
        description="Claims bearing on any of these targets (at most 100): the union of `target` filters.",
    )
    intervention: str | None = strawberry.field(default=None, description="Claims about this intervention.")
    condition: str | None = strawberry.field(
        default=None, description="The condition or any of its descendants (MS includes RRMS, SPMS, CIS)."
    )
    organism: str | None = strawberry.field(
        default=None, description="Scientific or common name, or NCBITaxon CURIE."
    )
    outcome: str | None = None
    direction: list[EffectDirection] | None = strawberry.field(
        default=None, description="The claim's own direction (as its source states it)."
    )
    modality: list[Modality] | None = None
    evidence_type: list[EvidenceType] | None = None
    source_kind: list[SourceKind] | None = None
    status: list[ClaimStatus] | None = strawberry.field(
        default=None,
        description="Statuses to include, within what the viewer may see (readers: ACCEPTED only).",
    )
    source: str | None = strawberry.field(default=None, description="A DOI, PMID, URL or source global ID.")
    has_conflict: bool | None = strawberry.field(
        default=None,
        description="Only claims that do (true) or do not (false) oppose another visible claim.",
    )
    text: str | None = strawberry.field(
        default=None, description="Words that must all occur in the statement or the quotes (stemmed)."
    )
    min_cohort_size: int | None = None
    published_from: date | None = strawberry.field(
        default=None, description="Sources dated only by year count as published within that year."
    )
    published_to: date | None = None
    flagged: bool | None = strawberry.field(
        default=None, description="Only claims with (true) or without (false) an open flag."
    )
    target_direction: list[EffectDirection] | None = strawberry.field(
        default=None,
        description=(
            "The claim's direction at the level of `target` (needed): an inhibitor's effect turned "
            "over, as evidence summaries count it."
        ),
    )
    include_retracted: bool | None = strawberry.field(
        default=None,
        description=(
            "Count claims whose source (or a source it retells) is RETRACTED in evidence summaries "
            "and hasConflict; lists show them either way."
        ),
    )

    def to_spec(self) -> ClaimFilterSpec:
        return ClaimFilterSpec(
            target=reference(self.target, "Target"),
            targets=[reference(t, "Target") for t in self.targets] if self.targets is not None else None,
            intervention=reference(self.intervention, "Intervention"),
            condition=reference(self.condition, "Condition"),
            organism=reference(self.organism, "Organism"),
            outcome=reference(self.outcome, "Outcome"),
            direction=self.direction,
            modality=self.modality,
            evidence_type=self.evidence_type,
            source_kind=self.source_kind,
            status=self.status,
            source=reference(self.source, "Source"),
            has_conflict=self.has_conflict,
            text=self.text,
            min_cohort_size=self.min_cohort_size,
            published_from=self.published_from,
            published_to=self.published_to,
            flagged=self.flagged,
            target_direction=self.target_direction,
            include_retracted=self.include_retracted,
        )


@strawberry.input(description="Sort order for claims; ties are broken by ID.")
class ClaimOrder:
    field: ClaimOrderField
    direction: OrderDirection


@strawberry.input(description="Narrow a list of sources.")
class SourceFilter:
    kind: list[SourceKind] | None = None
    text: str | None = strawberry.field(default=None, description="Words in the title, venue or authors.")
    derived_from: str | None = strawberry.field(
        default=None, description="Sources that retell this one (DOI, PMID, URL or global ID)."
    )

    def derived_from_source(self) -> int | str | None:
        """derivedFrom as the store takes it (a global ID decoded into the source's id)."""
        return reference(self.derived_from, "Source")
