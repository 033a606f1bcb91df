"""The one schema factory: every safety limit and switch in one place (engineering.md rule 4)."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from api.graphql.compiled import CompiledQueries
from api.graphql.errors import should_mask
from api.graphql.limits import CostLimiter
from api.graphql.loaders import ShareReadSession
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.types.audit import AuditEvent
from api.graphql.types.claims import Claim
from api.graphql.types.conflicts import Conflict
from api.graphql.types.sources import Cohort, Source, User
from api.graphql.types.vocabulary import Condition, Intervention, Organism, Outcome, Target
from api.graphql.validation import CachedValidation, ValidationResults
from api.observability.graphql_extension import ObserveOperations
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


_log = logging.getLogger("claimsdb.graphql")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class ClaimsdbSchema(strawberry.Schema):
    """Strawberry's schema, with every "Did you mean ...?" removed from error messages (Strawberry
    strips it only from unknown-field errors; arguments, input fields, enum values and type names
    would otherwise still leak the schema when introspection is off)."""

    @staticmethod
    def remove_field_suggestion(error: GraphQLError) -> None:
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message).strip()

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log only what is unexpected (a bug or an outage), with its traceback; a client's own
        mistakes (syntax, validation, UNAUTHENTICATED, FORBIDDEN, bad input) are not server errors."""
        for error in errors:
            if should_mask(error):
                _log.error("unexpected error in %s", error.path, exc_info=error.original_error)


def build_schema(settings: Settings) -> strawberry.Schema:
    # Factories, not instances: Strawberry makes one extension per request from them, so no
    # request sees another's execution context (the cost limit reads the request's variables).
    # Validation is cached per document except for the cost limit, which depends on the variables.
    extensions: list[Any] = [
        ObserveOperations,  # first: encloses the others, sees errors as sent (api/observability)
        partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
        partial(QueryDepthLimiter, max_depth=settings.max_query_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_query_aliases),
        partial(CostLimiter, max_cost=settings.max_query_cost),
        # After the cost limit, whose rule it must see; one cache per schema (its rules are fixed).
        partial(CachedValidation, results=ValidationResults(maxsize=256)),
        partial(ParserCache, maxsize=256),
        # After the limits (they reject at parsing and validation, before execution starts):
        # answers supported query operations from SQL-built JSON (api/graphql/compiled).
        *([CompiledQueries] if settings.compiled_queries else []),
        partial(MaskErrors, should_mask_error=should_mask, error_message="Internal server error."),
        ShareReadSession,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return ClaimsdbSchema(
        query=Query,
        mutation=Mutation,
        types=NODE_TYPES,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
    )
