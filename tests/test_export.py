"""`claimsdb export`: the claims as records (docs/records.md) in JSON Lines, CSV and Parquet, from
one snapshot, in chunks; CSV cells that would start a spreadsheet formula are neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from test_cli import ainvoke, assert_one_line_error

from api.exports import write_csv
from api.settings import Settings
from api.store.db import Database
from api.store.export import claim_records
from schema.enums import ClaimStatus
from schema.flat import COLUMNS, neutralised
from schema.records import ClaimRecord
from schema.tables import Claim
from schema.validation import parse_record


async def _accepted(db: Database) -> int:
    async with db.read() as session:
        statement = sa.select(sa.func.count()).select_from(Claim).where(Claim.status == ClaimStatus.ACCEPTED)
        return int(await session.scalar(statement) or 0)


async def test_jsonl_export_is_one_valid_record_per_accepted_claim(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    out = tmp_path / "claims.jsonl"
    result = await ainvoke(["export", "--format", "jsonl", "--out", str(out)], settings)
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == await _accepted(seeded_db) > 0
    for line in lines:
        record, errors = parse_record(ClaimRecord, json.loads(line))
        assert errors == [] and record is not None, line
    mif = [json.loads(line) for line in lines if json.loads(line).get("target") == "MIF"]
    assert mif, "the seeds have MIF claims; a subject is exported by its symbol"


async def test_small_chunks_give_the_same_records(seeded_db: Database) -> None:
    async with seeded_db.snapshot() as session:
        whole = [r async for chunk in claim_records(session) for r in chunk]
        chunked = [r async for chunk in claim_records(session, chunk=7) for r in chunk]
    assert whole == chunked and len(whole) > 7


async def test_status_filter(settings: Settings, seeded_db: Database, tmp_path: Path) -> None:
    out = tmp_path / "drafts.jsonl"
    result = await ainvoke(["export", "--status", "draft", "--out", str(out)], settings)
    assert result.exit_code == 0, result.output
    assert out.read_text() == ""  # the seeds are all accepted


async def test_csv_and_parquet_hold_the_same_claims(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    for fmt in ("csv", "parquet"):
        result = await ainvoke(["export", "--format", fmt, "--out", str(tmp_path / f"c.{fmt}")], settings)
        assert result.exit_code == 0, result.output
    accepted = await _accepted(seeded_db)
    with (tmp_path / "c.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == COLUMNS
    assert len({row[0] for row in rows[1:]}) == accepted
    table = pq.read_table(tmp_path / "c.parquet")
    assert table.num_rows == accepted
    assert sum(len(e) for e in table.column("evidence").to_pylist()) == len(rows) - 1


async def test_parquet_needs_a_file(settings: Settings, db: Database) -> None:
    result = await ainvoke(["export", "--format", "parquet"], settings)
    assert_one_line_error(result, "--out")


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert neutralised(cell) == "'" + cell
    assert neutralised("IL-6R " + cell) == "IL-6R " + cell  # only the start matters


async def test_csv_export_neutralises_every_cell() -> None:
    record: dict[str, Any] = {
        "statement": "=cmd|' /C calc'!A0",
        "source": "10.1000/x",
        "target": "@IL6R",
        "outcome": "-relapse",
        "direction": "DECREASES",
        "modality": "ASSERTED",
        "evidenceType": "OBSERVATIONAL",
        "organism": "Homo sapiens",
        "evidence": [{"quote": "+quote", "locator": "\tp. 4", "stance": "SUPPORTS"}],
    }

    async def chunks() -> AsyncIterator[list[dict[str, Any]]]:
        yield [record]

    buffer = io.BytesIO()
    assert await write_csv(chunks(), buffer) == 1
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue().decode())))
    assert rows[0]["statement"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["target"] == "'@IL6R" and rows[0]["outcome"] == "'-relapse"
    assert rows[0]["evidence.quote"] == "'+quote" and rows[0]["evidence.locator"] == "'\tp. 4"
    assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in rows[0].values())
