"""Which parts of the curation contract the running schema has, decided once at start-up.

The workbench is built against the whole contract (../shared/design/api-contract.graphql), but
some of it (revisions, flags, bearings, source standing, the review queue) reaches the API later
than the pages. Each such part is a named feature here, present when every schema coordinate it
needs exists. GraphQL documents mark what they need with `# requires: <feature>` (documents.py),
and templates show a part only when its feature is present, so a page never asks the API for a
field it lacks and never breaks when the field arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema

# feature -> the schema coordinates ("Type.field") it needs, as the contract names them.
FEATURES: dict[str, tuple[str, ...]] = {
    "bearings": ("Claim.bearings", "Bearing.direction", "Bearing.via"),
    "revisions": ("Claim.revisions", "Revision.changes", "Revision.baseVersion"),
    "revision_payload": ("ClaimPayload.revision",),
    "review_revision": ("Mutation.reviewRevision", "RevisionPayload.userErrors"),
    "withdraw_revision": ("Mutation.withdrawRevision",),
    "review_queue": ("Query.reviewQueue",),
    "flags": ("Claim.flags", "Claim.openFlagCount", "Flag.resolution"),
    "flag_claim": ("Mutation.flagClaim", "FlagPayload.userErrors"),
    "resolve_flag": ("Mutation.resolveFlag",),
    "standing": ("Claim.sourceStanding", "Source.standing", "Source.standingNote"),
}


def has_coordinate(schema: GraphQLSchema, coordinate: str) -> bool:
    """Whether `Type.field` exists (an object, interface or input type's field), or, for a bare
    `Type`, whether the type (of any kind: an enum, a union too) exists."""
    type_name, _, field_name = coordinate.partition(".")
    named: Any = schema.type_map.get(type_name)
    if not field_name:
        return named is not None
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        return False
    return not field_name or field_name in named.fields


def detect(schema: GraphQLSchema, features: dict[str, tuple[str, ...]] = FEATURES) -> frozenset[str]:
    """The features whose every coordinate the schema has."""
    return frozenset(
        name for name, needs in features.items() if all(has_coordinate(schema, c) for c in needs)
    )


def unknown(names: Iterable[str]) -> list[str]:
    return sorted(set(names) - set(FEATURES))
