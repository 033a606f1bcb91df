"""The one schema factory: every safety limit and switch in one place (engineering.md rule 4)."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError, ValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from api.graphql.compiled import CompiledQueries
from api.graphql.context import MutationsReadPrimary
from api.graphql.error_codes import (
    QUERY_TOO_DEEP,
    TOO_MANY_ALIASES,
    NoIntrospection,
    assign_codes,
    coded_rule,
)
from api.graphql.errors import mask, report_outage, should_mask
from api.graphql.limits import CostLimiter
from api.graphql.loaders import ShareReadSession
from api.graphql.mutations import Mutation
from api.graphql.queries import Query
from api.graphql.types.nodes import NODE_TYPES
from api.graphql.validation import CachedValidation, ValidationResults
from api.observability.graphql_extension import ObserveOperations
from api.settings import Settings

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
        """Each error, in three explicit steps: an outage is reworded (a warning in the log); an
        unexpected error (a bug) is logged with its traceback and masked; then every error gets
        its code (error_codes.py). A client's own mistakes (syntax, validation, UNAUTHENTICATED,
        FORBIDDEN, bad input) are not server errors and are left as they are.

        Strawberry calls this for the errors of every path an operation can take (parsing,
        validation, execution, an extension's hook failing) before answering, which Strawberry's
        MaskErrors, working in `on_operation`, does not see: an error raised by a hook skips the
        extensions' exits."""
        for error in errors:
            if report_outage(error):
                continue
            if should_mask(error):
                _log.error("unexpected error in %s", error.path, exc_info=error.original_error)
                mask(error)
        assign_codes(errors, execution_context)


def _limit_rules(settings: Settings) -> list[type[ValidationRule]]:
    """Strawberry's depth and alias rules, with their codes; made once per schema (the extensions
    would make new rule classes for every request)."""
    depth = QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules
    aliases = MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules
    rules = [coded_rule(rule, QUERY_TOO_DEEP) for rule in depth]
    rules += [coded_rule(rule, TOO_MANY_ALIASES) for rule in aliases]
    if not settings.introspection:
        rules.append(NoIntrospection)
    return rules


def build_schema(settings: Settings) -> strawberry.Schema:
    # Factories, not instances: Strawberry makes one extension per request from them, so no
    # request sees another's execution context (the cost limit reads the request's variables).
    # Validation is cached per document except for the cost limit, which depends on the variables.
    extensions: list[Any] = [
        ObserveOperations,  # first: encloses the others, sees errors as sent (api/observability)
        partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
        partial(AddValidationRules, _limit_rules(settings)),
        partial(CostLimiter, max_cost=settings.max_query_cost),
        # After the cost limit, whose rule it must see; one cache per schema (its rules are fixed).
        partial(CachedValidation, results=ValidationResults(maxsize=256)),
        partial(ParserCache, maxsize=256),
        # After the limits (they reject at parsing and validation, before execution starts):
        # answers supported query operations from SQL-built JSON (api/graphql/compiled).
        *([CompiledQueries] if settings.compiled_queries else []),
        ShareReadSession,
        *([MutationsReadPrimary] if settings.read_urls else []),
    ]
    return ClaimsdbSchema(
        query=Query,
        mutation=Mutation,
        types=NODE_TYPES,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
    )
