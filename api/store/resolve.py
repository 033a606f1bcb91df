"""Turning what a user typed into the row it means.

A reference is text or an id (an int). Vocabulary names resolve through the one alias
normaliser (schema.normalize) or as a CURIE; sources resolve by DOI, PMID or URL; an id names the
row with that id, if there is one. (Global IDs are the API's: it decodes them into ids before it
calls the store.) Reads that filter by an unknown name get None (the filter matches nothing);
commands get a NOT_FOUND error that suggests the closest names.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from typing import Final, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.errors import Ref, StoreError, UserErrorCode
from api.store.vocabularies import VOCABULARIES
from schema.curies import parse_curie, split_curie
from schema.enums import VocabularyKind
from schema.identifiers import IdentifierError, normalize_doi, normalize_pmid
from schema.normalize import normalize_name
from schema.tables import Organism, Source
from schema.validation import is_id

_MAX_REF = 300

Reference = int | str  # an id, or a name, alias, CURIE (vocabularies) / DOI, PMID, URL (sources)


async def lookup_id(session: AsyncSession, kind: VocabularyKind, name: Reference) -> int | None:
    """The id of the entity a name, alias, CURIE or id refers to, or None."""
    vocab = VOCABULARIES[kind]
    if isinstance(name, int):
        if not is_id(name):
            return None
        return await session.scalar(sa.select(vocab.table.id).where(vocab.table.id == name))
    name = name.strip()
    if not name or len(name) > _MAX_REF:
        return None
    if split_curie(name) is not None:
        found = await _lookup_curie(session, kind, name)
        if found is not None:
            return found
    key = normalize_name(name)
    if not key:
        return None
    return await session.scalar(sa.select(vocab.alias_owner).where(vocab.alias_table.normalized == key))


# In lookup_ids' names: a source reference (DOI, PMID, URL or id), not a vocabulary name.
SOURCE: Final = "source"
# In a lookup_ids statement's shape: the name at that position is an id of that kind.
_BY_ID: Final = "id"


async def lookup_ids(
    session: AsyncSession, names: Sequence[tuple[VocabularyKind | Literal["source"], Reference]]
) -> list[int | None]:
    """lookup_id for several names at once: plain names and ids (the usual cases) in one
    statement, the rest (CURIEs) one by one. A (SOURCE, reference) pair gives the source the
    reference means when it means exactly one (lookup_source_ids); one by id, DOI or PMID (the
    usual case) joins the plain names' statement."""
    out: list[int | None] = [None] * len(names)
    shape: list[tuple[int, VocabularyKind | str | tuple[str, str]]] = []
    keys: dict[str, str | int] = {}
    for index, (kind, name) in enumerate(names):
        if isinstance(name, int):
            if is_id(name):
                shape.append((index, (_BY_ID, kind)))
                keys[f"key_{index}"] = name
            continue
        if kind == SOURCE:
            by_column = _source_key(name.strip())
            if by_column is None:
                found = await lookup_source_ids(session, name)
                out[index] = found[0] if len(found) == 1 else None
            else:
                shape.append((index, by_column[0]))
                keys[f"key_{index}"] = by_column[1]
            continue
        stripped = name.strip()
        if not stripped or len(stripped) > _MAX_REF:
            continue
        if split_curie(stripped) is not None:
            out[index] = await lookup_id(session, kind, stripped)
            continue
        key = normalize_name(stripped)
        if key:
            shape.append((index, kind))
            keys[f"key_{index}"] = key
    if shape:
        for index, id_ in (await session.execute(_plain_lookup(tuple(shape)), keys)).all():
            out[index] = id_
    return out


@functools.lru_cache(maxsize=256)
def _plain_lookup(shape: tuple[tuple[int, VocabularyKind | str | tuple[str, str]], ...]) -> sa.Executable:
    """lookup_ids' statement for the plain names at these positions, each a vocabulary kind, a
    source column ("doi", "pmid") or ("id", kind or "source") for an id, each name's key bound
    as key_<position>. Built once per shape (a createClaim asks the same few every time):
    building and hashing a UNION of several selects took more CPU than running it."""
    statements = []
    for index, kind in shape:
        # The index is our own int, written into the SQL (PostgreSQL cannot type a bound
        # parameter in a UNION's select list).
        position = sa.literal_column(str(index)).label("i")
        key = sa.bindparam(f"key_{index}")
        if isinstance(kind, tuple):
            table = Source if kind[1] == SOURCE else VOCABULARIES[VocabularyKind(kind[1])].table
            statements.append(sa.select(position, table.id.label("id")).where(table.id == key))
        elif kind in _SOURCE_COLUMNS:
            statements.append(sa.select(position, Source.id.label("id")).where(_SOURCE_COLUMNS[kind] == key))
        else:
            vocab = VOCABULARIES[VocabularyKind(kind)]
            statements.append(
                sa.select(position, vocab.alias_owner.label("id")).where(vocab.alias_table.normalized == key)
            )
    return statements[0] if len(statements) == 1 else sa.union_all(*statements)


async def _lookup_curie(session: AsyncSession, kind: VocabularyKind, value: str) -> int | None:
    try:
        curie = parse_curie(value)
    except IdentifierError:
        return None
    if kind is VocabularyKind.ORGANISM:
        if curie.prefix != "ncbitaxon" or not curie.identifier.isdigit():
            return None
        return await session.scalar(sa.select(Organism.id).where(Organism.taxon_id == int(curie.identifier)))
    vocab = VOCABULARIES[kind]
    if vocab.xref_table is None:
        return None
    return await session.scalar(
        sa.select(getattr(vocab.xref_table, vocab.xref_fk)).where(vocab.xref_table.curie == str(curie))
    )


async def resolve_id(
    session: AsyncSession, kind: VocabularyKind, name: Reference, field: Sequence[str]
) -> int:
    """Like lookup_id, but a miss is a NOT_FOUND error naming the field and close matches."""
    found = await lookup_id(session, kind, name)
    if found is not None:
        return found
    raise await not_found(session, kind, name, field)


async def not_found(
    session: AsyncSession, kind: VocabularyKind, name: Reference, field: Sequence[str]
) -> StoreError:
    vocab = VOCABULARIES[kind]
    if isinstance(name, int):
        # Named by the edge that shows the message (the API: the global ID the client gave).
        return StoreError.naming(
            UserErrorCode.NOT_FOUND,
            field,
            f"no {vocab.noun} is called '",
            Ref(vocab.type_name, name),
            f"'; create the {vocab.noun} first",
        )
    close = await suggestions(session, kind, name)
    hint = f"; did you mean {_or_list(close)}?" if close else f"; create the {vocab.noun} first"
    return StoreError.one(UserErrorCode.NOT_FOUND, f"no {vocab.noun} is called '{name}'{hint}", field)


async def suggestions(session: AsyncSession, kind: VocabularyKind, name: str, limit: int = 3) -> list[str]:
    """Up to `limit` preferred labels whose names are closest to `name`.

    Candidates come from names sharing the first letters of the normalised key (an index range
    scan), falling back to a bounded sample, so this stays cheap on large vocabularies.
    """
    vocab = VOCABULARIES[kind]
    key = normalize_name(name)[:_MAX_REF]
    if not key:
        return []
    rows: list[tuple[str, str]] = []
    for prefix_len in (3, 1):
        prefix = key[:prefix_len]
        stmt = (
            sa.select(vocab.alias_table.normalized, vocab.label)
            .join(vocab.table, vocab.table.id == vocab.alias_owner)
            .where(vocab.alias_table.normalized >= prefix)
            .where(vocab.alias_table.normalized < prefix + "\uffff")
            .limit(500)
        )
        rows = [(r[0], r[1]) for r in (await session.execute(stmt)).all()]
        if rows:
            break
    by_key: dict[str, str] = {}
    for normalized, label in rows:
        by_key.setdefault(normalized, label)
    labels: list[str] = []
    for match in difflib.get_close_matches(key, list(by_key), n=limit * 3, cutoff=0.5):
        if by_key[match] not in labels:
            labels.append(by_key[match])
    return labels[:limit]


def _or_list(items: list[str]) -> str:
    quoted = [f"'{item}'" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


# The unique columns a reference names a source by (a DOI or PMID: the usual case), and the
# statement looking a source up by each, built once.
_SOURCE_COLUMNS = {"doi": Source.doi, "pmid": Source.pmid}
_SOURCE_BY = {
    column: sa.select(Source.id).where(attribute == sa.bindparam("key"))
    for column, attribute in _SOURCE_COLUMNS.items()
}


def _source_key(ref: str) -> tuple[str, str] | None:
    """("doi", normalised DOI) or ("pmid", normalised PMID) when a stripped reference names a
    source by one of them, as lookup_source_ids reads it; else None."""
    if not ref or len(ref) > 2000:
        return None
    for column, normalize in (("doi", normalize_doi), ("pmid", normalize_pmid)):
        try:
            return column, normalize(ref)
        except IdentifierError:
            pass
    return None


async def lookup_source_ids(session: AsyncSession, reference: Reference) -> list[int]:
    """Every source a reference can mean: an id, DOI, PMID or URL (URLs can be shared, e.g. by
    a blog post and the comments under it)."""
    if isinstance(reference, int):
        if not is_id(reference):
            return []
        found = await session.scalar(sa.select(Source.id).where(Source.id == reference))
        return [found] if found is not None else []
    ref = reference.strip()
    if not ref or len(ref) > 2000:
        return []
    by_column = _source_key(ref)
    if by_column is not None:
        column, key = by_column
        found = await session.scalar(_SOURCE_BY[column], {"key": key})
        return [found] if found is not None else []
    if ref.lower().startswith(("http://", "https://")):
        return list((await session.scalars(sa.select(Source.id).where(Source.url == ref).limit(5))).all())
    return []


async def resolve_source_id(session: AsyncSession, reference: Reference, field: Sequence[str]) -> int:
    found = await lookup_source_ids(session, reference)
    if len(found) == 1:
        return found[0]
    if isinstance(reference, int):
        # Named by the edge that shows the message (the API: the global ID the client gave).
        raise StoreError.naming(
            UserErrorCode.NOT_FOUND, field, "no source matches '", Ref("Source", reference), _NO_SOURCE
        )
    if len(found) > 1:
        raise StoreError.one(
            UserErrorCode.AMBIGUOUS,
            f"more than one source has the URL '{reference}'; name it by DOI, PMID or its ID",
            field,
        )
    raise StoreError.one(UserErrorCode.NOT_FOUND, f"no source matches '{reference}{_NO_SOURCE}", field)


_NO_SOURCE = (
    "'; give a DOI (10.x/...), a PMID, a URL or a source ID of a source that exists (createSource adds one)"
)
