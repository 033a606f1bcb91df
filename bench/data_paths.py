"""I1 and E1: the data paths (issue 15) at scale, each beside a hand-written baseline in the same run.

E1 exports the database's accepted claims as JSON Lines the way `claimsdb export` does
(api.exports.write_claims: chunks from one snapshot, each line written by the database). Its baseline is
one plain SELECT of the same claims with their names and one of their quotes, on the driver's own
connection, written with orjson: no chunking, no record building beyond the dict.

I1 imports those claims back through `claimsdb import`'s path (api.importing.import_files: read,
validate, resolve, skip repeats, insert, an audit event per chunk with a digest of each claim),
each given a new sample type so it is a new finding. It runs as --dry-run: everything an import
does but the final COMMIT, so the benchmark database is the same afterwards. Its baseline
inserts the same claims and quotes into the same tables on the driver's connection (executemany
on SQLite, COPY on PostgreSQL) with names looked up in dicts and no validation, no audit, and is
rolled back too.

Both report claims per second and the growth of the process's resident memory while they run
(sampled every 20 ms): the goals say memory must not grow with the number of claims.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from api.exports import write_claims
from api.importing import import_files
from api.store.commands.users import system_user
from api.store.db import Database
from schema.enums import ClaimStatus, Role
from schema.users import Actor

DATA_PATHS = {
    "I1": "import N claims from JSON Lines (validated, audited)",
    "E1": "export accepted claims as JSON Lines",
}
BENCH_IMPORTER = "bench-importer"
_PAGE = 4096


def _rss_kib() -> int:
    with open("/proc/self/statm", "rb") as file:
        return int(file.read().split()[1]) * _PAGE // 1024


@dataclass
class Measured:
    seconds: float
    count: int
    rss_growth_kib: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "claims": self.count,
            "claims_per_s": round(self.count / self.seconds) if self.seconds else None,
            "rss_growth_kib": self.rss_growth_kib,
        }


async def measured(call: Callable[[], Awaitable[int]]) -> Measured:
    """Time one call and sample resident memory while it runs."""
    start_rss = peak = _rss_kib()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_kib())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    began = time.perf_counter()
    try:
        count = await call()
    finally:
        seconds = time.perf_counter() - began
        done.set()
        await sampler
    return Measured(seconds, count, max(0, max(peak, _rss_kib()) - start_rss))


# --- E1 -------------------------------------------------------------------------------------


async def export_claimsdb(db: Database, out: Path) -> int:
    with out.open("wb") as file:
        async with db.snapshot() as session:
            return await write_claims("jsonl", session, [ClaimStatus.ACCEPTED], file)


_E1_BASELINE = """
SELECT c.id, c.statement, t.symbol, i.name, o.name, c.direction, c.modality, c.evidence_type,
       g.scientific_name, d.name, c.sample_type, s.doi, s.pmid, c.source_id
FROM claim c
JOIN source s ON s.id = c.source_id
JOIN outcome o ON o.id = c.outcome_id
JOIN organism g ON g.id = c.organism_id
LEFT JOIN target t ON t.id = c.subject_target_id
LEFT JOIN intervention i ON i.id = c.subject_intervention_id
LEFT JOIN condition d ON d.id = c.condition_id
WHERE c.status = 'ACCEPTED'
ORDER BY c.id
"""
_E1_QUOTES = "SELECT e.claim_id, e.quote, e.locator, e.stance FROM evidence e ORDER BY e.claim_id, e.position"


async def export_baseline(db: Database, out: Path) -> int:
    """The same claims, two plain SELECTs streamed side by side, orjson per line."""
    count = 0
    async with db.read() as session:
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        sqlite = db.is_sqlite
        with out.open("wb") as file:
            if sqlite:
                claims_cursor = await raw.execute(_E1_BASELINE)
                quotes_cursor = await raw.execute(_E1_QUOTES)
                claims = _aiter_sqlite(claims_cursor)
                quotes = _aiter_sqlite(quotes_cursor)
                count = await _write_baseline(claims, quotes, file)
            else:
                async with raw.transaction():
                    claims = raw.cursor(_E1_BASELINE, prefetch=5000)
                    quotes = raw.cursor(_E1_QUOTES, prefetch=20000)
                    count = await _write_baseline(claims.__aiter__(), quotes.__aiter__(), file)
    return count


async def _aiter_sqlite(cursor: Any) -> Any:
    while rows := await cursor.fetchmany(5000):
        for row in rows:
            yield row


async def _write_baseline(claims: Any, quotes: Any, file: Any) -> int:
    count = 0
    quote = await anext(quotes, None)
    buffer: list[bytes] = []
    async for row in claims:
        claim_id = row[0]
        while quote is not None and quote[0] < claim_id:
            quote = await anext(quotes, None)
        evidence = []
        while quote is not None and quote[0] == claim_id:
            evidence.append({"quote": quote[1], "locator": quote[2], "stance": quote[3]})
            quote = await anext(quotes, None)
        record = {
            "statement": row[1],
            "source": row[11] or row[12] or row[13],
            "target": row[2],
            "intervention": row[3],
            "outcome": row[4],
            "direction": row[5],
            "modality": row[6],
            "evidenceType": row[7],
            "organism": row[8],
            "condition": row[9],
            "sampleType": row[10],
            "evidence": evidence,
        }
        buffer.append(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        count += 1
        if len(buffer) >= 5000:
            file.write(b"".join(buffer))
            buffer.clear()
    file.write(b"".join(buffer))
    return count


# --- I1 -------------------------------------------------------------------------------------


def import_input(exported: Path, out: Path, limit: int, tag: str) -> int:
    """The first `limit` exported claims, each with a sample type of its own run (new findings)."""
    count = 0
    with exported.open("rb") as source, out.open("wb") as target:
        for line in source:
            if count >= limit:
                break
            record = orjson.loads(line)
            record["sampleType"] = f"{record.get('sampleType') or ''} I1 {tag}".strip()
            target.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
            count += 1
    return count


async def importer(db: Database) -> str:
    async with db.write(Actor(None, BENCH_IMPORTER, Role.ADMIN)) as w:
        await system_user(w, BENCH_IMPORTER)  # an admin may do what a curator may
    return BENCH_IMPORTER


async def import_claimsdb(db: Database, path: Path, user: str) -> int:
    summary = await import_files(db, user, [path], dry_run=True)
    if summary.rejected:
        raise RuntimeError(f"I1: {summary.rejected} generated records were rejected")
    return summary.inserted


class _Rollback(Exception):
    pass


_BASE_CLAIM = (
    "id",
    "statement",
    "subject_target_id",
    "subject_intervention_id",
    "outcome_id",
    "direction",
    "modality",
    "evidence_type",
    "organism_id",
    "condition_id",
    "sample_type",
    "source_id",
    "status",
    "version",
    "fingerprint",
    "created_at",
    "updated_at",
)
_BASE_EVIDENCE = ("claim_id", "position", "source_id", "quote", "locator", "stance", "created_at")


async def _names(session: Any, table: str, column: str) -> dict[str, int]:
    rows = await session.execute(sa.text(f"SELECT {column}, id FROM {table}"))
    return {name: i for name, i in rows.all()}


class _Ids:
    """Claim ids a block at a time: after the largest on SQLite (under the write lock), from the
    sequence on PostgreSQL."""

    def __init__(self, raw: Any, sqlite: bool) -> None:
        self.raw, self.sqlite, self.block = raw, sqlite, []  # type: list[int]

    async def next(self) -> int:
        if not self.block:
            if self.sqlite:
                top = (await (await self.raw.execute("SELECT coalesce(max(id), 0) FROM claim")).fetchone())[0]
                self.block = list(range(top + 5000, top, -1))
            else:
                rows = await self.raw.fetch(
                    "SELECT nextval(pg_get_serial_sequence('claim', 'id')) FROM generate_series(1, 5000)"
                )
                self.block = [int(r[0]) for r in reversed(rows)]
        return self.block.pop()


async def import_baseline(db: Database, path: Path) -> int:
    """Plain inserts of the same claims and quotes (names from dicts; no validation, no audit),
    rolled back at the end like I1's dry run."""
    count = 0
    try:
        async with db.write(Actor(None, BENCH_IMPORTER, Role.ADMIN)) as w:
            s = w.session
            targets, interventions = (
                await _names(s, "target", "symbol"),
                await _names(s, "intervention", "name"),
            )
            outcomes, organisms = (
                await _names(s, "outcome", "name"),
                await _names(s, "organism", "scientific_name"),
            )
            conditions, dois = await _names(s, "condition", "name"), await _names(s, "source", "doi")
            pmids = await _names(s, "source", "pmid")
            raw = (await (await s.connection()).get_raw_connection()).driver_connection
            sqlite = db.is_sqlite
            ids = _Ids(raw, sqlite)
            now: Any = datetime.now(UTC)
            if sqlite:
                now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
            seen: set[str] = set()
            claims: list[tuple] = []
            quotes: list[tuple] = []

            async def flush() -> None:
                if sqlite:
                    marks = ", ".join("?" for _ in _BASE_CLAIM)
                    await raw.executemany(
                        f"INSERT INTO claim ({', '.join(_BASE_CLAIM)}) VALUES ({marks})", claims
                    )
                    marks = ", ".join("?" for _ in _BASE_EVIDENCE)
                    await raw.executemany(
                        f"INSERT INTO evidence ({', '.join(_BASE_EVIDENCE)}) VALUES ({marks})", quotes
                    )
                else:
                    await raw.copy_records_to_table("claim", records=claims, columns=list(_BASE_CLAIM))
                    await raw.copy_records_to_table("evidence", records=quotes, columns=list(_BASE_EVIDENCE))
                claims.clear()
                quotes.clear()

            with path.open("rb") as file:
                for line in file:
                    r = orjson.loads(line)
                    ref = r["source"]
                    source = ref if isinstance(ref, int) else dois.get(ref) or pmids.get(ref)
                    key = (
                        f"{source}|{r.get('target')}|{r.get('intervention')}|{r['outcome']}|{r['direction']}|"
                        f"{r['organism']}|{r.get('condition')}|{r.get('sampleType')}|{r.get('cohort')}"
                    )
                    fingerprint = hashlib.sha256(key.encode()).hexdigest()
                    if fingerprint in seen:
                        continue
                    seen.add(fingerprint)
                    claim_id = await ids.next()
                    claims.append(
                        (
                            claim_id,
                            r["statement"],
                            targets.get(r.get("target")),
                            interventions.get(r.get("intervention")),
                            outcomes[r["outcome"]],
                            r["direction"],
                            r["modality"],
                            r["evidenceType"],
                            organisms[r["organism"]],
                            conditions.get(r.get("condition")),
                            r.get("sampleType"),
                            source,
                            "DRAFT",
                            1,
                            fingerprint,
                            now,
                            now,
                        )
                    )
                    for position, ev in enumerate(r["evidence"]):
                        quotes.append(
                            (
                                claim_id,
                                position,
                                source,
                                ev["quote"],
                                ev.get("locator"),
                                ev.get("stance", "SUPPORTS"),
                                now,
                            )
                        )
                    count += 1
                    if len(claims) >= 5000:
                        await flush()
            await flush()
            raise _Rollback
    except _Rollback:
        pass
    return count


# --- both, as the harness runs them -----------------------------------------------------------


def _pair(ours: Measured, baseline: Measured) -> dict[str, Any]:
    return {
        **ours.as_dict(),
        "baseline": baseline.as_dict(),
        "ratio_to_baseline": round(ours.seconds / baseline.seconds, 2) if baseline.seconds else None,
    }


async def measure_data_paths(
    db: Database, chosen: list[str], claims: int, folder: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    """E1 (always run: I1 imports what it exported) and I1, on data already in `db`."""
    _make(folder)
    exported, plain, imported = folder / "e1.jsonl", folder / "e1-baseline.jsonl", folder / "i1.jsonl"
    out: dict[str, Any] = {}
    try:
        log("E1: export of the accepted claims as JSON Lines, then its baseline")
        ours = await measured(lambda: export_claimsdb(db, exported))
        baseline = await measured(lambda: export_baseline(db, plain))
        if ours.count != baseline.count:
            raise RuntimeError(f"E1 exported {ours.count} claims, its baseline {baseline.count}")
        if "E1" in chosen:
            out["E1"] = {**_pair(ours, baseline), "bytes": exported.stat().st_size}
        if "I1" in chosen:
            count = import_input(exported, imported, claims, time.strftime("%H%M%S"))
            user = await importer(db)
            log(f"I1: import of {count:,} claims through `claimsdb import` (--dry-run), then its baseline")
            ours = await measured(lambda: import_claimsdb(db, imported, user))
            baseline = await measured(lambda: import_baseline(db, imported))
            out["I1"] = {**_pair(ours, baseline), "records": count}
    finally:
        _remove(exported, plain, imported)
    return out


def _make(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
