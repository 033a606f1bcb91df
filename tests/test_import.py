"""`claimsdb import`: claim records from JSON Lines or CSV/TSV into review (DRAFT or SUBMITTED,
never ACCEPTED), through the one validator; every bad input a reject with its file, line, field
and code, never a traceback; all or nothing unless --keep-going; --dry-run writes nothing;
re-running adds nothing; audited."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from test_cli import ainvoke

from api.settings import Settings
from api.store.db import Database
from schema.flat import COLUMNS, record_rows
from schema.tables import AuditEvent, Claim

BASE: dict[str, Any] = {
    "statement": "MIF in CSF is lower in treatment-naive CIS (import test).",
    "source": "10.1016/j.jns.2022.120320",
    "target": "MIF",
    "outcome": "CSF MIF level",
    "direction": "DECREASES",
    "modality": "ASSERTED",
    "evidenceType": "OBSERVATIONAL",
    "organism": "Homo sapiens",
    "condition": "clinically isolated syndrome",
    "evidence": [{"quote": "MIF was significantly decreased", "locator": "Abstract"}],
}


def record(n: int, **changes: Any) -> dict[str, Any]:
    """A new claim (its sample type makes it a finding of its own)."""
    return {**BASE, "sampleType": f"import test {n}", **changes}


def write_jsonl(path: Path, records: list[dict[str, Any]], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records) + tail)
    return path


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        rows = await session.execute(sa.select(Claim.status, sa.func.count()).group_by(Claim.status))
        return {str(getattr(status, "value", status)): n for status, n in rows.all()}


@pytest.fixture
async def curator(settings: Settings, seeded_db: Database) -> str:
    result = await ainvoke(["users", "add", "importer", "--role", "curator"], settings)
    assert result.exit_code == 0, result.output
    return "importer"


def rejects_of(result: Result) -> list[str]:
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.strip()]


async def test_imports_enter_as_drafts_and_rerunning_adds_nothing(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    before = await counts(seeded_db)
    path = write_jsonl(tmp_path / "claims.jsonl", [record(n) for n in range(3)] + [record(0)])
    result = await ainvoke(["import", str(path), "--user", curator], settings)
    assert result.exit_code == 0, result.output
    assert "imported 3 claims as DRAFT" in result.stdout and "1 duplicate " in result.stdout
    after = await counts(seeded_db)
    assert after.get("DRAFT", 0) == before.get("DRAFT", 0) + 3
    assert after["ACCEPTED"] == before["ACCEPTED"]

    again = await ainvoke(["import", str(path), "--user", curator], settings)
    assert again.exit_code == 0 and "imported 0 claims" in again.stdout and "4 duplicates" in again.stdout
    assert await counts(seeded_db) == after

    async with seeded_db.read() as session:
        created = await session.scalars(
            sa.select(AuditEvent.after["claims"].as_integer()).where(AuditEvent.action == "claim.bulk_import")
        )  # fmt: skip
    assert created.all() == [3], "the imported claims' creation is audited (one event per chunk)"
    verify = await ainvoke(["audit", "verify"], settings)
    assert verify.exit_code == 0, verify.output


async def test_submit_enters_for_review_and_nothing_is_ever_accepted(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    before = await counts(seeded_db)
    path = write_jsonl(tmp_path / "c.jsonl", [record(1), record(2, submit=True)])
    result = await ainvoke(["import", str(path), "--user", curator, "--submit"], settings)
    assert result.exit_code == 0, result.output
    after = await counts(seeded_db)
    assert (
        after.get("SUBMITTED", 0) == before.get("SUBMITTED", 0) + 2
        and after["ACCEPTED"] == before["ACCEPTED"]
    )

    sneaky = write_jsonl(tmp_path / "s.jsonl", [record(3, status="ACCEPTED")])
    refused = await ainvoke(["import", str(sneaky), "--user", curator], settings)
    assert refused.exit_code == 1
    assert any("status" in line for line in rejects_of(refused))
    assert await counts(seeded_db) == after


async def test_a_reader_may_not_import(settings: Settings, seeded_db: Database, tmp_path: Path) -> None:
    await ainvoke(["users", "add", "looker", "--role", "reader"], settings)
    path = write_jsonl(tmp_path / "c.jsonl", [record(1)])
    result = await ainvoke(["import", str(path), "--user", "looker"], settings)
    assert result.exit_code == 1 and "curator role" in result.stderr
    nobody = await ainvoke(["import", str(path), "--user", "nobody"], settings)
    assert nobody.exit_code == 1 and "no active user 'nobody'" in nobody.stderr


BAD_JSONL = {
    "non-UTF-8": (b'{"statement": "caf\xe9"}\n', "not UTF-8"),
    "truncated last line": (b'{"statement": "cut', "cut short"),
    "10 MB line": (b'{"statement": "' + b"x" * (10 * 1024 * 1024) + b'"}\n', "longer than"),
    "not an object": (b"[1, 2]\n", "JSON object"),
    "not JSON": (b"{statement: x}\n", "not JSON"),
}


@pytest.mark.parametrize("case", list(BAD_JSONL))
async def test_bad_lines_are_rejected_with_their_line_and_nothing_is_written(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path, case: str
) -> None:
    bad, words = BAD_JSONL[case]
    path = write_jsonl(tmp_path / "c.jsonl", [record(1), record(2)], tail=bad)
    before = await counts(seeded_db)
    result = await ainvoke(["import", str(path), "--user", curator], settings)
    assert result.exit_code == 1, result.output
    lines = rejects_of(result)
    assert len(lines) == 1 and lines[0].startswith(f"{path}:3:") and words in lines[0], lines
    assert "nothing written" in result.stdout
    assert await counts(seeded_db) == before


@pytest.mark.parametrize(
    "change, field, code, words",
    [
        ({"target": "NOT-A-TARGET"}, "target", "NOT_FOUND", "NOT-A-TARGET"),
        ({"source": "10.1016/does-not-exist-9"}, "source", "NOT_FOUND", "10.1016/does-not-exist-9"),
        ({"source": "doi:10.bad"}, "source", "NOT_FOUND", "10.bad"),
        ({"evidence": [{"quote": ""}]}, "evidence.0.quote", "INVALID", "quote"),
        ({"direction": "UPWARDS"}, "direction", "INVALID", "UPWARDS"),
    ],
)
async def test_refused_records_name_line_field_and_code(
    settings: Settings,
    seeded_db: Database,
    curator: str,
    tmp_path: Path,
    change: dict,
    field: str,
    code: str,
    words: str,
) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [record(1), record(2, **change)])
    rejects = tmp_path / "rejects.jsonl"
    before = await counts(seeded_db)
    result = await ainvoke(["import", str(path), "--user", curator, "--rejects", str(rejects)], settings)
    assert result.exit_code == 1, result.output
    [line] = rejects_of(result)
    assert line.startswith(f"{path}:2: {field}: {code}:") and words in line, line
    [written] = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert written == {
        "file": str(path),
        "line": 2,
        "field": field,
        "code": code,
        "message": written["message"],
    }
    assert await counts(seeded_db) == before


async def test_keep_going_keeps_the_valid_records_and_dry_run_writes_nothing(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [record(1), record(2, target="NOPE"), record(3)])
    before = await counts(seeded_db)
    dry = await ainvoke(["import", str(path), "--user", curator, "--dry-run"], settings)
    assert dry.exit_code == 1 and "dry run: 2 claims would be imported" in dry.stdout
    clean = write_jsonl(tmp_path / "ok.jsonl", [record(1)])
    dry = await ainvoke(["import", str(clean), "--user", curator, "--dry-run"], settings)
    assert dry.exit_code == 0 and "nothing written" in dry.stdout
    assert await counts(seeded_db) == before

    kept = await ainvoke(["import", str(path), "--user", curator, "--keep-going"], settings)
    assert kept.exit_code == 1 and "imported 2 claims" in kept.stdout
    assert (await counts(seeded_db)).get("DRAFT", 0) == before.get("DRAFT", 0) + 2


def write_table(path: Path, records: list[dict[str, Any]], delimiter: str = ",", columns=COLUMNS) -> Path:  # type: ignore[no-untyped-def]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(columns)
        for n, r in enumerate(records):
            for row in record_rows(f"k{n}", r):
                writer.writerow([dict(zip(COLUMNS, row, strict=True))[c] for c in columns])
    return path


async def test_csv_and_tsv_rows_sharing_a_key_form_one_claim(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    two_quotes = record(
        1, evidence=[{"quote": "first quote"}, {"quote": "second quote", "stance": "DISPUTES"}]
    )
    path = write_table(tmp_path / "c.csv", [two_quotes, record(2)])
    result = await ainvoke(["import", str(path), "--user", curator], settings)
    assert result.exit_code == 0, result.output
    assert "imported 2 claims" in result.stdout
    async with seeded_db.read() as session:
        claim_id = await session.scalar(sa.select(Claim.id).where(Claim.sample_type == "import test 1"))
        quotes = await session.scalar(
            sa.text("SELECT count(*) FROM evidence WHERE claim_id = :c"), {"c": claim_id}
        )
    assert quotes == 2
    tsv = write_table(tmp_path / "c.tsv", [record(3)], delimiter="\t")
    result = await ainvoke(["import", str(tsv), "--user", curator], settings)
    assert result.exit_code == 0 and "imported 1 claim " in result.stdout, result.output


async def test_csv_header_problems_and_bad_rows(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    before = await counts(seeded_db)
    missing = write_table(tmp_path / "m.csv", [record(1)], columns=[c for c in COLUMNS if c != "outcome"])
    result = await ainvoke(["import", str(missing), "--user", curator], settings)
    [line] = rejects_of(result)
    assert result.exit_code == 1 and line.startswith(f"{missing}:1: outcome: INVALID:") and "missing" in line

    unknown = tmp_path / "u.csv"
    unknown.write_text(
        write_table(tmp_path / "x.csv", [record(1)])
        .read_text()
        .replace("evidence.quote", "evidence.qoute", 1)
    )
    result = await ainvoke(["import", str(unknown), "--user", curator], settings)
    lines = rejects_of(result)
    assert result.exit_code == 1 and any("unknown column 'evidence.qoute'" in x for x in lines)

    wrong = record(2, evidence=[{"quote": "one"}, {"quote": ""}])
    rows = write_table(tmp_path / "r.csv", [record(1), wrong])
    result = await ainvoke(["import", str(rows), "--user", curator], settings)
    [line] = rejects_of(result)
    assert line.startswith(f"{rows}:4: evidence.1.quote: INVALID:"), line  # the second quote's own row

    raw = tmp_path / "bytes.csv"
    raw.write_bytes(
        write_table(tmp_path / "y.csv", [record(1)])
        .read_bytes()
        .replace(b"first", b"f\xffrst")
        .replace(b"MIF was", b"MIF w\xffs")
    )
    result = await ainvoke(["import", str(raw), "--user", curator], settings)
    [line] = rejects_of(result)
    assert line.startswith(f"{raw}:2:") and "not UTF-8" in line
    assert await counts(seeded_db) == before
