"""How each named vocabulary is stored: its table, alias table and (if any) CURIE table.

One description per kind, so name resolution, alias writes and suggestions are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schema.enums import VocabularyKind
from schema.tables import (
    Condition,
    ConditionAlias,
    ConditionXref,
    Intervention,
    InterventionAlias,
    InterventionXref,
    Organism,
    OrganismAlias,
    Outcome,
    OutcomeAlias,
    Target,
    TargetAlias,
    TargetXref,
)


@dataclass(frozen=True)
class Vocabulary:
    kind: VocabularyKind
    noun: str  # for messages: "target", "condition", ...
    type_name: str  # GraphQL type name (global IDs)
    table: Any
    label_column: str  # the preferred label: "symbol" or "name" or "scientific_name"
    alias_table: Any
    alias_fk: str  # alias_table column that points at the entity
    xref_table: Any | None
    xref_fk: str | None

    @property
    def label(self) -> Any:
        return getattr(self.table, self.label_column)

    @property
    def alias_owner(self) -> Any:
        return getattr(self.alias_table, self.alias_fk)


VOCABULARIES: dict[VocabularyKind, Vocabulary] = {
    VocabularyKind.TARGET: Vocabulary(
        VocabularyKind.TARGET, "target", "Target", Target, "symbol",
        TargetAlias, "target_id", TargetXref, "target_id",
    ),
    VocabularyKind.INTERVENTION: Vocabulary(
        VocabularyKind.INTERVENTION, "intervention", "Intervention", Intervention, "name",
        InterventionAlias, "intervention_id", InterventionXref, "intervention_id",
    ),
    VocabularyKind.CONDITION: Vocabulary(
        VocabularyKind.CONDITION, "condition", "Condition", Condition, "name",
        ConditionAlias, "condition_id", ConditionXref, "condition_id",
    ),
    VocabularyKind.ORGANISM: Vocabulary(
        VocabularyKind.ORGANISM, "organism", "Organism", Organism, "scientific_name",
        OrganismAlias, "organism_id", None, None,
    ),
    VocabularyKind.OUTCOME: Vocabulary(
        VocabularyKind.OUTCOME, "outcome", "Outcome", Outcome, "name",
        OutcomeAlias, "outcome_id", None, None,
    ),
}  # fmt: skip
