"""Who may call what. Authentication and role failures are top-level GraphQL errors with
extensions.code UNAUTHENTICATED or FORBIDDEN (the contract); business rules are userErrors."""

from __future__ import annotations

from api.graphql.errors import forbidden, unauthenticated
from api.graphql.types.common import GraphQLInfo
from schema.enums import Role
from schema.users import Actor


def require_role(info: GraphQLInfo, role: Role, what: str) -> Actor:
    actor = info.context.actor  # raises UNAUTHENTICATED for a bad token
    if actor.user_id is None:
        raise unauthenticated(f"{what} needs an API token (Authorization: Bearer <token>)")
    if not actor.can(role):
        raise forbidden(f"{what} needs the {role.value.lower()} role; you are {actor.role.value.lower()}")
    return actor
