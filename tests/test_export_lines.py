"""JSON Lines written by the database (api/store/record_lines.py) are byte for byte what orjson
writes of the records api/store/export.py builds in Python (docs/records.md), on the seeds and
on claims made to hit every edge: no quotes, cohort and comparator with and without their optional
fields, statistics (floats orjson and the databases write differently, some fields unset), an
intervention subject, sources named by DOI, PMID or id, a quote from another
source, non-ASCII text, quotes, backslashes and control characters (among them the marker byte)."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.exports import write_claims, write_jsonl
from api.store.db import Database
from api.store.export import claim_records
from api.store.record_lines import claim_lines
from schema.enums import ClaimStatus, EvidenceType, Modality, SourceKind, Stance
from schema.tables import Claim, Cohort, Condition, Evidence, Intervention, Organism, Outcome, Source, Target

ALL = tuple(ClaimStatus)


async def _both_routes(db: Database, statuses: tuple[ClaimStatus, ...], chunk: int) -> tuple[bytes, bytes]:
    """(Python-built, database-built) JSON Lines of the claims in `statuses`, from one snapshot."""
    async with db.snapshot() as session:
        python = io.BytesIO()
        await write_jsonl(claim_records(session, statuses, chunk=chunk), python)
        database = b"".join([lines async for lines, _ in claim_lines(session, statuses, chunk=chunk)])
    return python.getvalue(), database


@pytest.mark.parametrize("chunk", [5000, 7])
async def test_seeded_claims_are_the_same_bytes_both_ways(seeded_db: Database, chunk: int) -> None:
    python, database = await _both_routes(seeded_db, ALL, chunk)
    assert python.count(b"\n") > 7
    assert database == python


async def test_write_claims_counts_what_it_writes(seeded_db: Database) -> None:
    out = io.BytesIO()
    async with seeded_db.snapshot() as session:
        count = await write_claims("jsonl", session, [ClaimStatus.ACCEPTED], out)
    assert count == out.getvalue().count(b"\n") > 0


NASTY_TEXT = 'é 中文 😀 "quoted" back\\slash \x01 marker\ttab\nnew line \x1f \u2028 \x7f'
FLOATS = [(1e-05, None, 0.30000000000000004, -0.0, 1e16), (100.0, "odds ratio", 5e-324, None, None),
          (None, "SMD", None, None, None), (-1.5e-300, None, 1.0, 1e15, 1.2345678901234568e17)]  # fmt: skip


async def _first_id(session: AsyncSession, table: Any) -> int:
    return int(await session.scalar(sa.select(table.id).order_by(table.id).limit(1)) or 0)


async def _edge_claims(db: Database) -> int:
    """Draft claims covering the edges above; returns how many."""
    async with AsyncSession(db.engine, expire_on_commit=False) as session, session.begin():
        target, intervention = await _first_id(session, Target), await _first_id(session, Intervention)
        outcome, organism = await _first_id(session, Outcome), await _first_id(session, Organism)
        condition = await _first_id(session, Condition)
        sources = [
            Source(kind=SourceKind.PRIMARY_RESEARCH, title="doi", doi="10.9999/edge.1"),
            Source(kind=SourceKind.PRIMARY_RESEARCH, title="pmid", pmid="99999991"),
            Source(kind=SourceKind.PRIMARY_RESEARCH, title="id only"),
            Source(kind=SourceKind.PRIMARY_RESEARCH, title="url", url="https://example.org/édition"),
        ]
        session.add_all(sources)
        await session.flush()
        full = Cohort(source_id=sources[0].id, label=NASTY_TEXT, organism_id=organism, condition_id=condition,
                      size=120, female_count=0, treatment_status="naïve", sample_type="CSF")  # fmt: skip
        bare = Cohort(source_id=sources[0].id, label="controls", organism_id=organism)
        session.add_all([full, bare])
        await session.flush()
        claims = []
        for n in range(8):
            source = sources[n % len(sources)]
            stats = FLOATS[n % len(FLOATS)] if n % 3 != 1 else (None,) * 5
            claim = Claim(
                statement=f"{NASTY_TEXT} {n}" if n % 2 else f"plain statement {n}",
                subject_target_id=None if n % 4 == 3 else target,
                subject_intervention_id=intervention if n % 4 == 3 else None,
                outcome_id=outcome, direction="INCREASES" if n % 2 else "NO_EFFECT",
                modality=list(Modality)[n % len(Modality)],
                evidence_type=list(EvidenceType)[n % len(EvidenceType)],
                organism_id=organism, condition_id=condition if n % 2 else None,
                cohort_id=full.id if source is sources[0] else None,
                comparator_id=bare.id if source is sources[0] and n % 8 == 0 else None,
                sample_type="serum \\ plasma" if n % 3 == 0 else None,
                effect_size=stats[0], effect_measure=stats[1], p_value=stats[2],
                ci_low=stats[3], ci_high=stats[4],
                source_id=source.id, status=ClaimStatus.DRAFT, fingerprint=f"edge-{n}",
            )  # fmt: skip
            session.add(claim)
            claims.append(claim)
        await session.flush()
        for n, claim in enumerate(claims):
            for position in range(n % 3):  # 0, 1 or 2 quotes
                quoted = sources[(n + position) % len(sources)]
                session.add(Evidence(
                    claim_id=claim.id, position=position, source_id=quoted.id,
                    quote=f"{NASTY_TEXT} q{position}", locator="p. 4" if position else None,
                    stance=Stance.DISPUTES if position else Stance.SUPPORTS,
                ))  # fmt: skip
    return len(claims)


@pytest.mark.parametrize("chunk", [5000, 3])
async def test_edge_cases_are_the_same_bytes_both_ways(seeded_db: Database, chunk: int) -> None:
    count = await _edge_claims(seeded_db)
    python, database = await _both_routes(seeded_db, (ClaimStatus.DRAFT,), chunk)
    assert database == python
    records = [orjson.loads(line) for line in database.splitlines()]
    assert len(records) == count
    assert {type(r["source"]) for r in records} == {str, int}  # a source without DOI or PMID: its id
    assert {"10.9999/edge.1", "99999991"} <= {r["source"] for r in records}
    assert any(r["evidence"] == [] for r in records) and any("intervention" in r for r in records)
    assert any(set(r.get("comparator", {})) == {"label"} for r in records)
    assert any(r.get("statistics") == {"effectMeasure": "SMD"} for r in records)
    assert [r["statistics"]["pValue"] for r in records if "pValue" in r.get("statistics", {})] == [
        0.30000000000000004, 1.0, 5e-324,
    ]  # fmt: skip
    assert NASTY_TEXT.encode() not in database  # escaped as orjson escapes it...
    assert orjson.dumps(NASTY_TEXT) in database  # ...and its non-ASCII written as UTF-8


async def test_every_reader_reads_the_session_snapshot(seeded_db: Database) -> None:
    """On PostgreSQL a helper connection reads every other chunk (api/store/snapshot_readers.py):
    a change committed after the export's snapshot was taken reaches none of them."""
    accepted = Claim.status == ClaimStatus.ACCEPTED
    async with seeded_db.snapshot() as session:
        assert await session.scalar(sa.select(sa.func.count()).where(accepted))  # the snapshot is taken
        async with seeded_db.engine.begin() as other:
            changed = sa.update(Claim).where(accepted).values(statement=Claim.statement + " (changed)")
            await other.execute(changed)
        database = b"".join([lines async for lines, _ in claim_lines(session, chunk=3)])
        python = io.BytesIO()
        await write_jsonl(claim_records(session, chunk=3), python)
    assert database == python.getvalue() and database.count(b"\n") > 6
    assert b"(changed)" not in database
