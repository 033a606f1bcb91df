"""The domain's closed vocabularies. Values equal names, matching the GraphQL enums."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class EffectDirection(StrEnum):
    INCREASES = "INCREASES"
    DECREASES = "DECREASES"
    NO_EFFECT = "NO_EFFECT"
    MIXED = "MIXED"


class Modality(StrEnum):
    ASSERTED = "ASSERTED"
    HEDGED = "HEDGED"
    HYPOTHESIS = "HYPOTHESIS"


class EvidenceType(StrEnum):
    RANDOMIZED_TRIAL = "RANDOMIZED_TRIAL"
    CLINICAL_TRIAL = "CLINICAL_TRIAL"
    OBSERVATIONAL = "OBSERVATIONAL"
    CASE_REPORT = "CASE_REPORT"
    ANIMAL_MODEL = "ANIMAL_MODEL"
    IN_VITRO = "IN_VITRO"
    REVIEW = "REVIEW"
    EXPERT_OPINION = "EXPERT_OPINION"
    ANECDOTE = "ANECDOTE"


class SourceKind(StrEnum):
    PRIMARY_RESEARCH = "PRIMARY_RESEARCH"
    REVIEW = "REVIEW"
    CLINICAL_TRIAL = "CLINICAL_TRIAL"
    PREPRINT = "PREPRINT"
    PRESS_RELEASE = "PRESS_RELEASE"
    BLOG_POST = "BLOG_POST"
    LAY_SUMMARY = "LAY_SUMMARY"
    COMMENT = "COMMENT"


class ClaimStatus(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    RETRACTED = "RETRACTED"


class TargetAction(StrEnum):
    INHIBITS = "INHIBITS"
    ACTIVATES = "ACTIVATES"
    BINDS = "BINDS"
    MODULATES = "MODULATES"


class Stance(StrEnum):
    SUPPORTS = "SUPPORTS"
    DISPUTES = "DISPUTES"


class ReviewDecision(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    REQUEST_CHANGES = "REQUEST_CHANGES"


class Role(StrEnum):
    """Roles are cumulative: each includes the rights of those before it."""

    READER = "READER"
    CURATOR = "CURATOR"
    REVIEWER = "REVIEWER"
    ADMIN = "ADMIN"

    @property
    def rank(self) -> int:
        return _ROLE_ORDER.index(self)

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_ORDER = [Role.READER, Role.CURATOR, Role.REVIEWER, Role.ADMIN]


class VocabularyKind(StrEnum):
    """The named vocabularies that carry aliases (and, for some, CURIE cross-references)."""

    TARGET = "TARGET"
    INTERVENTION = "INTERVENTION"
    CONDITION = "CONDITION"
    ORGANISM = "ORGANISM"
    OUTCOME = "OUTCOME"


# Descriptions of the effect directions, stored in the `effect_direction` lookup table.
EFFECT_DIRECTION_LABELS = {
    EffectDirection.INCREASES: "increases",
    EffectDirection.DECREASES: "decreases",
    EffectDirection.NO_EFFECT: "no effect",
    EffectDirection.MIXED: "mixed",
}


class RevisionStatus(StrEnum):
    """A proposed change to an ACCEPTED claim: PENDING until a second person decides it."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class RevisionDecision(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"


class SourceStanding(StrEnum):
    """What is known of a published source since: worst last (a claim inherits the worst along
    its source's derivedFrom chain)."""

    CURRENT = "CURRENT"
    CORRECTED = "CORRECTED"
    EXPRESSION_OF_CONCERN = "EXPRESSION_OF_CONCERN"
    RETRACTED = "RETRACTED"

    @property
    def severity(self) -> int:
        return list(SourceStanding).index(self)


def worst_standing(standings: Iterable[SourceStanding]) -> SourceStanding:
    """The worst of several standings (CURRENT when there are none)."""
    return max(standings, key=lambda s: s.severity, default=SourceStanding.CURRENT)
