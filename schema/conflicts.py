"""Conflicts between claims (domain.md, "Conflicts").

Two visible claims conflict when they bear on the same target and the same outcome and their
target-level directions oppose (schema.bearing.directions_oppose). A pair is DIRECT when the
organism is the same and the conditions are the same or one is an ancestor of the other;
otherwise CONTEXTUAL. Every pair lists the aspects of context in which the two claims differ,
because that is usually the explanation a reviewer is looking for. Pairs are ordered most
similar context first: direct before contextual, then fewer differences.

Modality (asserted, hedged, hypothesis) is certainty, not context: a pair whose claims differ in
it lists MODALITY among its differences (a hypothesis meeting an assertion is worth marking),
but modality never makes a pair CONTEXTUAL and does not count in the order.

The SQL in api/store/queries/conflicts.py applies these same rules in the database; tests check
the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from schema.enums import EffectDirection


class ConflictKind(StrEnum):
    DIRECT = "DIRECT"
    CONTEXTUAL = "CONTEXTUAL"


class ContextAspect(StrEnum):
    ORGANISM = "ORGANISM"
    CONDITION = "CONDITION"
    COHORT = "COHORT"
    SAMPLE_TYPE = "SAMPLE_TYPE"
    EVIDENCE_TYPE = "EVIDENCE_TYPE"
    INTERVENTION = "INTERVENTION"
    MODALITY = "MODALITY"  # certainty, listed with the context differences (see above)


@dataclass(frozen=True)
class ClaimContext:
    organism_id: int
    condition_id: int | None
    cohort_id: int | None
    sample_type: str | None
    evidence_type: str
    intervention_id: int | None  # the subject intervention; None when the subject is the target
    modality: str | None = None  # how firmly the source says it (None: not compared)


def differing_aspects(a: ClaimContext, b: ClaimContext) -> list[ContextAspect]:
    values = {
        ContextAspect.ORGANISM: (a.organism_id, b.organism_id),
        ContextAspect.CONDITION: (a.condition_id, b.condition_id),
        ContextAspect.COHORT: (a.cohort_id, b.cohort_id),
        ContextAspect.SAMPLE_TYPE: (a.sample_type, b.sample_type),
        ContextAspect.EVIDENCE_TYPE: (a.evidence_type, b.evidence_type),
        ContextAspect.INTERVENTION: (a.intervention_id, b.intervention_id),
    }
    out = [aspect for aspect, (x, y) in values.items() if x != y]
    if a.modality is not None and b.modality is not None and a.modality != b.modality:
        out.append(ContextAspect.MODALITY)
    return out


def pair_kind(a: ClaimContext, b: ClaimContext, conditions_related: bool) -> ConflictKind:
    """`conditions_related`: the same condition (both unset counts as the same) or one is an
    ancestor of the other (MS and RRMS)."""
    if a.organism_id == b.organism_id and conditions_related:
        return ConflictKind.DIRECT
    return ConflictKind.CONTEXTUAL


def opposing_pair_count(counts: Mapping[EffectDirection, int]) -> int:
    """How many opposing pairs claims with these target-level directions form."""
    up = counts.get(EffectDirection.INCREASES, 0)
    down = counts.get(EffectDirection.DECREASES, 0)
    none = counts.get(EffectDirection.NO_EFFECT, 0)
    return up * down + (up + down) * none
