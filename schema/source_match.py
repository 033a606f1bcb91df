"""A source given in full in a claim record: which stored source it names, and whether that one may
be reused (docs/records.md, "A source given in full").

Pure: the store looks up the candidates (the sources stored under the record's DOI, PMID or URL,
and those with exactly its values) and this decides, so the bulk import and the commands (the
seed loader) cannot decide differently.

- With a DOI or PMID the record names the source stored under it (each is unique); a DOI and a
  PMID of two different sources is an error.
- With neither, a URL names a source stored under it. A URL may be shared (a blog post and the
  comments under it), so it names the one source there whose fields the record agrees with.
- With none of the three a source has no identity but its content: the record names a stored
  source with exactly the values it would be created with, and is created otherwise. Re-running
  a file therefore adds nothing, and a source with a corrected field is another source.

A record naming a stored source must agree with it: each column it gives a value for
(CheckedSource.given) equals the stored value, else it is refused at that field with what is
stored. A column it leaves out, or gives as null or [], is not compared. Nothing stored is
changed: a source record is a way to name a source, or to create it, not to edit it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from enum import Enum
from typing import Any

from schema.errors import Ref, UserError, UserErrorCode
from schema.validation import CheckedSource

# A source's stored columns a record may give, with the field path each is reported at; a
# source row (from the database, or one an import is about to write) is a mapping of these and
# "id".
SOURCE_AGREES = (
    ("kind", "kind"),
    ("title", "title"),
    ("authors", "authors"),
    ("venue", "venue"),
    ("year", "year"),
    ("published", "published"),
    ("doi", "doi"),
    ("pmid", "pmid"),
    ("url", "url"),
    ("peer_reviewed", "peerReviewed"),
    ("ai_generated", "aiGenerated"),
    ("derived_from_id", "derivedFrom"),
)
SOURCE_COLUMNS = tuple(column for column, _ in SOURCE_AGREES)
StoredSource = Mapping[str, Any]


def source_values(c: CheckedSource, derived_from_id: int | None) -> dict[str, Any]:
    """A checked source's column values (derivedFrom resolved), keyed as source_snapshot keys them."""
    return {
        "kind": c.kind.value,
        "title": c.title,
        "authors": c.authors,
        "venue": c.venue,
        "year": c.year,
        "published": c.published,
        "doi": c.doi,
        "pmid": c.pmid,
        "url": c.url,
        "peer_reviewed": c.peer_reviewed,
        "ai_generated": c.ai_generated,
        "derived_from_id": derived_from_id,
    }


def identifiers(values: StoredSource) -> list[tuple[str, str]]:
    """(column, value) of the identifiers a source's values name it by: its DOI and PMID, or,
    with neither, its URL."""
    found = [(column, values[column]) for column in ("doi", "pmid") if values[column] is not None]
    if not found and values["url"] is not None:
        found.append(("url", values["url"]))
    return found


def content_key(values: StoredSource) -> tuple[Any, ...]:
    """Every column's value, comparable and hashable: a source without identifiers is named by
    this (a stored enum and its text are equal, as are a stored 0 and False)."""
    return tuple(tuple(values[c]) if c == "authors" else _plain(values[c]) for c in SOURCE_COLUMNS)


def choose_stored(
    values: StoredSource,
    given: frozenset[str],
    *,
    by_doi: StoredSource | None,
    by_pmid: StoredSource | None,
    by_url: Sequence[StoredSource],
    same: StoredSource | None,
) -> tuple[StoredSource | None, list[UserError]]:
    """The stored source a record with these values names (None: it names none, so it is
    created), or every error that refuses it. The candidates are the sources stored under its
    DOI, its PMID and (when it has neither) its URL, and one with exactly its values."""
    if values["doi"] is not None or values["pmid"] is not None:
        if by_doi is not None and by_pmid is not None and by_doi["id"] != by_pmid["id"]:
            return None, [
                UserError.naming(
                    UserErrorCode.INVALID, ("pmid",),
                    f"DOI {values['doi']} names ", _source(by_doi["id"]),
                    f" but PMID {values['pmid']} names ", _source(by_pmid["id"]),
                    "; give the identifiers of one source",
                )
            ]  # fmt: skip
        stored = by_doi if by_doi is not None else by_pmid
        if stored is None:
            return None, []
        named = f"DOI {values['doi']}" if by_doi is not None else f"PMID {values['pmid']}"
        return stored, source_disagreements(stored, values, given, named)
    if values["url"] is not None:
        return _by_url(values, given, by_url)
    return same, []


def _by_url(
    values: StoredSource, given: frozenset[str], stored: Sequence[StoredSource]
) -> tuple[StoredSource | None, list[UserError]]:
    if not stored:
        return None, []
    named = f"URL {values['url']}"
    problems = [source_disagreements(s, values, given, named) for s in stored]
    agree = [s for s, found in zip(stored, problems, strict=True) if not found]
    if len(agree) == 1:
        return agree[0], []
    if not agree and len(stored) == 1:
        return stored[0], problems[0]
    ids = [_source(s["id"]) for s in (agree or stored)]
    listed: list[str | Ref] = [part for ref in ids for part in (", ", ref)][1:]
    if agree:
        return None, [
            UserError.naming(
                UserErrorCode.AMBIGUOUS, ("url",), f"{len(agree)} sources with {named} agree "
                "with this record (", *listed, "); give a field that tells them apart, or name one by its id",
            )
        ]  # fmt: skip
    return None, [
        UserError.naming(
            UserErrorCode.INVALID, ("url",), f"the {len(stored)} sources with {named} (", *listed,
            ") each differ from this record; give the fields of one of them, or name it by its id",
        )
    ]  # fmt: skip


def source_disagreements(
    stored: StoredSource, values: StoredSource, given: frozenset[str], named: str
) -> list[UserError]:
    """Each column the record gives that differs from the stored source's (none: it agrees).
    `named`: how the record names the stored source ("DOI 10.1/x")."""
    return [
        UserError.naming(
            UserErrorCode.INVALID, (field,),
            "the source with ", named, " (", _source(stored["id"]), f") has {field} ",
            *_shown(column, stored[column]), ", not ", *_shown(column, values[column]),
            f"; give {field} as stored, or leave it out, to reuse that source (a claim record never "
            "changes a stored source), or give another source's identifiers",
        )
        for column, field in SOURCE_AGREES
        if column in given and _plain(stored[column]) != _plain(values[column])
    ]  # fmt: skip


def _source(id_: int) -> Ref | str:
    """A source as a message names it. An import numbers the sources it is about to create
    below zero until they get ids: those are named by where they come from."""
    return Ref("Source", id_) if id_ > 0 else "a source an earlier record gives"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return tuple(value)
    return value


def _shown(column: str, value: Any) -> tuple[str | Ref, ...]:
    if value is None or value == []:
        return ("nothing",)
    if column == "derived_from_id":
        return (_source(value),)
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, date):
        return (value.isoformat(),)
    if isinstance(value, list):
        return ("[" + ", ".join(f"'{v}'" for v in value) + "]",)
    if isinstance(value, str) and column != "kind":
        return (f"'{_plain(value)}'",)
    return (str(_plain(value)),)
