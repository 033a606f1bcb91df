"""Targets, interventions, conditions, organisms and outcomes."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.inputs import ClaimFilter
from api.graphql.types.common import Connection, GraphQLInfo, Node
from api.graphql.types.enums import TargetAction
from api.graphql.types.fields import RowObject, listed, names, related
from api.store.queries.claims import ClaimScope
from schema import tables as t

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim
    from api.graphql.types.conflicts import Conflict, ConflictFilter

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]
ConflictRef = Annotated["Conflict", strawberry.lazy("api.graphql.types.conflicts")]
ConflictFilterRef = Annotated["ConflictFilter", strawberry.lazy("api.graphql.types.conflicts")]


async def _target_claims(
    root: Target,
    info: GraphQLInfo,
    filter: ClaimFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[ClaimRef]:
    from api.graphql.types.claims import resolve_claims

    return await resolve_claims(
        info, filter, None, first, after, None, None, ClaimScope(target_id=root._row.id)
    )


async def _target_conflicts(
    root: Target,
    info: GraphQLInfo,
    first: int | None = None,
    after: str | None = None,
    filter: ConflictFilterRef | None = None,
) -> Connection[ConflictRef]:
    from api.graphql.types.conflicts import resolve_conflicts
    from api.store.queries.conflicts import ConflictFilterSpec

    spec = filter.to_spec() if filter is not None else ConflictFilterSpec()
    spec = replace(spec, target=root._row.id)
    return await resolve_conflicts(info, spec, first, after)


async def _intervention_claims(
    root: Intervention,
    info: GraphQLInfo,
    filter: ClaimFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[ClaimRef]:
    from api.graphql.types.claims import resolve_claims

    scope = ClaimScope(intervention_id=root._row.id)
    return await resolve_claims(info, filter, None, first, after, None, None, scope)


@strawberry.type(
    description="A biological entity claims are about: a gene product, family, cell type, pathway..."
)
class Target(RowObject, Node):
    __entity__ = "target"
    symbol: str = strawberry.field(description="Preferred label, e.g. IL-6R.")
    name: str
    kind: str = strawberry.field(
        description="gene product, protein family, complex, cell type, pathway, process"
    )
    aliases: list[str] = names("aliases", description="Other names it answers to (IL6R, CD126, ...).")
    xrefs: list[str] = names("xrefs", description="Cross-references as CURIEs (HGNC:6019, UniProt:P08887).")
    interventions: list[InterventionAction] = listed(
        "interventions", description="Interventions that act on this target, and how."
    )
    claims: Connection[ClaimRef] = strawberry.field(
        resolver=_target_claims,
        description="Claims that bear on this target: about it, or about an intervention acting on it.",
    )
    conflicts: Connection[ConflictRef] = strawberry.field(
        resolver=_target_conflicts,
        description="Questions about this target on which visible claims disagree.",
    )
    _row: strawberry.Private[t.Target]


@strawberry.type(description="A drug, biologic, genetic manipulation or other agent.")
class Intervention(RowObject, Node):
    __entity__ = "intervention"
    name: str
    kind: str
    aliases: list[str] = names("aliases", description="Other names, e.g. brand names.")
    xrefs: list[str] = names("xrefs")
    actions: list[InterventionAction] = listed("actions", description="The targets it acts on, and how.")
    claims: Connection[ClaimRef] = strawberry.field(
        resolver=_intervention_claims, description="Claims whose subject is this intervention."
    )
    _row: strawberry.Private[t.Intervention]


@strawberry.type(description="How an intervention acts on a target: tocilizumab INHIBITS IL-6R.")
class InterventionAction(RowObject):
    __entity__ = "intervention_action"
    action: TargetAction
    intervention: Intervention = related("intervention")
    target: Target = related("target")
    _row: strawberry.Private[t.InterventionAction]


@strawberry.type(description="A disease, subtype, animal model or healthy state, in a hierarchy.")
class Condition(RowObject, Node):
    __entity__ = "condition"
    name: str
    aliases: list[str] = names("aliases")
    xrefs: list[str] = names("xrefs", description="CURIEs (MONDO, MeSH, DOID).")
    parent: Condition | None = related(
        "parent", description="The broader condition (RRMS → multiple sclerosis)."
    )
    children: list[Condition] = listed(
        "children", description="The narrower conditions directly below this one."
    )
    _row: strawberry.Private[t.Condition]


@strawberry.type(description="An organism, by NCBI Taxonomy id.")
class Organism(RowObject, Node):
    __entity__ = "organism"
    taxon_id: int
    scientific_name: str
    common_name: str | None
    _row: strawberry.Private[t.Organism]


@strawberry.type(description="What a claim measures or changes (a small controlled vocabulary).")
class Outcome(RowObject, Node):
    __entity__ = "outcome"
    name: str
    kind: str = strawberry.field(
        description="biomarker level, clinical course, cellular process, molecular interaction, epidemiology"
    )
    aliases: list[str] = names("aliases")
    _row: strawberry.Private[t.Outcome]
