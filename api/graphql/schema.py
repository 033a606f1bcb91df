"""The one schema factory: every safety limit and switch in one place (engineering.md rule 4)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from api.graphql.errors import should_mask
from api.graphql.limits import CostLimiter
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.types.audit import AuditEvent
from api.graphql.types.claims import Claim
from api.graphql.types.conflicts import Conflict
from api.graphql.types.sources import Cohort, Source, User
from api.graphql.types.vocabulary import Condition, Intervention, Organism, Outcome, Target
from api.settings import Settings

NODE_TYPES = [
    Claim,
    Target,
    Intervention,
    Condition,
    Organism,
    Outcome,
    Cohort,
    Source,
    User,
    AuditEvent,
    Conflict,
]


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions = [
        MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
        CostLimiter(max_cost=settings.max_query_cost),
        ParserCache(maxsize=256),
        ValidationCache(maxsize=256),
        MaskErrors(should_mask_error=should_mask, error_message="Internal server error."),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection())
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=NODE_TYPES,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
    )
