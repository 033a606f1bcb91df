"""Creating sources: the documents claims come from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.commands._common import refuse, require_role
from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode
from api.store.resolve import resolve_source_id
from schema.enums import Role, SourceKind
from schema.records import SourceRecord
from schema.source_match import SOURCE_COLUMNS, StoredSource, choose_stored, content_key, source_values
from schema.tables import Source
from schema.validation import CheckedSource, check_source, given


async def create_source(w: Writer, data: SourceRecord) -> Source:
    require_role(w.actor, Role.CURATOR, "creating a source")
    checked, problems = check_source(data)
    refuse(problems)
    assert checked is not None

    doi, pmid = checked.doi, checked.pmid
    if doi and await w.session.scalar(sa.select(Source.id).where(Source.doi == doi)):
        raise StoreError.one(UserErrorCode.DUPLICATE, f"a source with DOI {doi} exists", ("doi",))
    if pmid and await w.session.scalar(sa.select(Source.id).where(Source.pmid == pmid)):
        raise StoreError.one(UserErrorCode.DUPLICATE, f"a source with PMID {pmid} exists", ("pmid",))
    derived_from_id = None
    if given(checked.derived_from):
        derived_from_id = await resolve_source_id(w.session, checked.derived_from, ("derivedFrom",))  # type: ignore[arg-type]
    return await _insert(w, source_values(checked, derived_from_id))


async def given_source(w: Writer, checked: CheckedSource, field: Sequence[str]) -> int:
    """The id of the source a claim record gives in full (checked by check_source) at `field`:
    the stored source it names, when it agrees with it, else a new one (schema.source_match).
    A StoreError under `field` when it contradicts the source it names."""
    require_role(w.actor, Role.CURATOR, "creating a source")
    derived_from_id = None
    if given(checked.derived_from):
        derived_from_id = await resolve_source_id(w.session, checked.derived_from, (*field, "derivedFrom"))  # type: ignore[arg-type]
    values = source_values(checked, derived_from_id)
    stored, refused = choose_stored(values, checked.given, **await _candidates(w.session, values))
    if refused:
        raise StoreError([problem.within(*field) for problem in refused])
    if stored is not None:
        return stored["id"]
    source = await _insert(w, values)
    assert source.id is not None
    return source.id


_ROWS = sa.select(Source.id, *(getattr(Source, column) for column in SOURCE_COLUMNS)).order_by(Source.id)


async def _candidates(session: AsyncSession, values: StoredSource) -> dict[str, Any]:
    """The stored sources choose_stored picks from, for one source's values."""

    async def rows(*where: Any) -> list[StoredSource]:
        return [row._asdict() for row in (await session.execute(_ROWS.where(*where))).all()]

    async def unique(column: str) -> StoredSource | None:
        if values[column] is None:
            return None
        found = await rows(getattr(Source, column) == values[column])
        return found[0] if found else None

    by_url: list[StoredSource] = []
    same = None
    if values["doi"] is None and values["pmid"] is None:
        if values["url"] is not None:
            by_url = await rows(Source.url == values["url"])
        else:
            unnamed = (Source.doi.is_(None), Source.pmid.is_(None), Source.url.is_(None))
            key = content_key(values)
            same = next(
                (r for r in await rows(Source.title == values["title"], *unnamed) if content_key(r) == key),
                None,
            )
    return {"by_doi": await unique("doi"), "by_pmid": await unique("pmid"), "by_url": by_url, "same": same}


async def _insert(w: Writer, values: StoredSource) -> Source:
    source = Source(**{**values, "kind": SourceKind(values["kind"])}, created_by_id=w.actor.user_id)
    w.session.add(source)
    await w.session.flush()
    w.record("source.create", "Source", source.id, after=source_snapshot(source))
    return source


def source_snapshot(source: Source) -> dict[str, object]:
    return {
        "kind": source.kind.value,
        "title": source.title,
        "authors": list(source.authors),
        "venue": source.venue,
        "year": source.year,
        "published": source.published.isoformat() if source.published else None,
        "doi": source.doi,
        "pmid": source.pmid,
        "url": source.url,
        "peer_reviewed": source.peer_reviewed,
        "ai_generated": source.ai_generated,
        "derived_from_id": source.derived_from_id,
    }
