"""`claimsdb import FILE...`: claim records from JSON Lines or CSV/TSV (docs/records.md) into review.

Every record goes through the one validator every way in uses (schema.validation via the bulk
import, api/store/bulk.py, which also resolves names and skips repeats of live claims) and enters
as DRAFT, or SUBMITTED for review: never ACCEPTED, so a second person still decides. Audited per
chunk: one "claim.bulk_import" event in the hash chain names the chunk's claims and a digest of
each one's content (api.store.import_digest), so `claimsdb audit verify` proves every imported
claim unchanged and a claim's history shows that event as its creation. An event per claim with
its full content (as createClaim records) was a quarter of an import's cost.

A record that cannot be read or is refused becomes a Reject naming the file, the line, the field
path, the code (the userErrors' codes) and the message; reading never stops at one. All or
nothing by default: with any reject, the transaction is rolled back and nothing is written.
`keep_going` commits the records that passed; `dry_run` checks everything and writes nothing.
Repeats of stored claims (and of earlier records) are counted as duplicates, so re-running a file
adds nothing. A record may give its source in full (JSON Lines only; docs/records.md): a stored
source it names is reused, and a new one is created with the claims, audited with them, and
counted apart (nothing of a rejected record is created).

Memory: JSON Lines are read a line at a time and loaded a chunk at a time. A CSV file is grouped
by `claim_key` in memory (its rows need not be sorted), which suits curated tables; very large
loads should use JSON Lines.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from api.store.bulk import DEFAULT_BATCH, BulkImport, bulk_import
from api.store.db import Database
from api.store.errors import StoreError, UserError, UserErrorCode
from api.store.queries.users import actor_by_name
from schema.enums import ClaimStatus, Role
from schema.flat import CLAIM_KEY, missing_columns, record_from_rows, unknown_columns

# A claim record is at most ~110 KB (a 2,000-character statement, 50 quotes of 2,000); a line
# far longer is not a record, and is refused without being held in memory.
MAX_LINE_BYTES = 1 << 20
InputFormat = Literal["jsonl", "csv", "tsv"]
_SUFFIXES: dict[str, InputFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


class ImportRefused(Exception):
    """An import that cannot start (an unknown user, a file that cannot be opened); one line."""


@dataclass(frozen=True, slots=True)
class Reject:
    file: str
    line: int
    field: tuple[str, ...]
    code: str
    message: str

    def as_json(self) -> bytes:
        return orjson.dumps(
            {"file": self.file, "line": self.line, "field": ".".join(self.field), "code": self.code,
             "message": self.message},
            option=orjson.OPT_APPEND_NEWLINE,
        )  # fmt: skip

    def __str__(self) -> str:
        where = f" {'.'.join(self.field)}:" if self.field else ""
        return f"{self.file}:{self.line}:{where} {self.code}: {self.message}"


@dataclass(slots=True)
class _Item:
    """A record read from a file, with the lines it came from (a CSV claim: one per quote)."""

    file: str
    lines: list[int]
    data: dict[str, Any]

    def line_of(self, path: tuple[str, ...]) -> int:
        if len(path) >= 2 and path[0] == "evidence" and path[1].isdigit() and int(path[1]) < len(self.lines):
            return self.lines[int(path[1])]
        return self.lines[0]


def _reject(file: str, line: int, message: str, *field: str, code: str = UserErrorCode.INVALID) -> Reject:
    return Reject(file, line, tuple(field), str(code), message)


# --- reading ------------------------------------------------------------------------------


def _diagnose_json(line: bytes, truncated: bool, exc: Exception) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return (
            f"not UTF-8: byte {bad.start + 1} of the line is 0x{line[bad.start]:02x}; save the file as UTF-8"
        )
    if truncated:
        return "the file ends in the middle of a record (its last line is cut short)"
    return f"not JSON: {exc}"


def read_jsonl(path: Path) -> Iterator[_Item | Reject]:
    name = str(path)
    with path.open("rb") as file:
        number = 0
        while line := file.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # the rest of the over-long line, read and dropped a piece at a time
                yield _reject(
                    name, number, f"the line is longer than {MAX_LINE_BYTES:,} bytes; a claim record is far "
                    "shorter (is this JSON Lines, one record per line?)",
                )  # fmt: skip
                continue
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield _reject(name, number, _diagnose_json(line, not line.endswith(b"\n"), exc))
                continue
            if not isinstance(data, dict):
                yield _reject(
                    name, number, f"a record is a JSON object; this line holds a {type(data).__name__}"
                )
                continue
            yield _Item(name, [number], data)


def _not_utf8(cells: list[str]) -> int | None:
    """The index of the first cell holding bytes that were not UTF-8 (read as surrogates)."""
    for index, cell in enumerate(cells):
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            return index
    return None


def read_table(path: Path, delimiter: str) -> Iterator[_Item | Reject]:
    name = str(path)
    kind = "TSV" if delimiter == "\t" else "CSV"
    csv.field_size_limit(MAX_LINE_BYTES)
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as file:
        reader = csv.reader(file, delimiter=delimiter, strict=True)
        try:
            header = [cell.strip() for cell in next(reader)]
        except StopIteration:
            yield _reject(name, 1, "the file is empty; the first line names the columns (docs/records.md)")
            return
        except csv.Error as exc:
            yield _reject(name, 1, f"the header line cannot be read: {exc}")
            return
        problems = [
            _reject(name, 1, f"column '{c}' is missing; it is required (docs/records.md)", c)
            for c in missing_columns(header)
        ] + [
            _reject(name, 1, f"unknown column '{c}'; the columns are listed in docs/records.md", c)
            for c in unknown_columns(header)
        ]
        if _not_utf8(header) is not None:
            problems.append(_reject(name, 1, "the header is not UTF-8; save the file as UTF-8"))
        if problems:
            yield from problems
            return
        groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield _reject(name, start, f"not readable as {kind}: {exc}")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield _reject(
                    name, start, f"the row has {len(row)} cells, the header {len(header)} (a cut-short "
                    "line, or an unquoted delimiter in a cell?)",
                )  # fmt: skip
                continue
            bad = _not_utf8(row)
            if bad is not None:
                yield _reject(name, start, "the cell is not UTF-8; save the file as UTF-8", header[bad])
                continue
            cells = dict(zip(header, row, strict=True))
            key = cells[CLAIM_KEY].strip()
            if not key:
                yield _reject(name, start, "every row needs its claim's key", CLAIM_KEY)
                continue
            groups.setdefault(key, []).append((start, cells))
    for rows in groups.values():
        data, disagreements = record_from_rows([cells for _, cells in rows])
        if disagreements:
            yield from (_reject(name, rows[0][0], f"the claim's rows disagree: {message}", column)
                        for column, message in disagreements)  # fmt: skip
            continue
        yield _Item(name, [line for line, _ in rows], data)


def input_format(path: Path, given: InputFormat | None) -> InputFormat:
    if given is not None:
        return given
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ImportRefused(
            f"{path}: cannot tell the format from '{path.suffix}'; name it with --format jsonl|csv|tsv"
        )
    return found


def read_records(path: Path, given: InputFormat | None = None) -> Iterator[_Item | Reject]:
    fmt = input_format(path, given)
    if fmt == "jsonl":
        return read_jsonl(path)
    return read_table(path, "," if fmt == "csv" else "\t")


# --- loading ------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    records: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    sources: int = 0  # created from sources the records give in full
    committed: bool = False
    status: ClaimStatus = ClaimStatus.DRAFT
    rejects: list[Reject] = field(default_factory=list, repr=False)


class _RollBack(Exception):
    """Raised inside the transaction to undo it (a dry run, or rejects without keep_going)."""


@dataclass
class _Loader:
    load: BulkImport
    status: ClaimStatus
    summary: ImportSummary
    on_reject: Callable[[Reject], None]

    def reject(self, reject: Reject, *, counted: bool = True) -> None:
        self.summary.rejected += counted
        self.on_reject(reject)

    async def chunk(self, items: list[_Item]) -> None:
        """Load the chunk; a record the store refuses is rejected and the rest tried again (the
        store checks a whole chunk before writing any of it)."""
        pending = items
        while pending:
            try:
                result = await self.load.claims(
                    [item.data for item in pending], start=0, statuses=[self.status] * len(pending)
                )
            except StoreError as exc:
                refused = _by_record(exc.errors)
                for index, errors in refused.items():
                    self.summary.rejected += 1
                    for error in errors:
                        path = error.field[2:]
                        item = pending[index]
                        message = error.message.removeprefix(f"claim {index}: ")
                        reject = Reject(item.file, item.line_of(path), path, str(error.code), message)
                        self.reject(reject, counted=False)
                pending = [item for index, item in enumerate(pending) if index not in refused]
                continue
            self.summary.inserted += result.inserted
            self.summary.duplicates += result.duplicates
            self.summary.sources += result.sources
            return


def _by_record(errors: list[UserError]) -> dict[int, list[UserError]]:
    out: dict[int, list[UserError]] = {}
    for error in errors:
        if len(error.field) < 2 or error.field[0] != "records" or not error.field[1].isdigit():
            raise StoreError(errors)  # not about one record: the import as a whole is refused
        out.setdefault(int(error.field[1]), []).append(error)
    return out


async def import_files(
    db: Database,
    user: str,
    paths: list[Path],
    *,
    submit: bool = False,
    dry_run: bool = False,
    keep_going: bool = False,
    given_format: InputFormat | None = None,
    batch: int = DEFAULT_BATCH,
    on_reject: Callable[[Reject], None] = lambda _: None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    for path in paths:
        input_format(path, given_format)  # every file's format known before anything is read
        if not path.is_file():
            raise ImportRefused(f"{path}: no such file")
    async with db.read() as session:
        actor = await actor_by_name(session, user)
    if actor is None:
        raise ImportRefused(
            f"there is no active user '{user}'; add one with `claimsdb users add {user} --role curator`"
        )
    if not actor.can(Role.CURATOR):
        raise ImportRefused(
            f"user '{user}' is a {actor.role.value.lower()}; importing claims needs the curator role"
        )
    summary = ImportSummary(status=ClaimStatus.SUBMITTED if submit else ClaimStatus.DRAFT)
    try:
        async with db.write(actor) as w, bulk_import(w, audit="batch") as load:
            loader = _Loader(load, summary.status, summary, on_reject)
            for path in paths:
                chunk: list[_Item] = []
                for item in read_records(path, given_format):
                    summary.records += 1
                    if isinstance(item, Reject):
                        loader.reject(item)
                        continue
                    chunk.append(item)
                    if len(chunk) >= batch:
                        await loader.chunk(chunk)
                        if progress is not None:
                            progress(len(chunk))
                        chunk = []
                if chunk:
                    await loader.chunk(chunk)
                    if progress is not None:
                        progress(len(chunk))
            if dry_run or (summary.rejected and not keep_going):
                raise _RollBack
        summary.committed = True
    except _RollBack:
        summary.committed = False
    return summary
