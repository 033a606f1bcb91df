"""Full-text search over claims: keeping `claim_search` current, and matching against it."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from schema.tables import Claim, ClaimSearch, Evidence

_WORD = re.compile(r"\w+", re.UNICODE)
_FTS_TABLE = sa.table("claim_fts", sa.column("rowid"))
# Core, on the table, built once: every createClaim runs it (see insert_claim_search).
_INSERT_SEARCH = sa.insert(ClaimSearch.__table__)


async def refresh_claim_search(session: AsyncSession, claim_ids: list[int]) -> None:
    """Rewrite the searchable text (statement + quotes) of these claims."""
    if not claim_ids:
        return
    result = await session.execute(sa.select(Claim.id, Claim.statement).where(Claim.id.in_(claim_ids)))
    statements = {cid: statement for cid, statement in result.all()}
    quotes: dict[int, list[str]] = {cid: [] for cid in claim_ids}
    rows = await session.execute(
        sa.select(Evidence.claim_id, Evidence.quote)
        .where(Evidence.claim_id.in_(claim_ids))
        .order_by(Evidence.claim_id, Evidence.position)
    )
    for claim_id, quote in rows:
        quotes[claim_id].append(quote)
    await session.execute(sa.delete(ClaimSearch).where(ClaimSearch.claim_id.in_(claim_ids)))
    documents = {cid: search_document(statements[cid], quotes[cid]) for cid in claim_ids if cid in statements}
    await insert_claim_search(session, documents)


def search_document(statement: str, quotes: list[str]) -> str:
    """The searchable text of a claim: its statement, then its quotes in order."""
    return "\n".join([statement, *quotes])


async def insert_claim_search(session: AsyncSession, documents: dict[int, str]) -> None:
    """Add the search rows of claims that have none yet (a new claim: its text is in hand, so
    there is nothing to read back or delete)."""
    if documents:
        await session.execute(
            _INSERT_SEARCH, [{"claim_id": cid, "document": doc} for cid, doc in documents.items()]
        )


def text_match(dialect: str, text: str) -> sa.ColumnElement[bool]:
    """A condition on Claim.id: the claim's statement or quotes contain all the words of `text`
    (stemmed: "decreased" finds "decrease"). Uses the native index of each database."""
    words = _WORD.findall(text)
    if not words:
        return sa.false()
    if dialect == "sqlite":
        # Each word quoted, so FTS5 operators in user input are taken as plain words.
        query = " ".join('"' + w.replace('"', "") + '"' for w in words[:32])
        matching = sa.select(_FTS_TABLE.c.rowid).where(
            sa.text("claim_fts MATCH :fts_query").bindparams(fts_query=query)
        )
        return Claim.id.in_(matching)
    english = sa.literal_column("'english'::regconfig")
    vector = sa.func.to_tsvector(english, ClaimSearch.document)
    query = sa.func.plainto_tsquery(english, " ".join(words[:32]))
    return Claim.id.in_(sa.select(ClaimSearch.claim_id).where(vector.op("@@")(query)))
