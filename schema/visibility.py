"""Who may see which claims (domain.md, "Claim lifecycle").

Readers, and anyone without a token, see accepted claims. Curators also see their own drafts
and submissions (and their own rejected claims, which they may revise). Reviewers and admins
see every claim. Retracted claims stay visible to reviewers and admins only, for the record.
"""

from __future__ import annotations

from dataclasses import dataclass

from schema.enums import ClaimStatus, Role
from schema.users import Actor

_OWN_STATUSES = frozenset({ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.REJECTED})


@dataclass(frozen=True)
class ClaimVisibility:
    """Statuses visible to everyone in this view, plus statuses visible on the actor's own claims."""

    all_statuses: frozenset[ClaimStatus]
    own_statuses: frozenset[ClaimStatus]
    own_user_id: int | None

    def allows(self, status: ClaimStatus, created_by_id: int | None) -> bool:
        if status in self.all_statuses:
            return True
        return (
            self.own_user_id is not None and created_by_id == self.own_user_id and status in self.own_statuses
        )


def claim_visibility(actor: Actor) -> ClaimVisibility:
    if actor.can(Role.REVIEWER):
        return ClaimVisibility(frozenset(ClaimStatus), frozenset(), None)
    if actor.can(Role.CURATOR) and actor.user_id is not None:
        return ClaimVisibility(frozenset({ClaimStatus.ACCEPTED}), _OWN_STATUSES, actor.user_id)
    return ClaimVisibility(frozenset({ClaimStatus.ACCEPTED}), frozenset(), None)
