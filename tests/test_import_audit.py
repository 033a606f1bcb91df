"""`claimsdb import` audits a chunk of claims with one event ("claim.bulk_import") that records a
digest of each claim's content: `claimsdb audit verify` still proves every imported claim
unchanged (and names one changed in SQL behind the log's back), and each claim's history shows
that event as its creation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_cli import ainvoke
from test_import import BASE

from api.importing import import_files
from api.settings import Settings
from api.store.commands.lifecycle import submit_claim
from api.store.db import Database
from api.store.queries.audit import AuditFilterSpec, audit_page
from api.store.queries.audit_chain import entities_verified
from api.store.queries.pagination import PageRequest
from api.store.queries.users import actor_by_name
from schema.tables import AuditEvent, Claim

RECORD = {
    **BASE,
    "statement": "MIF in CSF is lower in treatment-naive CIS (import audit test).",
    "statistics": {"effectSize": 2, "effectMeasure": "fold change", "pValue": 0.01},
}


async def _import(settings: Settings, db: Database, tmp_path: Path, n: int = 4) -> list[int]:
    added = await ainvoke(["users", "add", "importer", "--role", "curator"], settings)
    assert added.exit_code == 0, added.output
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps({**RECORD, "sampleType": f"audit test {i}"}) + "\n" for i in range(n)))
    summary = await import_files(db, "importer", [path], batch=3)  # `claimsdb import`'s own call
    assert summary.committed and summary.inserted == n, summary
    async with db.read() as session:
        ids = (await session.scalars(sa.select(Claim.id).where(Claim.sample_type.like("audit test %")))).all()
    assert len(ids) == n
    return sorted(ids)


async def test_one_event_per_chunk_and_each_claim_shows_it_as_its_creation(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    ids = await _import(settings, seeded_db, tmp_path)
    async with seeded_db.read() as session:
        events = (
            await session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "claim.bulk_import").order_by(AuditEvent.id)
            )
        ).all()
        assert [e.after["claims"] for e in events] == [3, 1], "one event per chunk of 3"
        assert not (
            await session.scalars(sa.select(AuditEvent.id).where(AuditEvent.entity_id.in_(ids[1:3])))
        ).all(), "no event per claim"
        for claim_id in ids:
            page = await audit_page(
                session, AuditFilterSpec(entity_type="Claim", entity_id=claim_id), PageRequest(first=10),
                seeded_db.read, newest_first=False,
            )  # fmt: skip
            assert [e.action for e in page.rows] == ["claim.bulk_import"], f"claim {claim_id}'s history"
            assert claim_id in range(page.rows[0].after["ids"][0][0], page.rows[0].after["ids"][-1][1] + 1)
    verify = await ainvoke(["audit", "verify"], settings)
    assert verify.exit_code == 0, verify.output


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE claim SET statement = 'Something else entirely.' WHERE id = :id",
        "UPDATE claim SET p_value = 0.5 WHERE id = :id",
        "UPDATE claim SET status = 'ACCEPTED' WHERE id = :id",
        "UPDATE evidence SET quote = 'MIF was not decreased' WHERE claim_id = :id",
    ],
    ids=["statement", "p_value", "status", "quote"],
)
async def test_audit_verify_names_an_imported_claim_changed_in_sql(
    settings: Settings, seeded_db: Database, tmp_path: Path, tamper: str
) -> None:
    ids = await _import(settings, seeded_db, tmp_path)
    victim = ids[1]  # not the first of its chunk: the event is filed under another claim's id
    async with seeded_db.engine.begin() as connection:
        await connection.execute(sa.text(tamper), {"id": victim})
    verify = await ainvoke(["audit", "verify"], settings)
    assert verify.exit_code == 1, verify.output
    assert f"claim {victim}, created by this import event, no longer matches it" in verify.output
    assert "Traceback" not in verify.output


async def test_a_claim_changed_through_a_command_later_still_verifies(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    """A later audited change carries the claim's content from then on: not a tampering."""
    ids = await _import(settings, seeded_db, tmp_path)
    async with seeded_db.read() as session:
        actor = await actor_by_name(session, "importer")
    assert actor is not None
    async with seeded_db.write(actor) as w:
        await submit_claim(w, ids[1], expected_version=1)
    verify = await ainvoke(["audit", "verify"], settings)
    assert verify.exit_code == 0, verify.output


async def test_claim_audit_verified_checks_an_imported_claim_against_its_chunk_event(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    """What Claim.auditVerified reads (entities_verified): true for imported claims as they
    were imported, false for the one changed in SQL, and only for it."""
    ids = await _import(settings, seeded_db, tmp_path)
    async with seeded_db.read() as session:
        assert set((await entities_verified(session, "Claim", ids)).values()) == {None}
    async with seeded_db.engine.begin() as connection:
        tamper = sa.text("UPDATE evidence SET locator = 'Methods' WHERE claim_id = :id")
        await connection.execute(tamper, {"id": ids[1]})
    async with seeded_db.read() as session:
        found = await entities_verified(session, "Claim", ids)
    assert [claim_id for claim_id, broken in found.items() if broken is not None] == [ids[1]]
    assert f"claim {ids[1]} no longer matches its import event" in found[ids[1]].reason
