"""The sources a chunk of claim records gives in full (schema.records.SourceGiven), for the bulk
import (api.store.bulk): each one names a stored source it agrees with, or is planned as a new
source (schema.source_match decides which), before the claims' references are resolved.

Records are taken in order, so a source an earlier record of the chunk gives can be named by a
later one: by its derivedFrom, or by a claim's or quote's source reference (the DOI, PMID or
URL). Sources of earlier chunks are in the database by then (the import's transaction holds
them) and are found there like any other. A source to be created is numbered below zero until
the chunk's new sources get their ids, which then replace the numbers in the claim records.
Nothing is written here: BulkImport.claims writes the new sources (audited as the import audits
sources) only once the whole chunk has passed, so a refused record creates nothing, and a later
record naming its source is refused too, saying why.

The look-ups are one statement per identifier column for the chunk. A source without DOI, PMID
or URL is found by its title (no index: a scan of the source table, for chunks that give such
sources only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api.store.resolve import SOURCE, _source_key
from schema.enums import ClaimStatus
from schema.records import ClaimRecord
from schema.source_match import (
    SOURCE_COLUMNS,
    StoredSource,
    choose_stored,
    content_key,
    identifiers,
    source_values,
)
from schema.tables import Source
from schema.validation import CheckedClaim, CheckedSource, given

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

    from api.store.bulk import _Problems, _References, _Sql

Parsed = list[tuple[ClaimRecord, CheckedClaim, ClaimStatus] | None]

# Added to the message of a derivedFrom that names no source: it may name one a record gives.
_NOT_EARLIER = (
    ", or of a source an earlier record of this import gives in full (a rejected record's source "
    "is not created)"
)


class GivenSources:
    """One chunk's sources given in full: name() them, then write `new` (in id order)."""

    def __init__(self, sql: _Sql, dialect: Dialect) -> None:
        self.sql = sql
        self.new: list[dict[str, Any]] = []  # the sources to create, as rows
        # Candidates by how a record names them: stored ones (read per chunk) and new ones.
        self._by: dict[str, dict[Any, StoredSource]] = {"doi": {}, "pmid": {}}
        self._by_url: dict[str, list[StoredSource]] = {}
        self._same: dict[tuple[Any, ...], StoredSource] = {}
        columns = Source.__table__.c
        self._readers = [_reader(columns[c], dialect) for c in ("id", *SOURCE_COLUMNS)]

    @property
    def new_ids(self) -> list[int]:
        return [row["id"] for row in self.new]

    @property
    def new_values(self) -> list[dict[str, Any]]:
        """The new sources' values as BulkImport._write_sources takes them (without their ids)."""
        return [{column: row[column] for column in SOURCE_COLUMNS} for row in self.new]

    async def name(self, problems: _Problems, start: int, parsed: Parsed, refs: _References) -> None:
        """Replace the sources given in full in the chunk's records (`parsed`, in place) by the
        ids of the sources they name or create; a record refused here becomes None."""
        wanted = [source for item in parsed if item is not None for _, source in item[1].sources]
        if not wanted:
            return
        await refs.resolve((SOURCE, s.derived_from, False) for s in wanted)
        await self._read(wanted)
        earlier: dict[tuple[str, str], int] = {}  # identifier → source, of the records so far
        renamed: list[int] = []
        for n, item in enumerate(parsed):
            if item is None:
                continue
            record, checked, status = item
            ids: dict[tuple[str, ...], int] = {}
            for path, source in checked.sources:
                found = self._one(problems, start + n, path, source, refs, earlier)
                if found is not None:
                    ids[path] = found
            if len(ids) != len(checked.sources):
                parsed[n] = None
                continue
            named = record.with_sources(
                lambda path, ref, ids=ids: ids[path] if path in ids else earlier.get(_key(ref), ref)  # type: ignore[arg-type]
            )
            if named is not record:
                parsed[n] = (named, checked, status)
                renamed.append(n)
        if self.new:
            await self._allocate(parsed, renamed)

    def _one(
        self,
        problems: _Problems,
        i: int,
        path: tuple[str, ...],
        source: CheckedSource,
        refs: _References,
        earlier: dict[tuple[str, str], int],
    ) -> int | None:
        derived = None
        if given(source.derived_from):
            derived = earlier.get(_key(source.derived_from))  # type: ignore[arg-type]
            if derived is None:
                derived = refs.take(problems, i, SOURCE, source.derived_from, (*path, "derivedFrom"), False)
                if derived is None:
                    if isinstance(source.derived_from, str):
                        problems.errors[-1] = problems.errors[-1].followed_by(_NOT_EARLIER)
                    return None
        values = source_values(source, derived)
        named_by = identifiers(values)
        stored, refused = choose_stored(
            values,
            source.given,
            by_doi=self._by["doi"].get(values["doi"]),
            by_pmid=self._by["pmid"].get(values["pmid"]),
            by_url=self._by_url.get(values["url"], ()),
            same=None if named_by else self._same.get(content_key(values)),
        )
        if refused:
            problems.extend(i, [problem.within(*path) for problem in refused])
            return None
        if stored is None:
            stored = {**values, "id": -1 - len(self.new)}
            self.new.append(stored)
            self._index(stored)
        for key in named_by:
            earlier.setdefault(key, stored["id"])
        return stored["id"]

    def _index(self, row: dict[str, Any]) -> None:
        """A new source, as a candidate for the records after the one that gives it."""
        for column in ("doi", "pmid"):
            if row[column] is not None:
                self._by[column][row[column]] = row
        if row["url"] is not None:
            self._by_url.setdefault(row["url"], []).append(row)
        if not identifiers(row):
            self._same.setdefault(content_key(row), row)

    async def _read(self, wanted: list[CheckedSource]) -> None:
        """The stored sources the chunk's records may name, one statement per way of naming."""
        for column in ("doi", "pmid"):
            for row in await self._rows(f"{column} IN ?", (getattr(s, column) for s in wanted)):
                self._by[column][row[column]] = row
        unnamed = [s for s in wanted if s.doi is None and s.pmid is None]
        for row in await self._rows("url IN ?", (s.url for s in unnamed)):
            self._by_url.setdefault(row["url"], []).append(row)
        titles = (s.title for s in unnamed if s.url is None)
        for row in await self._rows("title IN ? AND doi IS NULL AND pmid IS NULL AND url IS NULL", titles):
            self._same.setdefault(content_key(row), row)

    async def _rows(self, where: str, keys: Any) -> list[dict[str, Any]]:
        found = await self.sql.fetch_in(
            f"SELECT id, {', '.join(SOURCE_COLUMNS)} FROM source WHERE {where} ORDER BY id", keys, "text"
        )
        names = ("id", *SOURCE_COLUMNS)
        return [
            {name: read(value) for name, read, value in zip(names, self._readers, row, strict=True)}
            for row in found
        ]

    async def _allocate(self, parsed: Parsed, renamed: list[int]) -> None:
        """Give the new sources their ids, in the order they were given (so a source is written
        after the one it derives from), and put those ids where the numbers stood."""
        real = dict(zip(self.new_ids, await self.sql.allocate_ids("source", len(self.new)), strict=True))
        for row in self.new:
            row["id"] = real[row["id"]]
            row["derived_from_id"] = real.get(row["derived_from_id"], row["derived_from_id"])
        for n in renamed:
            item = parsed[n]
            assert item is not None
            record = item[0].with_sources(lambda _, ref: real.get(ref, ref) if type(ref) is int else ref)
            parsed[n] = (record, *item[1:])  # type: ignore[assignment]


def _key(ref: int | str | None) -> tuple[str, str] | None:
    """The identifier a source reference names a source by: its DOI, PMID or URL (not an id)."""
    if not isinstance(ref, str):
        return None
    text = ref.strip()
    if (key := _source_key(text)) is not None:
        return key
    return ("url", text) if text.lower().startswith(("http://", "https://")) else None


def _reader(column: Any, dialect: Dialect) -> Callable[[Any], Any]:
    """The column type's own decoding of a raw driver value for this dialect (SQLite's dates
    and JSON are text, its booleans 0 and 1), as the ORM reads it."""
    processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return processor if processor is not None else (lambda value: value)
