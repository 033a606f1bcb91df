"""The physical limit for the reads: hand-written SQL that fetches the same rows, on the driver's
own connection (aiosqlite, asyncpg; no ORM, no SQLAlchemy), plus orjson encoding of the same JSON
document as the GraphQL response's `data`.

Each baseline returns (the encoded bytes, the number of SQL statements it ran). The harness
decodes the bytes and compares them with claimsdb's answer before timing anything, so a baseline
that fetched other rows (or a claimsdb that did) fails the run rather than flattering it.

On PostgreSQL the baseline runs on a connection of its own with join_collapse_limit = 1 (see
PG_SETTINGS): its joins are written in a good order, so the planner need not search them.

Claim pages come in two plans, both hand-written, and the harness takes the faster as the limit:
- "join": claim_target joined to claim, sorted (what one writes first);
- "scan": walk the claim index in (created_at, id) order and keep the claims bearing on the
  target (an EXISTS per row): for a hot target the first page is found after a few hundred rows,
  instead of sorting all of the target's claims. SQLite only takes it when told (INDEXED BY).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from api.store.db import Database
from api.store.queries.claims import ClaimOrderField, claim_ordering
from bench.scenarios import Prepared
from schema.normalize import normalize_name

PLANS = ("join", "scan")
_ORDERING = claim_ordering(ClaimOrderField.CREATED_AT, True)


def gid(type_name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


class Driver:
    """One pooled connection's driver, with the two paramstyles hidden: write SQL with `?`."""

    def __init__(self, raw: Any, sqlite: bool) -> None:
        self.raw = raw
        self.sqlite = sqlite
        self.statements = 0

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        self.statements += 1
        if self.sqlite:
            async with self.raw.execute(sql, tuple(params)) as cursor:
                return list(await cursor.fetchall())
        counter = iter(range(1, 1000))
        return list(await self.raw.fetch(re.sub(r"\?", lambda _m: f"${next(counter)}", sql), *params))

    def in_list(self, ids: Sequence[int]) -> tuple[str, list[Any]]:
        """An `IN (...)` for ids: placeholders on SQLite, one array parameter on PostgreSQL."""
        if self.sqlite:
            return f"IN ({', '.join('?' for _ in ids)})", list(ids)
        return "= ANY(?::int[])", [list(ids)]

    def iso(self, value: Any) -> str:
        """A timestamp as GraphQL's DateTime writes it (UTC, isoformat)."""
        if isinstance(value, str):  # SQLite keeps naive UTC text
            return datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat()
        return value.astimezone(UTC).isoformat()

    def stamp(self, value: datetime) -> Any:
        """A cursor's timestamp as the column stores it."""
        if self.sqlite:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value


# PostgreSQL: the baseline's own connection (per Database), outside claimsdb's pool.
_PG_CONNECTIONS: dict[int, Any] = {}
# The joins are written in a good order; left to itself, the planner searches the orders of the
# nine relations of a claim page on every execution (~60 ms of planning for ~2 ms of execution
# in our runs), which a hand-written query avoids by fixing the order.
PG_SETTINGS = {"join_collapse_limit": "1", "from_collapse_limit": "1"}


@asynccontextmanager
async def driver(db: Database) -> AsyncIterator[Driver]:
    if db.is_sqlite:
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            yield Driver(raw.driver_connection, True)
        return
    import asyncpg

    connection = _PG_CONNECTIONS.get(id(db))
    if connection is None or connection.is_closed():
        dsn = db.settings.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn, server_settings=PG_SETTINGS)
        _PG_CONNECTIONS[id(db)] = connection
    yield Driver(connection, False)


async def close(db: Database) -> None:
    """Close the baseline's own PostgreSQL connection for this database, if it opened one."""
    connection = _PG_CONNECTIONS.pop(id(db), None)
    if connection is not None and not connection.is_closed():
        await connection.close()


async def _target_id(d: Driver, name: str) -> int | None:
    rows = await d.fetch("SELECT target_id FROM target_alias WHERE normalized = ?", [normalize_name(name)])
    return rows[0][0] if rows else None


# --- claim pages (Q1, Q5, Q4) ---------------------------------------------------------------

_PAGE_COLUMNS = """
  c.id, c.statement, c.direction, c.modality, c.evidence_type, c.sample_type, c.status, c.created_at,
  c.subject_target_id, st.symbol, c.subject_intervention_id, si.name,
  o.id, o.name, g.id, g.scientific_name, g.common_name, cd.id, cd.name, h.id, h.label, h.size,
  s.id, s.title, s.doi, s.year
"""
_PAGE_JOINS = """
  LEFT JOIN target st ON st.id = c.subject_target_id
  LEFT JOIN intervention si ON si.id = c.subject_intervention_id
  JOIN outcome o ON o.id = c.outcome_id
  JOIN organism g ON g.id = c.organism_id
  LEFT JOIN condition cd ON cd.id = c.condition_id
  LEFT JOIN cohort h ON h.id = c.cohort_id
  JOIN source s ON s.id = c.source_id
"""


def _page_sql(d: Driver, plan: str, after: bool) -> str:
    keyset = "AND (c.created_at, c.id) < (?, ?)" if after else ""
    if plan == "join":
        return (
            f"SELECT {_PAGE_COLUMNS} FROM claim_target ct JOIN claim c ON c.id = ct.claim_id {_PAGE_JOINS} "
            f"WHERE ct.target_id = ? AND c.status = 'ACCEPTED' {keyset} "
            "ORDER BY c.created_at DESC, c.id DESC LIMIT ?"
        )
    hint = "INDEXED BY ix_claim_created_at_id" if d.sqlite else ""
    return (
        f"SELECT {_PAGE_COLUMNS} FROM claim c {hint} {_PAGE_JOINS} "
        "WHERE c.status = 'ACCEPTED' "
        "AND EXISTS (SELECT 1 FROM claim_target ct WHERE ct.claim_id = c.id AND ct.target_id = ?) "
        f"{keyset} ORDER BY c.created_at DESC, c.id DESC LIMIT ?"
    )


async def claim_page(
    db: Database, prepared: Prepared, variables: dict[str, Any], plan: str = "join"
) -> tuple[bytes, int]:
    """Q1 and Q5: the same `data` document as bench.scenarios.CLAIM_PAGE."""
    first = variables["first"]
    async with driver(db) as d:
        target_id = await _target_id(d, variables["target"])
        if target_id is None:
            return _connection_bytes([], first, None), d.statements
        params: list[Any] = [target_id]
        if variables.get("after"):
            stamp, last_id = _ORDERING.decode_cursor(variables["after"])
            params += [d.stamp(stamp), last_id]
        rows = await d.fetch(_page_sql(d, plan, bool(variables.get("after"))), [*params, first + 1])
        page = rows[:first]
        ids = [r[0] for r in page]
        evidence: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        targets: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            clause, args = d.in_list(ids)
            for claim_id, quote, locator, stance in await d.fetch(
                f"SELECT claim_id, quote, locator, stance FROM evidence WHERE claim_id {clause} "
                "ORDER BY claim_id, position",
                args,
            ):
                evidence[claim_id].append({"quote": quote, "locator": locator, "stance": stance})
            for claim_id, tid, symbol in await d.fetch(
                "SELECT ct.claim_id, t.id, t.symbol "
                "FROM claim_target ct JOIN target t ON t.id = ct.target_id "
                f"WHERE ct.claim_id {clause} ORDER BY ct.claim_id, ct.target_id",
                args,
            ):
                targets[claim_id].append({"id": gid("Target", tid), "symbol": symbol})
        nodes = []
        for r in page:
            (cid, statement, direction, modality, evidence_type, sample_type, status, created_at,
             st_id, st_symbol, si_id, si_name, o_id, o_name, g_id, g_sci, g_common, cd_id, cd_name,
             h_id, h_label, h_size, s_id, s_title, s_doi, s_year) = r  # fmt: skip
            subject = (
                {"__typename": "Target", "id": gid("Target", st_id), "symbol": st_symbol}
                if st_id is not None
                else {"__typename": "Intervention", "id": gid("Intervention", si_id), "name": si_name}
            )
            nodes.append(
                {
                    "id": gid("Claim", cid),
                    "statement": statement,
                    "direction": direction,
                    "modality": modality,
                    "evidenceType": evidence_type,
                    "sampleType": sample_type,
                    "status": status,
                    "createdAt": d.iso(created_at),
                    "subject": subject,
                    "targets": targets[cid],
                    "outcome": {"id": gid("Outcome", o_id), "name": o_name},
                    "organism": {
                        "id": gid("Organism", g_id),
                        "scientificName": g_sci,
                        "commonName": g_common,
                    },
                    "condition": None if cd_id is None else {"id": gid("Condition", cd_id), "name": cd_name},
                    "cohort": None
                    if h_id is None
                    else {"id": gid("Cohort", h_id), "label": h_label, "size": h_size},
                    "source": {"id": gid("Source", s_id), "title": s_title, "doi": s_doi, "year": s_year},
                    "evidence": evidence[cid],
                }
            )
        end = _cursor(d, page[-1][7], page[-1][0]) if page else None
        return _connection_bytes(nodes, first, end, more=len(rows) > first), d.statements


def _cursor(d: Driver, created_at: Any, claim_id: int) -> str:
    when = (
        datetime.fromisoformat(created_at).replace(tzinfo=UTC) if isinstance(created_at, str) else created_at
    )
    return _ORDERING.encode_cursor([when.astimezone(UTC), claim_id])


def _connection_bytes(nodes: list[dict[str, Any]], first: int, end: str | None, more: bool = False) -> bytes:
    return orjson.dumps({"claims": {"pageInfo": {"hasNextPage": more, "endCursor": end}, "nodes": nodes}})


async def text_page(
    db: Database, prepared: Prepared, variables: dict[str, Any], plan: str = "join"
) -> tuple[bytes, int]:
    """Q4: the same `data` document as bench.scenarios.TEXT_SEARCH, through the native index."""
    first = variables["first"]
    words = re.findall(r"\w+", variables["text"])[:32]
    async with driver(db) as d:
        if d.sqlite:
            matching = "SELECT rowid FROM claim_fts WHERE claim_fts MATCH ?"
            query: Any = " ".join('"' + w.replace('"', "") + '"' for w in words)
        else:
            matching = (
                "SELECT claim_id FROM claim_search "
                "WHERE to_tsvector('english'::regconfig, document) "
                "@@ plainto_tsquery('english'::regconfig, ?)"
            )
            query = " ".join(words)
        rows = await d.fetch(
            "SELECT c.id, c.statement, c.created_at, s.id, s.title "
            "FROM claim c JOIN source s ON s.id = c.source_id "
            f"WHERE c.status = 'ACCEPTED' AND c.id IN ({matching}) "
            "ORDER BY c.created_at DESC, c.id DESC LIMIT ?",
            [query, first + 1],
        )
        page = rows[:first]
        quotes: dict[int, list[dict[str, Any]]] = {r[0]: [] for r in page}
        if page:
            clause, args = d.in_list([r[0] for r in page])
            for claim_id, quote in await d.fetch(
                f"SELECT claim_id, quote FROM evidence WHERE claim_id {clause} ORDER BY claim_id, position",
                args,
            ):
                quotes[claim_id].append({"quote": quote})
        nodes = [
            {
                "id": gid("Claim", cid),
                "statement": statement,
                "createdAt": d.iso(created_at),
                "evidence": quotes[cid],
                "source": {"id": gid("Source", sid), "title": title},
            }
            for cid, statement, created_at, sid, title in page
        ]
        end = _cursor(d, page[-1][2], page[-1][0]) if page else None
        return _connection_bytes(nodes, first, end, more=len(rows) > first), d.statements


# --- evidence summary (Q3) ------------------------------------------------------------------


async def summary(
    db: Database, prepared: Prepared, variables: dict[str, Any], plan: str = "join"
) -> tuple[bytes, int]:
    """Q3: the same `data` document as bench.scenarios.SUMMARY (cells in claimsdb's order:
    count descending, then outcome and condition ids)."""
    async with driver(db) as d:
        target_id = await _target_id(d, variables["target"])
        if target_id is None:
            return orjson.dumps({"evidenceSummary": {"total": 0, "target": None, "cells": []}}), d.statements
        (symbol,) = (await d.fetch("SELECT symbol FROM target WHERE id = ?", [target_id]))[0]
        rows = await d.fetch(
            "SELECT c.condition_id, cd.name, c.outcome_id, o.name, ct.target_direction, count(*) AS n "
            "FROM claim_target ct JOIN claim c ON c.id = ct.claim_id JOIN outcome o ON o.id = c.outcome_id "
            "LEFT JOIN condition cd ON cd.id = c.condition_id "
            "WHERE ct.target_id = ? AND c.status = 'ACCEPTED' "
            "GROUP BY c.condition_id, cd.name, c.outcome_id, o.name, ct.target_direction "
            "ORDER BY n DESC, c.outcome_id, c.condition_id",
            [target_id],
        )
        cells = [
            {
                "direction": direction,
                "count": n,
                "condition": None if cd_id is None else {"id": gid("Condition", cd_id), "name": cd_name},
                "outcome": {"id": gid("Outcome", o_id), "name": o_name},
            }
            for cd_id, cd_name, o_id, o_name, direction, n in rows
            if direction is not None
        ]
        document = {
            "evidenceSummary": {
                "total": sum(r[5] for r in rows),
                "target": {"id": gid("Target", target_id), "symbol": symbol},
                "cells": cells,
            }
        }
        return orjson.dumps(document), d.statements


BASELINES = {"Q1": claim_page, "Q5": claim_page, "Q3": summary, "Q4": text_page}
# Which baselines have more than one plan worth trying.
PLANNED = {"Q1", "Q5"}


def comparable(name: str, data: Any) -> Any:
    """Normalise what the API leaves unordered: summary cells tied on (count, outcome,
    condition) come in no defined order (and NULL conditions sort first on SQLite, last on
    PostgreSQL), so compare cells as a sorted list."""
    if name != "Q3" or not isinstance(data, dict):
        return data
    summary_ = dict(data["evidenceSummary"])
    summary_["cells"] = sorted(
        summary_["cells"],
        key=lambda c: (-c["count"], c["outcome"]["id"], (c["condition"] or {}).get("id", ""), c["direction"]),
    )
    return {"evidenceSummary": summary_}
