"""Batched loads behind the GraphQL DataLoaders: each is one statement for any number of keys.

What to load, by which key and in which order, comes from the relations declared once in
relations.py; the compiled read path's documents (documents.py) follow the same declarations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.queries.relations import Names, ToMany, entity


async def rows_by_id(session: AsyncSession, entity_name: str, ids: Sequence[int]) -> dict[int, Any]:
    """The rows of an entity with these ids (ORM objects), by id; a missing id is left out."""
    model = entity(entity_name).model
    rows = await session.scalars(sa.select(model).where(model.id.in_(set(ids))))
    return {row.id: row for row in rows}


async def rows_by_parent(
    session: AsyncSession, relation: ToMany, parent_ids: Sequence[int]
) -> dict[int, list[Any]]:
    """Each parent's rows of a list relation (ORM objects of the child), in the relation's order."""
    child = entity(relation.child).model
    out: dict[int, list[Any]] = defaultdict(list)
    if relation.link is None:
        parent = getattr(child, relation.parent_key)
        statement = (
            sa.select(parent, child)
            .where(parent.in_(set(parent_ids)))
            .order_by(*(getattr(child, column) for column in relation.order))
        )
    else:
        assert relation.child_key is not None
        link = entity(relation.link).model
        parent = getattr(link, relation.parent_key)
        statement = (
            sa.select(parent, child)
            .join(child, child.id == getattr(link, relation.child_key))
            .where(parent.in_(set(parent_ids)))
            .order_by(*(getattr(link, column) for column in relation.order))
        )
    for parent_id, row in (await session.execute(statement)).all():
        out[parent_id].append(row)
    return out


async def names_by_owner(session: AsyncSession, relation: Names, ids: Sequence[int]) -> dict[int, list[str]]:
    """Aliases (the names other than the preferred label) or cross-references (CURIEs) of
    vocabulary entities, each in the order they were given."""
    vocab = relation.vocabulary
    if relation.name == "aliases":
        owner, value = vocab.alias_owner, vocab.alias_table.alias
        statement = (
            sa.select(owner, value)
            .where(owner.in_(set(ids)), vocab.alias_table.preferred.is_(False))
            .order_by(vocab.alias_table.id)
        )
    elif vocab.xref_table is None or vocab.xref_fk is None:
        return {}
    else:
        owner = getattr(vocab.xref_table, vocab.xref_fk)
        statement = (
            sa.select(owner, vocab.xref_table.curie).where(owner.in_(set(ids))).order_by(vocab.xref_table.id)
        )
    out: dict[int, list[str]] = defaultdict(list)
    for owner_id, name in (await session.execute(statement)).all():
        out[owner_id].append(name)
    return out
