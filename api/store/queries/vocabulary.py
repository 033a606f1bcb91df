"""Listing and searching the vocabularies and sources, as keyset pages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.queries.pagination import Ordering, Page, PageRequest, SortKey, fetch_page
from api.store.resolve import lookup_source_ids
from api.store.vocabularies import VOCABULARIES
from schema.enums import SourceKind, VocabularyKind
from schema.normalize import normalize_name
from schema.tables import Source


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def vocabulary_page(
    session: AsyncSession,
    kind: VocabularyKind,
    search: str | None,
    page: PageRequest,
    session_factory: Any,
) -> Page:
    """Entities of one vocabulary in label order; `search` matches any of their names (alias
    normaliser applied, so "il6" finds IL-6 and IL-6R) as a prefix or a substring."""
    vocab = VOCABULARIES[kind]
    label = vocab.label
    ordering = Ordering(f"{vocab.noun}s", [SortKey(label, "str"), SortKey(vocab.table.id, "int")])
    where: list[Any] = []
    if search is not None and search.strip():
        key = normalize_name(search)
        if not key:
            where.append(sa.false())
        else:
            matching = sa.select(vocab.alias_owner).where(
                vocab.alias_table.normalized.like(f"%{_escape_like(key)}%", escape="\\")
            )
            where.append(vocab.table.id.in_(matching))
    statement = sa.select(vocab.table).where(*where)

    async def count() -> int:
        async with session_factory() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(vocab.table).where(*where)) or 0)

    page_ = await fetch_page(
        session,
        statement,
        ordering,
        page,
        lambda row: [getattr(row[0], vocab.label_column), row[0].id],
        count,
    )
    page_.rows = [row[0] for row in page_.rows]
    return page_


async def sources_page(
    session: AsyncSession,
    kinds: list[SourceKind] | None,
    text: str | None,
    derived_from: str | None,
    page: PageRequest,
    session_factory: Any,
) -> Page:
    """Sources, newest first by id; `text` matches title, venue or authors (case-insensitive)."""
    ordering = Ordering("sources", [SortKey(Source.id, "int")], descending=True)
    where: list[Any] = []
    if kinds is not None:
        where.append(Source.kind.in_(kinds))
    if text is not None and text.strip():
        pattern = f"%{_escape_like(text.strip().lower())}%"
        where.append(
            sa.or_(
                sa.func.lower(Source.title).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(Source.venue, "")).like(pattern, escape="\\"),
                sa.func.lower(sa.cast(Source.authors, sa.String)).like(pattern, escape="\\"),
            )
        )
    if derived_from is not None:
        ids = await lookup_source_ids(session, derived_from)
        where.append(Source.derived_from_id.in_(ids) if ids else sa.false())
    statement = sa.select(Source).where(*where)

    async def count() -> int:
        async with session_factory() as s:
            return int(await s.scalar(sa.select(sa.func.count()).select_from(Source).where(*where)) or 0)

    page_ = await fetch_page(session, statement, ordering, page, lambda row: [row[0].id], count)
    page_.rows = [row[0] for row in page_.rows]
    return page_


async def source_by_identifier(session: AsyncSession, doi: str | None, pmid: str | None) -> Source | None:
    for reference in (doi, pmid):
        if reference is not None and reference.strip():
            ids = await lookup_source_ids(session, reference)
            if len(ids) == 1:
                return await session.get(Source, ids[0])
            return None
    return None
