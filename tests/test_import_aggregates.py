"""An import into a database that has claims keeps the maintained aggregates (claim_cell,
claim_group) exact: on SQLite the chunk's rows are counted in by one statement per aggregate
instead of by the per-row trigger, which is back when the import ends (or is rolled back)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from test_cli import ainvoke

from api.importing import import_files
from api.settings import Settings
from api.store.db import Database
from api.store.queries.aggregates import aggregate_differences

RECORD = {
    "source": "10.1016/j.jns.2022.120320",
    "outcome": "CSF MIF level",
    "modality": "ASSERTED",
    "evidenceType": "OBSERVATIONAL",
    "organism": "Homo sapiens",
    "condition": "clinically isolated syndrome",
    "evidence": [{"quote": "MIF was significantly decreased", "locator": "Abstract"}],
}


def _records(n: int) -> list[dict[str, object]]:
    """Claims on a target and on an intervention (whose actions give claim_target rows), in
    both directions, some in cohorts, so several aggregate keys get several rows."""
    out = []
    for i in range(n):
        subject = {"target": "MIF"} if i % 2 else {"intervention": "tocilizumab"}
        out.append({
            **RECORD, **subject, "statement": f"Aggregate test finding {i}.",
            "direction": "DECREASES" if i % 3 else "INCREASES", "sampleType": f"aggregate test {i}",
            "cohort": {"label": f"aggregate cohort {i % 4}"} if i % 4 else None,
        })  # fmt: skip
    return out


async def _triggers(db: Database) -> set[str]:
    async with db.read() as session:
        if db.is_sqlite:
            rows = await session.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = await session.scalars(sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        return set(rows.all())


async def test_an_import_into_a_database_with_claims_keeps_the_aggregates_exact(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    added = await ainvoke(["users", "add", "importer", "--role", "curator"], settings)
    assert added.exit_code == 0, added.output
    triggers = await _triggers(seeded_db)
    path = tmp_path / "claims.jsonl"
    lines = (json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in _records(40))
    path.write_text("".join(lines))

    rolled_back = await import_files(seeded_db, "importer", [path], batch=7, dry_run=True)
    assert rolled_back.inserted == 40 and not rolled_back.committed
    assert await _triggers(seeded_db) == triggers, "a dry run leaves the triggers as they were"

    summary = await import_files(seeded_db, "importer", [path], batch=7)
    assert summary.committed and summary.inserted == 40 and not summary.rejected, summary
    async with seeded_db.read() as session:
        assert [d.describe() for d in await aggregate_differences(session)] == []
    assert await _triggers(seeded_db) == triggers, "the insert trigger is back after the import"
    check = await ainvoke(["db", "check"], settings)
    assert check.exit_code == 0, check.output
