"""Batched loads behind the GraphQL DataLoaders: each is one statement for any number of keys."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.vocabularies import VOCABULARIES
from schema.enums import VocabularyKind
from schema.tables import (
    ClaimTarget,
    Cohort,
    Condition,
    Evidence,
    InterventionAction,
    Review,
)


async def rows_by_id(session: AsyncSession, table: Any, ids: Sequence[int]) -> dict[int, Any]:
    rows = await session.scalars(sa.select(table).where(table.id.in_(set(ids))))
    return {row.id: row for row in rows}


async def _grouped(session: AsyncSession, statement: sa.Select, key: str) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in await session.scalars(statement):
        out[getattr(row, key)].append(row)
    return out


async def evidence_by_claim(session: AsyncSession, claim_ids: Sequence[int]) -> dict[int, list[Evidence]]:
    statement = sa.select(Evidence).where(Evidence.claim_id.in_(set(claim_ids))).order_by(Evidence.position)
    return await _grouped(session, statement, "claim_id")


async def targets_by_claim(session: AsyncSession, claim_ids: Sequence[int]) -> dict[int, list[ClaimTarget]]:
    statement = (
        sa.select(ClaimTarget).where(ClaimTarget.claim_id.in_(set(claim_ids))).order_by(ClaimTarget.target_id)
    )
    return await _grouped(session, statement, "claim_id")


async def reviews_by_claim(session: AsyncSession, claim_ids: Sequence[int]) -> dict[int, list[Review]]:
    statement = sa.select(Review).where(Review.claim_id.in_(set(claim_ids))).order_by(Review.at, Review.id)
    return await _grouped(session, statement, "claim_id")


async def actions_by_intervention(
    session: AsyncSession, intervention_ids: Sequence[int]
) -> dict[int, list[InterventionAction]]:
    statement = (
        sa.select(InterventionAction)
        .where(InterventionAction.intervention_id.in_(set(intervention_ids)))
        .order_by(InterventionAction.id)
    )
    return await _grouped(session, statement, "intervention_id")


async def actions_by_target(
    session: AsyncSession, target_ids: Sequence[int]
) -> dict[int, list[InterventionAction]]:
    statement = (
        sa.select(InterventionAction)
        .where(InterventionAction.target_id.in_(set(target_ids)))
        .order_by(InterventionAction.id)
    )
    return await _grouped(session, statement, "target_id")


async def children_by_condition(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[Condition]]:
    statement = sa.select(Condition).where(Condition.parent_id.in_(set(ids))).order_by(Condition.name)
    return await _grouped(session, statement, "parent_id")


async def cohorts_by_source(session: AsyncSession, source_ids: Sequence[int]) -> dict[int, list[Cohort]]:
    statement = sa.select(Cohort).where(Cohort.source_id.in_(set(source_ids))).order_by(Cohort.id)
    return await _grouped(session, statement, "source_id")


async def aliases_by_owner(
    session: AsyncSession, kind: VocabularyKind, ids: Sequence[int]
) -> dict[int, list[str]]:
    """The names other than the preferred label, in the order they were given."""
    vocab = VOCABULARIES[kind]
    rows = await session.execute(
        sa.select(vocab.alias_owner, vocab.alias_table.alias)
        .where(vocab.alias_owner.in_(set(ids)), vocab.alias_table.preferred.is_(False))
        .order_by(vocab.alias_table.id)
    )
    out: dict[int, list[str]] = defaultdict(list)
    for owner, alias in rows:
        out[owner].append(alias)
    return out


async def xrefs_by_owner(
    session: AsyncSession, kind: VocabularyKind, ids: Sequence[int]
) -> dict[int, list[str]]:
    vocab = VOCABULARIES[kind]
    if vocab.xref_table is None or vocab.xref_fk is None:
        return {}
    owner = getattr(vocab.xref_table, vocab.xref_fk)
    rows = await session.execute(
        sa.select(owner, vocab.xref_table.curie).where(owner.in_(set(ids))).order_by(vocab.xref_table.id)
    )
    out: dict[int, list[str]] = defaultdict(list)
    for entity_id, curie in rows:
        out[entity_id].append(curie)
    return out
