"""Rules about a claim's identity and its lifecycle."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from schema.enums import ClaimStatus, ReviewDecision, Role


def claim_fingerprint(
    *,
    source_id: int,
    subject_target_id: int | None,
    subject_intervention_id: int | None,
    outcome_id: int,
    direction: str,
    organism_id: int,
    condition_id: int | None,
    cohort_id: int | None,
    comparator_id: int | None,
    sample_type: str | None,
) -> str:
    """What makes two claims "the same finding": the same source saying the same subject moves
    the same outcome the same way in the same context. Wording, modality and statistics are not
    part of it: a second claim that differs only there is a duplicate to correct, not a new one."""
    parts = [
        f"s{source_id}",
        f"t{subject_target_id or ''}",
        f"i{subject_intervention_id or ''}",
        f"o{outcome_id}",
        f"d{direction}",
        f"g{organism_id}",
        f"c{condition_id or ''}",
        f"h{cohort_id or ''}",
        f"k{comparator_id or ''}",
        f"m{(sample_type or '').strip().casefold()}",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Transition:
    target: ClaimStatus
    allowed_from: frozenset[ClaimStatus]
    minimum_role: Role


# The lifecycle: draft → submitted → accepted | rejected; rejected can be revised (back to
# draft by an edit) and resubmitted; accepted can be retracted. Nothing is ever deleted.
SUBMIT = Transition(ClaimStatus.SUBMITTED, frozenset({ClaimStatus.DRAFT, ClaimStatus.REJECTED}), Role.CURATOR)
ACCEPT = Transition(ClaimStatus.ACCEPTED, frozenset({ClaimStatus.SUBMITTED}), Role.REVIEWER)
REJECT = Transition(ClaimStatus.REJECTED, frozenset({ClaimStatus.SUBMITTED}), Role.REVIEWER)
# A request for changes sends the claim back to its curator as a draft.
REQUEST_CHANGES = Transition(ClaimStatus.DRAFT, frozenset({ClaimStatus.SUBMITTED}), Role.REVIEWER)
RETRACT = Transition(ClaimStatus.RETRACTED, frozenset({ClaimStatus.ACCEPTED}), Role.REVIEWER)

REVIEW_TRANSITIONS = {
    ReviewDecision.ACCEPT: ACCEPT,
    ReviewDecision.REJECT: REJECT,
    ReviewDecision.REQUEST_CHANGES: REQUEST_CHANGES,
}


def can_transition(current: ClaimStatus, transition: Transition) -> bool:
    return current in transition.allowed_from
