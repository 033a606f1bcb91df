"""Flags: a signed-in user's "please look at this" on a claim, until its author or a reviewer
resolves it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.types.common import Node
from api.graphql.types.fields import RowObject, related
from api.graphql.types.sources import User
from schema import tables as t

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]


@strawberry.type(
    description=(
        "A signed-in user's request that a reviewer look at a claim, open until its author or a "
        "reviewer resolves it."
    )
)
class Flag(RowObject, Node):
    __entity__ = "flag"
    claim: ClaimRef = related("claim", description="The flagged claim.")
    comment: str = strawberry.field(description="What the flag's author finds wrong.")
    created_by: User | None = related("created_by", description="Who raised the flag.")
    created_at: datetime
    resolved_by: User | None = related("resolved_by", description="Who resolved it (null while open).")
    resolved_at: datetime | None
    resolution: str | None = strawberry.field(description="How it was resolved (null while open).")
    _row: strawberry.Private[t.Flag]
