"""A claim record as table rows (CSV/TSV): one row per evidence quote, rows sharing `claim_key`
forming one claim. The columns are the record's own fields (schema.records.ClaimRecord) in their
GraphQL names, a nested record's fields written `cohort.label`, `statistics.pValue`,
`evidence.quote`; they are derived from the model, so the table format cannot drift from it.

A claim's `source` (and `evidence.source`) is one column holding a reference. A source given in
full (schema.records.SourceGiven) has no columns: its authors are a list and its derivedFrom a
reference of its own, neither of which a cell holds unambiguously, so that form is JSON Lines'.

Empty cells are absent values. A claim's own columns are read from its first row; every row
carries them (so a file sorted or filtered by a spreadsheet still reads), and rows of one claim
that disagree on them are reported rather than silently merged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schema.records import ClaimRecord, CohortRecord, EvidenceRecord, Record, StatisticsRecord

CLAIM_KEY = "claim_key"
# Fields of the record that are not data (an import's --submit decides the status; a note is
# documentation only).
_NOT_COLUMNS = frozenset({"submit", "note"})
_NESTED: dict[str, type[Record]] = {
    "cohort": CohortRecord,
    "comparator": CohortRecord,
    "statistics": StatisticsRecord,
    "evidence": EvidenceRecord,
}


def _alias(model: type[Record], name: str) -> str:
    return model.model_fields[name].alias or name


def _columns() -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Every column, and for each nested record its columns' field names."""
    out = [CLAIM_KEY]
    nested: dict[str, tuple[str, ...]] = {}
    for name in ClaimRecord.model_fields:
        alias = _alias(ClaimRecord, name)
        if name in _NOT_COLUMNS:
            continue
        if alias in _NESTED:
            model = _NESTED[alias]
            fields = tuple(_alias(model, n) for n in model.model_fields if n not in _NOT_COLUMNS)
            nested[alias] = fields
            out.extend(f"{alias}.{f}" for f in fields)
        else:
            out.append(alias)
    return tuple(out), nested


COLUMNS, _NESTED_FIELDS = _columns()
REQUIRED_COLUMNS = (CLAIM_KEY, "statement", "source", "outcome", "direction", "modality", "evidenceType",
                    "organism", "evidence.quote")  # fmt: skip
CLAIM_COLUMNS = tuple(c for c in COLUMNS if not c.startswith("evidence.") and c != CLAIM_KEY)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def record_rows(key: str, record: Mapping[str, Any]) -> list[list[str]]:
    """The rows of one claim record (a mapping in GraphQL field names, as exported)."""
    claim: list[str] = []
    for column in CLAIM_COLUMNS:
        head, _, tail = column.partition(".")
        value = record.get(head)
        claim.append(_cell(value.get(tail) if tail and value is not None else value))
    rows = []
    for evidence in record.get("evidence") or ():
        quote = [_cell(evidence.get(f)) for f in _NESTED_FIELDS["evidence"]]
        rows.append([key, *claim, *quote])
    return rows


def missing_columns(header: Sequence[str]) -> list[str]:
    return [c for c in REQUIRED_COLUMNS if c not in header]


def unknown_columns(header: Sequence[str]) -> list[str]:
    return [c for c in header if c not in COLUMNS]


def record_from_rows(rows: Sequence[Mapping[str, str]]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The claim record (data, for schema.validation.parse_record) the rows of one claim_key
    make, and the columns (with a message) on which a later row disagrees with the first."""
    first = rows[0]
    data: dict[str, Any] = {}
    for column in CLAIM_COLUMNS:
        value = (first.get(column) or "").strip()
        if not value:
            continue
        head, _, tail = column.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = value
        else:
            data[head] = value
    disagreements = [
        (column, f"differs from the claim's first row ('{first.get(column) or ''}')")
        for row in rows[1:]
        for column in CLAIM_COLUMNS
        if (row.get(column) or "").strip() != (first.get(column) or "").strip()
    ]
    evidence = []
    for row in rows:
        quote = {
            f: (row.get(f"evidence.{f}") or "").strip()
            for f in _NESTED_FIELDS["evidence"]
            if (row.get(f"evidence.{f}") or "").strip()
        }
        evidence.append(quote)
    data["evidence"] = evidence
    return data, disagreements


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection, OWASP).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: str) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading `'`."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell
