"""bench/data_paths.py (I1, E1) on a small generated database: both run with their baselines in the
same run, their counts agree, and I1 (a dry run) leaves the database as it was."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from api.store.db import Database
from bench.data_paths import measure_data_paths
from bench.generate import generate
from schema.tables import Claim

CLAIMS = 300


async def _claims(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Claim)) or 0)


async def test_import_and_export_paths_run_beside_their_baselines(db: Database, tmp_path: Path) -> None:
    await generate(db, CLAIMS)
    before = await _claims(db)
    report = await measure_data_paths(db, ["I1", "E1"], CLAIMS, tmp_path / "work", lambda _m: None)
    e1, i1 = report["E1"], report["I1"]
    assert 0 < e1["claims"] <= CLAIMS and e1["baseline"]["claims"] == e1["claims"] and e1["bytes"] > 0
    assert i1["records"] == e1["claims"] and 0 < i1["claims"] <= i1["records"]
    assert i1["baseline"]["claims"] >= i1["claims"] > 0
    for row in (e1, i1):
        assert row["ratio_to_baseline"] > 0 and row["claims_per_s"] > 0 and row["rss_growth_kib"] >= 0
    assert await _claims(db) == before, "I1 runs as a dry run and its baseline is rolled back"
    assert not any((tmp_path / "work").iterdir()), "the working files are removed"
