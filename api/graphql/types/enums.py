"""The contract's enums, registered from the domain's own (schema.enums)."""

from __future__ import annotations

from enum import Enum

import strawberry

from api.store.errors import UserErrorCode as _UserErrorCode
from api.store.queries.claims import ClaimOrderField as _ClaimOrderField
from schema import conflicts, search
from schema import enums as e

EffectDirection = strawberry.enum(e.EffectDirection, description="Which way a subject moves an outcome.")
Modality = strawberry.enum(
    e.Modality,
    description="How strongly the source says it: ASSERTED, HEDGED ('may', 'maybe'), HYPOTHESIS.",
)
EvidenceType = strawberry.enum(e.EvidenceType, description="The kind of study or experience behind a claim.")
SourceKind = strawberry.enum(e.SourceKind, description="What kind of document a source is.")
ClaimStatus = strawberry.enum(
    e.ClaimStatus, description="Lifecycle: DRAFT → SUBMITTED → ACCEPTED | REJECTED; ACCEPTED → RETRACTED."
)
TargetAction = strawberry.enum(e.TargetAction, description="How an intervention acts on a target.")
Stance = strawberry.enum(e.Stance, description="Whether a quote supports or disputes its claim.")
ReviewDecision = strawberry.enum(e.ReviewDecision, description="A reviewer's decision on a submitted claim.")
Role = strawberry.enum(e.Role, description="Cumulative roles: READER < CURATOR < REVIEWER < ADMIN.")
UserErrorCode = strawberry.enum(_UserErrorCode, description="Why a mutation refused its input.")
ClaimOrderField = strawberry.enum(_ClaimOrderField, description="What to sort claims by.")


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


ConflictKind = strawberry.enum(
    conflicts.ConflictKind,
    description="Whether opposing claims share their context (DIRECT) or differ in it.",
)
ContextAspect = strawberry.enum(
    conflicts.ContextAspect,
    description="A part of a claim's context in which two opposing claims can differ.",
)
SearchKind = strawberry.enum(search.SearchKind, description="What a search hit is.")
SourceStanding = strawberry.enum(
    e.SourceStanding,
    description="What became of a source since: CURRENT, CORRECTED, EXPRESSION_OF_CONCERN, RETRACTED.",
)
RevisionStatus = strawberry.enum(
    e.RevisionStatus, description="Where a proposed change to an accepted claim stands."
)
RevisionDecision = strawberry.enum(e.RevisionDecision, description="A reviewer's decision on a revision.")
