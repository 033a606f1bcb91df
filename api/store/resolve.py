"""Turning what a user typed into the row it means.

Vocabulary names resolve through the one alias normaliser (schema.normalize) or as a CURIE;
sources resolve by DOI, PMID, URL or global ID. Reads that filter by an unknown name get None
(the filter matches nothing); commands get a NOT_FOUND error that suggests the closest names.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from typing import Final, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.errors import StoreError, UserErrorCode
from api.store.ids import int_id_of
from api.store.vocabularies import VOCABULARIES
from schema.curies import parse_curie, split_curie
from schema.enums import VocabularyKind
from schema.identifiers import IdentifierError, normalize_doi, normalize_pmid
from schema.normalize import normalize_name
from schema.tables import Organism, Source

_MAX_REF = 300


async def lookup_id(session: AsyncSession, kind: VocabularyKind, name: str) -> int | None:
    """The id of the entity a name, alias, CURIE or global ID refers to, or None."""
    vocab = VOCABULARIES[kind]
    name = name.strip()
    if not name or len(name) > _MAX_REF:
        return None
    by_gid = int_id_of(name, vocab.type_name)
    if by_gid is not None:
        found = await session.scalar(sa.select(vocab.table.id).where(vocab.table.id == by_gid))
        return found
    if split_curie(name) is not None:
        found = await _lookup_curie(session, kind, name)
        if found is not None:
            return found
    key = normalize_name(name)
    if not key:
        return None
    return await session.scalar(sa.select(vocab.alias_owner).where(vocab.alias_table.normalized == key))


# In lookup_ids' names: a source reference (DOI, PMID, URL or global ID), not a vocabulary name.
SOURCE: Final = "source"


async def lookup_ids(
    session: AsyncSession, names: Sequence[tuple[VocabularyKind | Literal["source"], str]]
) -> list[int | None]:
    """lookup_id for several names at once: plain names (the usual case) in one statement, the
    rest (global IDs, CURIEs) one by one. A (SOURCE, reference) pair gives the source the
    reference means when it means exactly one (lookup_source_ids); one by DOI or PMID (the
    usual case) joins the plain names' statement."""
    out: list[int | None] = [None] * len(names)
    shape: list[tuple[int, VocabularyKind | str]] = []
    keys: dict[str, str] = {}
    for index, (kind, name) in enumerate(names):
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
        vocab = VOCABULARIES[kind]
        if int_id_of(stripped, vocab.type_name) is not None or split_curie(stripped) is not None:
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
def _plain_lookup(shape: tuple[tuple[int, VocabularyKind | str], ...]) -> sa.Executable:
    """lookup_ids' statement for the plain names at these positions, each a vocabulary kind or a
    source column ("doi", "pmid"), each name's key bound as key_<position>. Built once per shape
    (a createClaim asks the same few every time): building and hashing a UNION of several
    selects took more CPU than running it."""
    statements = []
    for index, kind in shape:
        # The index is our own int, written into the SQL (PostgreSQL cannot type a bound
        # parameter in a UNION's select list).
        position = sa.literal_column(str(index)).label("i")
        key = sa.bindparam(f"key_{index}")
        if kind in _SOURCE_COLUMNS:
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


async def resolve_id(session: AsyncSession, kind: VocabularyKind, name: str, field: Sequence[str]) -> int:
    """Like lookup_id, but a miss is a NOT_FOUND error naming the field and close matches."""
    found = await lookup_id(session, kind, name)
    if found is not None:
        return found
    raise await not_found(session, kind, name, field)


async def not_found(
    session: AsyncSession, kind: VocabularyKind, name: str, field: Sequence[str]
) -> StoreError:
    vocab = VOCABULARIES[kind]
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
    source by one of them, as lookup_source_ids reads it (a global ID first); else None."""
    if not ref or len(ref) > 2000 or int_id_of(ref, "Source") is not None:
        return None
    for column, normalize in (("doi", normalize_doi), ("pmid", normalize_pmid)):
        try:
            return column, normalize(ref)
        except IdentifierError:
            pass
    return None


async def lookup_source_ids(session: AsyncSession, reference: str) -> list[int]:
    """Every source a reference can mean: a global ID, DOI, PMID or URL (URLs can be shared,
    e.g. by a blog post and the comments under it)."""
    ref = reference.strip()
    if not ref or len(ref) > 2000:
        return []
    by_gid = int_id_of(ref, "Source")
    if by_gid is not None:
        found = await session.scalar(sa.select(Source.id).where(Source.id == by_gid))
        return [found] if found is not None else []
    by_column = _source_key(ref)
    if by_column is not None:
        column, key = by_column
        found = await session.scalar(_SOURCE_BY[column], {"key": key})
        return [found] if found is not None else []
    if ref.lower().startswith(("http://", "https://")):
        return list((await session.scalars(sa.select(Source.id).where(Source.url == ref).limit(5))).all())
    return []


async def resolve_source_id(session: AsyncSession, reference: str, field: Sequence[str]) -> int:
    found = await lookup_source_ids(session, reference)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise StoreError.one(
            UserErrorCode.AMBIGUOUS,
            f"more than one source has the URL '{reference}'; name it by DOI, PMID or its ID",
            field,
        )
    raise StoreError.one(
        UserErrorCode.NOT_FOUND,
        f"no source matches '{reference}'; give a DOI (10.x/...), a PMID, a URL or a source ID "
        "of a source that exists (createSource adds one)",
        field,
    )
