"""A code on every GraphQL error, and each error reported once.

graphql-core and Strawberry report syntax, validation, limit and variable errors without
`extensions.code`; clients branch on the code, not on the wording. The limits get codes of their
own where they report (`coded_rule`; the cost limit in limits.py); `assign_codes` gives every
other error the code of the phase that raised it, and drops repeats.

| code | when |
|---|---|
| GRAPHQL_PARSE_FAILED | the document is not valid GraphQL syntax |
| TOO_MANY_TOKENS | the document has more tokens than CLAIMSDB_MAX_QUERY_TOKENS |
| GRAPHQL_VALIDATION_FAILED | the document does not validate against the schema (introspection when off) |
| QUERY_TOO_DEEP | an operation nests deeper than CLAIMSDB_MAX_QUERY_DEPTH |
| TOO_MANY_ALIASES | the document uses more aliases than CLAIMSDB_MAX_QUERY_ALIASES |
| QUERY_TOO_COSTLY | an operation costs more than CLAIMSDB_MAX_QUERY_COST (limits.py) |
| BAD_USER_INPUT | variables that do not fit their types, and the API's own input errors |
| INTERNAL_SERVER_ERROR | a masked unexpected error |
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, ValidationContext, ValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.types import ExecutionContext

from api.graphql.errors import INTERNAL_SERVER_ERROR, error_code

GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
BAD_USER_INPUT = "BAD_USER_INPUT"

# Errors that refuse a request before it runs (GraphQL over HTTP: a "request error", answered
# without a `data` entry): the document, its limits, or its variables.
REQUEST_ERROR_CODES = frozenset(
    {
        GRAPHQL_PARSE_FAILED,
        GRAPHQL_VALIDATION_FAILED,
        TOO_MANY_TOKENS,
        QUERY_TOO_DEEP,
        TOO_MANY_ALIASES,
        QUERY_TOO_COSTLY,
        BAD_USER_INPUT,
    }
)

# graphql-core's wording when parsing stops at the token limit (graphql/language/parser.py).
_TOKEN_LIMIT = re.compile(r"Document contains more than (\d+) tokens")


def with_code(error: GraphQLError, code: str) -> GraphQLError:
    if error_code(error) is None:
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


def coded_rule(
    rule: type[ValidationRule], code: str, *, reword: Callable[[str], str] | None = None
) -> type[ValidationRule]:
    """`rule`, whose errors carry `code`, each message reported once per document.

    Strawberry's depth and alias rules report from their constructors straight to the validation
    context (the depth rule once per deep path, so a fragment spread twice repeats its error);
    the introspection rule reports once per introspection field. Both ways pass through here."""

    class CodedRule(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            self._reported: set[str] = set()
            report = context.on_error
            context.on_error = lambda error: self._report(error, report)  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                context.on_error = report  # type: ignore[method-assign]

        def report_error(self, error: GraphQLError) -> None:
            self._report(error, self.context.on_error)

        def _report(self, error: GraphQLError, report: Callable[[GraphQLError], None]) -> None:
            if reword is not None:
                error.message = reword(error.message)
            if error.message in self._reported:
                return
            self._reported.add(error.message)
            report(with_code(error, code))

    CodedRule.__name__ = CodedRule.__qualname__ = f"Coded{rule.__name__}"
    return CodedRule


def _introspection_disabled(_: str) -> str:
    return "GraphQL introspection has been disabled on this server"


NoIntrospection = coded_rule(
    NoSchemaIntrospectionCustomRule, GRAPHQL_VALIDATION_FAILED, reword=_introspection_disabled
)


def _reword_token_limit(error: GraphQLError) -> bool:
    """graphql-core reports the token limit as a plain syntax error; say what the limit is."""
    found = _TOKEN_LIMIT.search(error.message)
    if found is None:
        return False
    error.message = (
        f"the document has more than {found.group(1)} tokens, the most this server parses "
        "(CLAIMSDB_MAX_QUERY_TOKENS); send a smaller document"
    )
    return True


def assign_codes(errors: list[GraphQLError], execution: ExecutionContext | None) -> None:
    """Give each error without a code the code of the phase that raised it, and drop repeats,
    in place. Called by the schema's process_errors, which sees every error of every path an
    operation can take before the client does (a syntax error, for one, is raised by the parser
    cache's hook and so skips the extensions' `on_operation` exits)."""
    if execution is None or execution.graphql_document is None:
        phase = "parse"
    elif execution.result is None:
        phase = "validate"  # Strawberry stores the result after processing pre-execution errors
    else:
        phase = "execute"
    unique: list[GraphQLError] = []
    seen: set[Any] = set()
    for error in errors:
        key = (error.message, tuple(error.locations or ()), tuple(error.path or ()))
        if key in seen:
            continue
        seen.add(key)
        unique.append(error)
        if error_code(error) is not None:
            continue
        if phase == "parse":
            with_code(error, TOO_MANY_TOKENS if _reword_token_limit(error) else GRAPHQL_PARSE_FAILED)
        elif phase == "validate":
            with_code(error, GRAPHQL_VALIDATION_FAILED)
        else:
            # Past validation, an error without a path is about the variables (graphql-core
            # coerces them before executing); one with a path but no code came from no resolver
            # of ours (they say theirs), so it is the server's fault.
            with_code(error, BAD_USER_INPUT if error.path is None else INTERNAL_SERVER_ERROR)
    errors[:] = unique


def is_request_error(data: object, errors: list[GraphQLError] | None) -> bool:
    """True when the operation was refused before it ran: no data, and every error is about the
    document, its limits or its variables (GraphQL over HTTP's "request error")."""
    return (
        data is None
        and bool(errors)
        and all(error.path is None and error_code(error) in REQUEST_ERROR_CODES for error in errors or ())
    )
