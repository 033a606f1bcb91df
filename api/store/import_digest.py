"""What a bulk import's chunk event ("claim.bulk_import") commits to, and the check that the claims
it created are still what it recorded.

An event per claim ("claim.create" with the claim's full content) costs a quarter of an import;
one event per chunk costs almost nothing, but must still let `claimsdb audit verify` prove every
imported claim unchanged and name the one that was not. So the chunk event records, for each of
its claims in id order, a short digest of the claim's content: the columns createClaim's
"claim.create" event records (api.store.commands.claims.claim_snapshot), its status and version,
and its quotes. The event is in the hash chain, so the digests cannot be edited without breaking
it; verify recomputes each digest from the claim's row and quotes as they are now.

A claim changed since through a command (an edit, a review) has later events of its own in the
chain, which carry its content from then on; only claims whose one event is still their chunk's
are compared (a change made in SQL adds no event, so it is found).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from schema.tables import AuditEvent

ACTION = "claim.bulk_import"
# The event's key holding the digests, in the order of the claim ids its "ids" runs give.
DIGESTS = "content_sha256"
# 128 bits of SHA-256 per claim: collisions are out of reach, and a chunk of 5,000 claims' event
# stays ~170 KB of JSON rather than ~5 MB of full content.
_DIGEST_HEX = 32
# Chunk events looked at for a claim's creating event (see creating_event).
_INTERLEAVED = 4

# The hashed claim columns: claim_snapshot's fields, then status and version (bulk.py writes
# them in this order; the values are what the row stores).
CLAIM_COLUMNS = (
    "statement", "subject_target_id", "subject_intervention_id", "outcome_id", "direction", "modality",
    "evidence_type", "organism_id", "condition_id", "cohort_id", "comparator_id", "sample_type",
    "effect_size", "effect_measure", "p_value", "ci_low", "ci_high", "source_id", "status", "version",
)  # fmt: skip
EVIDENCE_COLUMNS = ("position", "source_id", "quote", "locator", "stance")
# Float columns: a record's 2 is stored (and read back) as 2.0, so both are hashed as floats.
_FLOATS = tuple(CLAIM_COLUMNS.index(c) for c in ("effect_size", "p_value", "ci_low", "ci_high"))


def claim_digest(values: Sequence[Any], evidence: Iterable[Sequence[Any]]) -> str:
    """The digest of a claim: `values` in CLAIM_COLUMNS order, its quotes' EVIDENCE_COLUMNS in
    position order. JSON of plain values (strings, ints, floats, null): the same bytes whether
    the values come from a record being imported or from either database's rows."""
    plain = list(values)
    for i in _FLOATS:
        if plain[i] is not None:
            plain[i] = float(plain[i])
    document = orjson.dumps([plain, [list(ev) for ev in evidence]])
    return hashlib.sha256(document).hexdigest()[:_DIGEST_HEX]


def claim_ids(runs: Iterable[Sequence[int]]) -> list[int]:
    """The ids of an event's [[first, last], ...] runs, in order."""
    return [i for first, last in runs for i in range(first, last + 1)]


async def changed_claims(
    session: AsyncSession, event_id: int, after: dict[str, Any]
) -> list[tuple[int, str]]:
    """(claim id, why) for each claim a chunk event created whose content no longer matches its
    digest, or that is gone; [] when all match. Claims changed by a later audited command are
    vouched for by that command's events, and skipped. An event from before digests were
    recorded has none to compare."""
    digests = after.get(DIGESTS)
    if digests is None:
        return []
    ids = claim_ids(after.get("ids") or [])
    if len(ids) != len(digests):
        return [(ids[0] if ids else 0, "its import event's ids and digests do not pair up")]
    low, high = ids[0], ids[-1]
    later = set(
        (
            await session.scalars(
                sa.text(
                    "SELECT DISTINCT entity_id FROM audit_event WHERE entity_type = 'Claim' "
                    "AND entity_id BETWEEN :low AND :high AND id > :event"
                ),
                {"low": low, "high": high, "event": event_id},
            )
        ).all()
    )
    rows = {
        row[0]: row[1:]
        for row in await session.execute(
            sa.text(f"SELECT id, {', '.join(CLAIM_COLUMNS)} FROM claim WHERE id BETWEEN :low AND :high"),
            {"low": low, "high": high},
        )
    }
    quotes: dict[int, list[tuple[Any, ...]]] = {}
    for row in await session.execute(
        sa.text(
            f"SELECT claim_id, {', '.join(EVIDENCE_COLUMNS)} FROM evidence "
            "WHERE claim_id BETWEEN :low AND :high ORDER BY claim_id, position"
        ),
        {"low": low, "high": high},
    ):
        quotes.setdefault(row[0], []).append(tuple(row[1:]))
    out: list[tuple[int, str]] = []
    for claim_id, digest in zip(ids, digests, strict=True):
        if claim_id in later:
            continue
        row = rows.get(claim_id)
        if row is None:
            out.append((claim_id, "it was deleted"))
        elif claim_digest(row, quotes.get(claim_id, ())) != digest:
            out.append((claim_id, "its row or its quotes were changed without an audit event"))
    return out


async def still_matches(session: AsyncSession, claim_id: int, after: dict[str, Any]) -> bool:
    """Whether one claim a chunk event created still has the content the event recorded (True
    for an event without digests); the check changed_claims makes for a whole chunk."""
    digests = after.get(DIGESTS)
    if digests is None:
        return True
    ids = claim_ids(after.get("ids") or [])
    if claim_id not in ids or len(ids) != len(digests):
        return False
    row = (
        await session.execute(
            sa.text(f"SELECT {', '.join(CLAIM_COLUMNS)} FROM claim WHERE id = :id"), {"id": claim_id}
        )
    ).first()
    quotes = await session.execute(
        sa.text(f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM evidence WHERE claim_id = :id ORDER BY position"),
        {"id": claim_id},
    )
    return row is not None and claim_digest(row, quotes.all()) == digests[ids.index(claim_id)]


async def creating_event(session: AsyncSession, claim_id: int) -> int | None:
    """The id of the chunk event that created a bulk-imported claim (for its history), or None.

    A chunk event is filed under its first claim's id and names the rest by id runs, so the
    candidates are the nearest chunk events at or below the claim's id (chunks of concurrent
    imports may interleave on PostgreSQL, hence a few). A claim created by createClaim has its
    own "claim.create" event and is answered by one index probe."""
    own = await session.scalar(
        sa.text(
            "SELECT 1 FROM audit_event WHERE entity_type = 'Claim' AND entity_id = :id "
            "AND action = 'claim.create' LIMIT 1"
        ),
        {"id": claim_id},
    )
    if own is not None:
        return None
    candidates = await session.execute(
        sa.select(AuditEvent.id, AuditEvent.after)
        .where(AuditEvent.entity_type == "Claim", AuditEvent.action == ACTION)
        .where(AuditEvent.entity_id <= claim_id)
        .order_by(AuditEvent.entity_id.desc())
        .limit(_INTERLEAVED)
    )
    for event_id, after in candidates.all():
        if any(first <= claim_id <= last for first, last in (after or {}).get("ids") or []):
            return event_id
    return None
