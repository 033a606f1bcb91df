"""Creating sources: the documents claims come from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from api.store.commands._common import collect, optional_label, require_role, required_label
from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode, invalid
from api.store.resolve import resolve_source_id
from schema.enums import Role, SourceKind
from schema.identifiers import IdentifierError, normalize_doi, normalize_pmid
from schema.tables import MAX_LABEL, MAX_TITLE, Source


@dataclass
class SourceInput:
    kind: SourceKind
    title: str
    authors: Sequence[str] = ()
    venue: str | None = None
    year: int | None = None
    published: date | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    peer_reviewed: bool = False
    ai_generated: bool = False
    derived_from: str | None = None


async def create_source(w: Writer, data: SourceInput) -> Source:
    require_role(w.actor, Role.CURATOR, "creating a source")
    errors: list[StoreError] = []
    doi = pmid = None
    try:
        doi = normalize_doi(data.doi) if data.doi and data.doi.strip() else None
    except IdentifierError as exc:
        errors.append(invalid(str(exc), "doi"))
    try:
        pmid = normalize_pmid(data.pmid) if data.pmid and str(data.pmid).strip() else None
    except IdentifierError as exc:
        errors.append(invalid(str(exc), "pmid"))
    if data.year is not None and not 1500 <= data.year <= 2200:
        errors.append(invalid(f"year {data.year} is outside 1500-2200", "year"))
    if data.published is not None and data.year is not None and data.published.year != data.year:
        errors.append(invalid("published and year disagree", "published"))
    url = (data.url or "").strip() or None
    if url is not None and (not url.lower().startswith(("http://", "https://")) or len(url) > 2000):
        errors.append(invalid("url must be an http(s) address of at most 2000 characters", "url"))
    authors: list[str] = []
    for index, author in enumerate(data.authors):
        try:
            authors.append(required_label(author, MAX_LABEL, "authors", str(index)))
        except StoreError as exc:
            errors.append(exc)
    try:
        title = required_label(data.title, MAX_TITLE, "title")
        venue = optional_label(data.venue, MAX_LABEL, "venue")
    except StoreError as exc:
        errors.append(exc)
    collect(errors)

    if doi and await w.session.scalar(sa.select(Source.id).where(Source.doi == doi)):
        raise StoreError.one(UserErrorCode.DUPLICATE, f"a source with DOI {doi} exists", ("doi",))
    if pmid and await w.session.scalar(sa.select(Source.id).where(Source.pmid == pmid)):
        raise StoreError.one(UserErrorCode.DUPLICATE, f"a source with PMID {pmid} exists", ("pmid",))
    derived_from_id = None
    if data.derived_from and data.derived_from.strip():
        derived_from_id = await resolve_source_id(w.session, data.derived_from, ("derivedFrom",))

    source = Source(
        kind=data.kind,
        title=title,
        authors=authors,
        venue=venue,
        year=data.year if data.year is not None else (data.published.year if data.published else None),
        published=data.published,
        doi=doi,
        pmid=pmid,
        url=url,
        peer_reviewed=data.peer_reviewed,
        ai_generated=data.ai_generated,
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
