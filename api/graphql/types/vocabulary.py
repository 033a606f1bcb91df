"""Targets, interventions, conditions, organisms and outcomes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.inputs import ClaimFilter
from api.graphql.types.common import Connection, GraphQLInfo, Node
from api.graphql.types.enums import TargetAction
from api.store.ids import to_global_id
from api.store.queries.claims import ClaimScope
from schema import tables as t
from schema.enums import VocabularyKind

if TYPE_CHECKING:
    from api.graphql.types.claims import Claim
    from api.graphql.types.conflicts import Conflict

ClaimRef = Annotated["Claim", strawberry.lazy("api.graphql.types.claims")]
ConflictRef = Annotated["Conflict", strawberry.lazy("api.graphql.types.conflicts")]


@strawberry.type(
    description="A biological entity claims are about: a gene product, family, cell type, pathway..."
)
class Target(Node):
    symbol: str = strawberry.field(description="Preferred label, e.g. IL-6R.")
    name: str
    kind: str = strawberry.field(
        description="gene product, protein family, complex, cell type, pathway, process"
    )
    _row: strawberry.Private[t.Target]

    @classmethod
    def from_row(cls, row: t.Target) -> Target:
        return cls(
            id=to_global_id("Target", row.id), symbol=row.symbol, name=row.name, kind=row.kind, _row=row
        )

    @strawberry.field(description="Other names it answers to (IL6R, CD126, ...).")
    async def aliases(self, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.aliases[VocabularyKind.TARGET].load(self._row.id)

    @strawberry.field(description="Cross-references as CURIEs (HGNC:6019, UniProt:P08887).")
    async def xrefs(self, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.xrefs[VocabularyKind.TARGET].load(self._row.id)

    @strawberry.field(description="Interventions that act on this target, and how.")
    async def interventions(self, info: GraphQLInfo) -> list[InterventionAction]:
        rows = await info.context.loaders.actions_by_target.load(self._row.id)
        return [InterventionAction.from_row(r) for r in rows]

    @strawberry.field(
        description="Claims that bear on this target: about it, or about an intervention acting on it."
    )
    async def claims(
        self,
        info: GraphQLInfo,
        filter: ClaimFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ClaimRef]:
        from api.graphql.types.claims import resolve_claims

        return await resolve_claims(
            info, filter, None, first, after, None, None, ClaimScope(target_id=self._row.id)
        )

    @strawberry.field(description="Questions about this target on which visible claims disagree.")
    async def conflicts(
        self, info: GraphQLInfo, first: int | None = None, after: str | None = None
    ) -> Connection[ConflictRef]:
        from api.graphql.types.conflicts import resolve_conflicts
        from api.store.queries.conflicts import ConflictFilterSpec

        spec = ConflictFilterSpec(target=self._row.id)
        return await resolve_conflicts(info, spec, first, after)


@strawberry.type(description="A drug, biologic, genetic manipulation or other agent.")
class Intervention(Node):
    name: str
    kind: str
    _row: strawberry.Private[t.Intervention]

    @classmethod
    def from_row(cls, row: t.Intervention) -> Intervention:
        return cls(id=to_global_id("Intervention", row.id), name=row.name, kind=row.kind, _row=row)

    @strawberry.field(description="Other names, e.g. brand names.")
    async def aliases(self, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.aliases[VocabularyKind.INTERVENTION].load(self._row.id)

    @strawberry.field
    async def xrefs(self, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.xrefs[VocabularyKind.INTERVENTION].load(self._row.id)

    @strawberry.field(description="The targets it acts on, and how.")
    async def actions(self, info: GraphQLInfo) -> list[InterventionAction]:
        rows = await info.context.loaders.actions_by_intervention.load(self._row.id)
        return [InterventionAction.from_row(r) for r in rows]

    @strawberry.field(description="Claims whose subject is this intervention.")
    async def claims(
        self,
        info: GraphQLInfo,
        filter: ClaimFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ClaimRef]:
        from api.graphql.types.claims import resolve_claims

        return await resolve_claims(
            info, filter, None, first, after, None, None, ClaimScope(intervention_id=self._row.id)
        )


@strawberry.type(description="How an intervention acts on a target: tocilizumab INHIBITS IL-6R.")
class InterventionAction:
    action: TargetAction
    _row: strawberry.Private[t.InterventionAction]

    @classmethod
    def from_row(cls, row: t.InterventionAction) -> InterventionAction:
        return cls(action=row.action, _row=row)

    @strawberry.field
    async def intervention(self, info: GraphQLInfo) -> Intervention:
        return Intervention.from_row(await info.context.loaders.intervention.load(self._row.intervention_id))

    @strawberry.field
    async def target(self, info: GraphQLInfo) -> Target:
        return Target.from_row(await info.context.loaders.target.load(self._row.target_id))


@strawberry.type(description="A disease, subtype, animal model or healthy state, in a hierarchy.")
class Condition(Node):
    name: str
    _row: strawberry.Private[t.Condition]

    @classmethod
    def from_row(cls, row: t.Condition) -> Condition:
        return cls(id=to_global_id("Condition", row.id), name=row.name, _row=row)

    @strawberry.field
    async def aliases(self, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.aliases[VocabularyKind.CONDITION].load(self._row.id)

    @strawberry.field(description="CURIEs (MONDO, MeSH, DOID).")
    async def xrefs(self, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.xrefs[VocabularyKind.CONDITION].load(self._row.id)

    @strawberry.field(description="The broader condition (RRMS → multiple sclerosis).")
    async def parent(self, info: GraphQLInfo) -> Condition | None:
        if self._row.parent_id is None:
            return None
        return Condition.from_row(await info.context.loaders.condition.load(self._row.parent_id))

    @strawberry.field(description="The narrower conditions directly below this one.")
    async def children(self, info: GraphQLInfo) -> list[Condition]:
        rows = await info.context.loaders.children_by_condition.load(self._row.id)
        return [Condition.from_row(r) for r in rows]


@strawberry.type(description="An organism, by NCBI Taxonomy id.")
class Organism(Node):
    taxon_id: int
    scientific_name: str
    common_name: str | None

    @classmethod
    def from_row(cls, row: t.Organism) -> Organism:
        return cls(
            id=to_global_id("Organism", row.id),
            taxon_id=row.taxon_id,
            scientific_name=row.scientific_name,
            common_name=row.common_name,
        )


@strawberry.type(description="What a claim measures or changes (a small controlled vocabulary).")
class Outcome(Node):
    name: str
    kind: str = strawberry.field(
        description="biomarker level, clinical course, cellular process, molecular interaction, epidemiology"
    )
    _row: strawberry.Private[t.Outcome]

    @classmethod
    def from_row(cls, row: t.Outcome) -> Outcome:
        return cls(id=to_global_id("Outcome", row.id), name=row.name, kind=row.kind, _row=row)

    @strawberry.field
    async def aliases(self, info: GraphQLInfo) -> list[str]:
        return await info.context.loaders.aliases[VocabularyKind.OUTCOME].load(self._row.id)
