"""The types whose objects can be fetched by global ID (`node`, `nodes`), listed once: the schema
registers them and `load_node` finds a global ID's type here."""

from __future__ import annotations

from api.graphql.types.audit import AuditEvent
from api.graphql.types.claims import Claim
from api.graphql.types.conflicts import Conflict
from api.graphql.types.flags import Flag
from api.graphql.types.revisions import Revision
from api.graphql.types.sources import Cohort, Source, User
from api.graphql.types.vocabulary import Condition, Intervention, Organism, Outcome, Target

NODE_TYPES: list[type] = [
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
    Revision,
    Flag,
]

# Global ID type name → GraphQL type.
BY_NAME: dict[str, type] = {t.__strawberry_definition__.name: t for t in NODE_TYPES}  # type: ignore[attr-defined]
