"""Full-text search over claims: keeping `claim_search` current, and matching against it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from schema.search import (
    CLAIM_SCORE,
    NAMED_KINDS,
    Group,
    SearchKind,
    Term,
    parse_websearch,
    rank_name,
    search_keys,
)
from schema.tables import Claim, ClaimSearch, Evidence, SearchTerm

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
    """A condition on Claim.id: the claim's searchable text (statement, names, quotes) matches
    `text` in web-search syntax (schema.search.parse_websearch): every word (stemmed:
    "decreased" finds "decrease"), "quoted phrases", OR, -word. Uses each database's own index."""
    groups = parse_websearch(text)
    if not groups:
        return sa.false()
    if dialect == "sqlite":
        clauses: list[sa.ColumnElement[bool]] = []
        query = _fts_query(groups)
        if query is not None:
            clauses.append(Claim.id.in_(_fts_matching(query)))
        for group in groups:
            if not group.present:
                # FTS5 cannot say "without these words" alone: the claims it does not match.
                without = " OR ".join(_fts_term(t) for t in group.absent)
                clauses.append(Claim.id.not_in(_fts_matching(without)))
        return sa.or_(*clauses)
    tsquery = _pg_query(groups)
    if tsquery is None:
        return sa.false()
    vector = sa.func.to_tsvector(_ENGLISH, ClaimSearch.document)
    return Claim.id.in_(sa.select(ClaimSearch.claim_id).where(vector.op("@@")(tsquery)))


_ENGLISH = sa.literal_column("'english'::regconfig")


def _fts_matching(query: str) -> sa.Select:
    return sa.select(_FTS_TABLE.c.rowid).where(_matches("claim_fts", query))


def _matches(fts_table: str, query: str) -> sa.ColumnElement[bool]:
    """`<fts table> MATCH ?`, its parameter anonymous (several may stand in one statement)."""
    return sa.literal_column(fts_table).op("MATCH")(sa.bindparam(None, query, type_=sa.Text))


def _fts_term(term: Term) -> str:
    # Quoted: FTS5 operators in user input are taken as plain words; several words, a phrase.
    return '"' + " ".join(w.replace('"', "") for w in term.words) + '"'


def _fts_query(groups: Sequence[Group]) -> str | None:
    """FTS5 query text for the groups that require words (those only excluding words are
    handled apart, see text_match)."""
    parts = []
    for group in groups:
        if not group.present:
            continue
        clause = "(" + " AND ".join(_fts_term(t) for t in group.present) + ")"
        if group.absent:
            clause = f"({clause} NOT ({' OR '.join(_fts_term(t) for t in group.absent)}))"
        parts.append(clause)
    return " OR ".join(parts) if parts else None


def _pg_term(term: Term) -> str:
    return "(" + " <-> ".join(f"'{w}'" for w in term.words) + ")"


def _pg_query(groups: Sequence[Group]) -> Any:
    """to_tsquery over the groups: words are runs of word characters, so quoting them as
    lexemes is safe."""
    parts = []
    for group in groups:
        terms = [_pg_term(t) for t in group.present] + [f"!{_pg_term(t)}" for t in group.absent]
        parts.append("(" + " & ".join(terms) + ")")
    if not parts:
        return None
    return sa.func.to_tsquery(_ENGLISH, " | ".join(parts))


# --- names, for typeahead ----------------------------------------------------------------------

_SEARCH_FTS = sa.table("search_term_fts", sa.column("rowid"))
_TERMS = SearchTerm.__table__
# How many candidates each kind of match may bring before ranking: enough for a page of 50 of
# the best, bounded so a one-letter text costs little.
_CANDIDATES = 200


@dataclass(frozen=True)
class NameHit:
    """The best name something was found by, and how well it matched (schema.search.rank_name)."""

    kind: str
    entity_id: int
    term: str
    score: float


async def search_names(
    session: AsyncSession, text: str, kinds: Sequence[str] | None, limit: int
) -> list[NameHit]:
    """The things whose names best answer `text` (at most `limit`, best first): exact and
    prefix matches of the normalised key, substrings and close names of the names themselves.
    Candidates come from the database's indexes; they are ranked here, the same way on both
    databases."""
    text = text.strip()
    normalized, lowered = search_keys(text)
    if not normalized and not lowered:
        return []
    sqlite = session.bind.dialect.name == "sqlite"
    columns = (_TERMS.c.kind, _TERMS.c.entity_id, _TERMS.c.term, _TERMS.c.key)
    only = [_TERMS.c.kind.in_(list(kinds))] if kinds is not None else []
    statements = []
    for typed in {normalized, lowered} - {""}:
        key = _TERMS.c.key if sqlite else sa.collate(_TERMS.c.key, "C")
        statements.append(
            sa.select(*columns)
            .where(key >= typed, key < typed + "\U0010ffff", *only)
            .order_by(key)
            .limit(_CANDIDATES)
        )
    if sqlite:
        grams = sorted({g for g in trigrams_of(lowered)})
        if len(lowered) >= 3:
            statements.append(_fts_candidates(columns, only, '"' + lowered.replace('"', '""') + '"'))
        if grams:
            query = " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)
            statements.append(_fts_candidates(columns, only, query))
    else:
        pattern = "%" + lowered.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statements.append(sa.select(*columns).where(_TERMS.c.term.ilike(pattern), *only).limit(_CANDIDATES))
        similar = sa.func.similarity(_TERMS.c.term, text)
        statements.append(
            sa.select(*columns)
            .where(_TERMS.c.term.op("%")(text), *only)
            .order_by(similar.desc())
            .limit(_CANDIDATES)
        )
    best: dict[tuple[str, int], NameHit] = {}
    for statement in statements:
        for kind, entity_id, term, key in (await session.execute(statement)).all():
            score = rank_name(text, term, key)
            if score <= 0:
                continue
            found = best.get((kind, entity_id))
            if found is None or (score, -len(term)) > (found.score, -len(found.term)):
                best[(kind, entity_id)] = NameHit(kind, entity_id, term, score)
    ranked = sorted(best.values(), key=lambda h: (-h.score, len(h.term), h.term, h.kind, h.entity_id))
    return ranked[:limit]


def _fts_candidates(columns: Sequence[Any], only: list[Any], query: str) -> sa.Select:
    matching = (
        sa.select(_SEARCH_FTS.c.rowid)
        .where(_matches("search_term_fts", query))
        .order_by(sa.text("bm25(search_term_fts)"))
        .limit(_CANDIDATES)
    )
    return sa.select(*columns).where(_TERMS.c.id.in_(matching), *only)


def trigrams_of(text: str) -> set[str]:
    """The three-character pieces FTS5's trigram tokenizer indexes (every run of three
    characters of the lower-cased text)."""
    return {text[i : i + 3] for i in range(len(text) - 2)}


async def search_claims(
    session: AsyncSession, text: str, visible: sa.ColumnElement[bool], limit: int
) -> list[int]:
    """The ids of the visible claims whose searchable text matches `text` (web-search syntax),
    best match first."""
    if session.bind.dialect.name == "sqlite":
        query = _fts_query(parse_websearch(text))
        if query is None:
            return []
        rank = sa.text("bm25(claim_fts)")
        statement = (
            sa.select(_FTS_TABLE.c.rowid)
            .select_from(_FTS_TABLE.join(Claim, Claim.id == _FTS_TABLE.c.rowid))
            .where(_matches("claim_fts", query), visible)
            .order_by(rank, _FTS_TABLE.c.rowid)
            .limit(limit)
        )
    else:
        tsquery = _pg_query(parse_websearch(text))
        if tsquery is None:
            return []
        vector = sa.func.to_tsvector(_ENGLISH, ClaimSearch.document)
        rank = sa.func.ts_rank(vector, tsquery)
        statement = (
            sa.select(ClaimSearch.claim_id)
            .join(Claim, Claim.id == ClaimSearch.claim_id)
            .where(vector.op("@@")(tsquery), visible)
            .order_by(rank.desc(), ClaimSearch.claim_id)
            .limit(limit)
        )
    return list((await session.scalars(statement)).all())


@dataclass(frozen=True)
class Hit:
    """One search result: what was found (its kind and id), by which name or text, how well."""

    kind: SearchKind
    entity_id: int
    matched: str
    score: float


async def search(
    session: AsyncSession,
    text: str,
    kinds: Sequence[SearchKind] | None,
    visible: sa.ColumnElement[bool],
    limit: int,
) -> list[Hit]:
    """Things by name (typeahead ranking, schema.search.rank_name) and visible claims by text,
    best first; claims rank below names found exactly, by prefix or by substring."""
    wanted = set(kinds) if kinds is not None else set(SearchKind)
    named = [k.value for k in NAMED_KINDS if k in wanted]
    hits = [
        Hit(SearchKind(h.kind), h.entity_id, h.term, h.score)
        for h in (await search_names(session, text, named, limit) if named else [])
    ]
    if SearchKind.CLAIM in wanted:
        for position, claim_id in enumerate(await search_claims(session, text, visible, limit)):
            hits.append(Hit(SearchKind.CLAIM, claim_id, text.strip(), CLAIM_SCORE / (1 + position)))
    hits.sort(key=lambda h: (-h.score, list(SearchKind).index(h.kind), h.entity_id))
    return hits[:limit]
