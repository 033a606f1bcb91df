"""A source's standing as reviewers and update files give it: the names it goes by, and the rows
of a standing update file (`claimsdb sources standing FILE`).

An update file is what Retraction Watch or Crossref's update metadata export reduces to: one row
per notice, naming the document by DOI and/or PMID, what became of it, since when, and why. It may
be JSON Lines (one object a line) or CSV (a header row naming the columns); the columns are `doi`,
`pmid`, `standing`, `date` and `note` (any case; other columns are ignored, so an export can be
applied as it comes). A standing may be given by its name (RETRACTED) or as the notices call it
(Retraction, Correction, Expression of concern, Reinstatement, ...).

Pure: reading the rows and checking each is here; which source a DOI names is the store's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from schema.enums import SourceStanding
from schema.identifiers import IdentifierError, normalize_doi, normalize_pmid
from schema.normalize import clean_label
from schema.tables import MAX_STATEMENT

COLUMNS = ("doi", "pmid", "standing", "date", "note")

# What notices and exports call each standing (after lower-casing and folding spaces and hyphens
# to underscores): Retraction Watch's "nature of notice", Crossref's update types.
_NAMES: dict[str, SourceStanding] = {
    **{s.value.lower(): s for s in SourceStanding},
    "reinstated": SourceStanding.CURRENT,
    "reinstatement": SourceStanding.CURRENT,
    "correction": SourceStanding.CORRECTED,
    "erratum": SourceStanding.CORRECTED,
    "corrigendum": SourceStanding.CORRECTED,
    "concern": SourceStanding.EXPRESSION_OF_CONCERN,
    "retraction": SourceStanding.RETRACTED,
    "withdrawal": SourceStanding.RETRACTED,
    "withdrawn": SourceStanding.RETRACTED,
    "removal": SourceStanding.RETRACTED,
    "removed": SourceStanding.RETRACTED,
}
STANDINGS = ", ".join(s.value for s in SourceStanding)


def standing_named(text: str) -> SourceStanding | None:
    """The standing a name means ("Retraction", "expression of concern", "CORRECTED"), or None."""
    return _NAMES.get(re.sub(r"[\s\-]+", "_", text.strip().lower()))


def latest_allowed_since(today: date) -> date:
    """A standing's date may not lie in the future; a day's grace for the time zones ahead of UTC."""
    return today + timedelta(days=1)


@dataclass(frozen=True)
class StandingRow:
    """One checked row: the document (by DOI and/or PMID) and what became of it."""

    line: int
    doi: str | None
    pmid: str | None
    standing: SourceStanding
    since: date | None  # None: not given (kept when the standing stays, else the day it is applied)
    note: str | None
    note_given: bool  # False: the file has no note for it (the stored note is kept)

    @property
    def identifier(self) -> str:
        return f"DOI {self.doi}" if self.doi else f"PMID {self.pmid}"


@dataclass
class StandingFile:
    rows: list[StandingRow] = field(default_factory=list)
    # (line, message): every bad row, each with what is wrong; line 0 is the file as a whole.
    problems: list[tuple[int, str]] = field(default_factory=list)


def parse_standing_file(text: str, *, name: str = "", today: date) -> StandingFile:
    """The rows of a standing update file, and every problem with them. JSON Lines when the
    file name ends in .jsonl, .ndjson or .json, CSV when it ends in .csv, else by its first
    character (`{`: JSON Lines)."""
    out = StandingFile()
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        as_json = True
    elif lowered.endswith(".csv"):
        as_json = False
    else:
        as_json = text.lstrip().startswith("{")
    records = _json_lines(text, out) if as_json else _csv_rows(text, out)
    for line, record in records:
        _check(line, record, today, out)
    if not out.rows and not out.problems:
        out.problems.append((0, "the file holds no rows"))
    out.problems.sort(key=lambda problem: problem[0])
    return out


def _json_lines(text: str, out: StandingFile) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            out.problems.append((number, f"not JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            out.problems.append((number, f"expected a JSON object, got {type(value).__name__}"))
            continue
        yield number, {str(k).strip().lower(): v for k, v in value.items()}


def _csv_rows(text: str, out: StandingFile) -> Iterator[tuple[int, dict[str, Any]]]:
    first = text.lstrip("\r\n").split("\n", 1)[0]
    try:
        dialect: Any = csv.Sniffer().sniff(first, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header: list[str] | None = None
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                missing = _missing_columns(header)
                if missing:
                    out.problems.append((line, missing))
                    return
                continue
            if len(row) > len(header):
                out.problems.append((line, f"{len(row)} cells, but the header names {len(header)} columns"))
                continue
            yield line, {column: cell for column, cell in zip(header, row, strict=False) if column in COLUMNS}
    except csv.Error as exc:
        out.problems.append((start, f"not CSV: {exc}"))
    if header is None:
        out.problems.append((0, "the file holds no header row (doi, pmid, standing, date, note)"))


def _missing_columns(header: list[str]) -> str | None:
    duplicated = sorted({c for c in header if c in COLUMNS and header.count(c) > 1})
    if duplicated:
        return f"the header names {', '.join(duplicated)} more than once"
    if "doi" not in header and "pmid" not in header:
        return f"the header names no 'doi' or 'pmid' column (it has: {', '.join(header)})"
    if "standing" not in header:
        return f"the header names no 'standing' column (it has: {', '.join(header)})"
    return None


def _text(value: Any) -> str | None:
    """A cell or JSON value as text; None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _check(line: int, record: dict[str, Any], today: date, out: StandingFile) -> None:
    problems: list[str] = []
    for key, value in record.items():
        if key in COLUMNS and isinstance(value, str) and "\x00" in value:
            problems.append(f"{key} holds a NUL character")
    if problems:
        out.problems.extend((line, p) for p in problems)
        return
    doi = pmid = None
    if (raw := _text(record.get("doi"))) is not None:
        try:
            doi = normalize_doi(raw)
        except IdentifierError as exc:
            problems.append(f"doi: {exc}")
    if (raw := _text(record.get("pmid"))) is not None:
        if isinstance(record.get("pmid"), bool):
            problems.append("pmid: expected a number such as 20406167")
        else:
            try:
                pmid = normalize_pmid(raw)
            except IdentifierError as exc:
                problems.append(f"pmid: {exc}")
    if doi is None and pmid is None and not problems:
        problems.append("give the document's doi or pmid")

    standing = None
    raw = _text(record.get("standing"))
    if raw is None:
        problems.append(f"standing is missing; give one of {STANDINGS}")
    elif (standing := standing_named(raw)) is None:
        problems.append(
            f"standing '{raw}' is not one of {STANDINGS} (nor a notice's name for one, such as "
            "Retraction, Correction, Expression of concern or Reinstatement)"
        )

    since = None
    raw = _text(record.get("date"))
    if raw is not None:
        try:
            since = _date(raw)
        except ValueError:
            problems.append(f"date '{raw}' is not a date; write it as YYYY-MM-DD")
        else:
            if since > latest_allowed_since(today):
                problems.append(f"date {since.isoformat()} lies in the future")

    note = _text(record.get("note"))
    if note is not None:
        note = clean_label(note)
        if len(note) > MAX_STATEMENT:
            problems.append(f"note is {len(note)} characters; at most {MAX_STATEMENT} are allowed")

    if problems:
        out.problems.extend((line, p) for p in problems)
        return
    assert standing is not None
    out.rows.append(StandingRow(line, doi, pmid, standing, since, note, "note" in record))


def _date(text: str) -> date:
    """YYYY-MM-DD, or an ISO timestamp whose date is taken (2020-01-31T00:00:00Z)."""
    if len(text) > 10 and text[10] in "T ":
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    return date.fromisoformat(text)
