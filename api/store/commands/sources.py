"""Creating sources: the documents claims come from."""

from __future__ import annotations

import sqlalchemy as sa

from api.store.commands._common import refuse, require_role
from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode
from api.store.resolve import resolve_source_id
from schema.enums import Role
from schema.records import SourceRecord
from schema.tables import Source
from schema.validation import check_source, given


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

    source = Source(
        kind=checked.kind,
        title=checked.title,
        authors=checked.authors,
        venue=checked.venue,
        year=checked.year,
        published=checked.published,
        doi=doi,
        pmid=pmid,
        url=checked.url,
        peer_reviewed=checked.peer_reviewed,
        ai_generated=checked.ai_generated,
        derived_from_id=derived_from_id,
        created_by_id=w.actor.user_id,
    )
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
