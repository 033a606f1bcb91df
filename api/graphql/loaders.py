"""DataLoaders, built per request, so a nested query costs a fixed number of statements whatever
the page size (engineering.md rule 1).

During a query operation every batch runs on one read session of the request, one batch at a
time (ShareReadSession): a page of claims with its whole context used to open ten sessions at
once, which at 32 concurrent requests asked the pool for 320 connections and queued on it
(bench/RESULTS.md). One session also gives the whole response one snapshot on SQLite. Mutations
keep a fresh session per batch, so what a payload loads sees the write just committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension

from api.graphql.internals import OperationType
from api.store.db import Database
from api.store.queries import batch
from api.store.queries.audit_chain import entities_verified, events_verified
from api.store.queries.conflicts import Question, pairs_pages
from api.store.queries.pagination import Page, PageRequest
from api.store.queries.relations import Names, ToMany, entity
from api.store.queries.standing import chain_standings
from schema import tables as t
from schema.audit import ChainBreak
from schema.enums import SourceStanding

# A question's first page of pairs: (target id, outcome id, scope, page size, visibility).
PairsKey = tuple[int, int, Any, int, Any]


class Loaders:
    """The request's DataLoaders: rows by id per entity, a list relation's rows by parent, a
    vocabulary entity's names, and first pages of conflict pairs. Made on first use."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sharing = False
        self._shared: AsyncSession | None = None
        self._shared_stack = AsyncExitStack()
        self._shared_lock = asyncio.Lock()
        self._rows: dict[str, DataLoader[int, Any]] = {}
        self._lists: dict[ToMany, DataLoader[int, list[Any]]] = {}
        self._names: dict[Names, DataLoader[int, list[str]]] = {}
        # First pages of conflict pairs: all conflicts of a page share two statements
        # (api.store.queries.conflicts.pairs_pages).
        self.first_pairs: DataLoader[PairsKey, Page] = DataLoader(load_fn=self._first_pairs)
        # A source's standing as its claims inherit it (the worst along its derivedFrom chain).
        self.source_standing: DataLoader[int, SourceStanding] = DataLoader(load_fn=self._chain_standings)
        # Whether audit events, or all of a claim's events, still verify where they stand in the
        # hash chain (None) or where the first break is.
        self.event_break: DataLoader[int, ChainBreak | None] = DataLoader(load_fn=self._event_breaks)
        self.claim_audit_break: DataLoader[int, ChainBreak | None] = DataLoader(
            load_fn=self._claim_audit_breaks
        )

    # --- the loaders ---------------------------------------------------------------------

    def rows(self, entity: str) -> DataLoader[int, Any]:
        """Rows of an entity (relations.ENTITIES) by id; None for an id that is not there."""
        loader = self._rows.get(entity)
        if loader is None:

            async def load(ids: Sequence[int]) -> list[Any]:
                async with self.session() as session:
                    found = await batch.rows_by_id(session, entity, ids)
                return [found.get(i) for i in ids]

            loader = self._rows[entity] = DataLoader(load_fn=load)
        return loader

    def listed(self, relation: ToMany) -> DataLoader[int, list[Any]]:
        """A list relation's rows by parent id, in the relation's order. The rows found are
        primed in their entity's loader, so a later look-up by id costs nothing."""
        loader = self._lists.get(relation)
        if loader is None:
            # Children with their own id are primed in their entity's loader (not claim_target's
            # rows, which are keyed by claim and target).
            keyed = "id" in entity(relation.child).table.c
            children = self.rows(relation.child) if keyed else None

            async def load(ids: Sequence[int]) -> list[list[Any]]:
                async with self.session() as session:
                    found = await batch.rows_by_parent(session, relation, ids)
                if children is not None:
                    for rows in found.values():
                        for row in rows:
                            children.prime(row.id, row)
                return [found.get(i, []) for i in ids]

            loader = self._lists[relation] = DataLoader(load_fn=load)
        return loader

    def names(self, relation: Names) -> DataLoader[int, list[str]]:
        """A vocabulary entity's aliases or cross-references by its id."""
        loader = self._names.get(relation)
        if loader is None:

            async def load(ids: Sequence[int]) -> list[list[str]]:
                async with self.session() as session:
                    found = await batch.names_by_owner(session, relation, ids)
                return [found.get(i, []) for i in ids]

            loader = self._names[relation] = DataLoader(load_fn=load)
        return loader

    # The entities code looks up by id directly (typed).
    @property
    def claim(self) -> DataLoader[int, t.Claim | None]:
        return self.rows("claim")

    @property
    def target(self) -> DataLoader[int, t.Target | None]:
        return self.rows("target")

    @property
    def intervention(self) -> DataLoader[int, t.Intervention | None]:
        return self.rows("intervention")

    @property
    def condition(self) -> DataLoader[int, t.Condition | None]:
        return self.rows("condition")

    @property
    def organism(self) -> DataLoader[int, t.Organism | None]:
        return self.rows("organism")

    @property
    def outcome(self) -> DataLoader[int, t.Outcome | None]:
        return self.rows("outcome")

    @property
    def cohort(self) -> DataLoader[int, t.Cohort | None]:
        return self.rows("cohort")

    @property
    def user(self) -> DataLoader[int, t.User | None]:
        return self.rows("user")

    # --- the session the batches run on --------------------------------------------------

    def share_session(self) -> None:
        """From now on, batches run one after another on one session, opened on first use."""
        self._sharing = True

    async def release(self) -> None:
        """Close the shared session (if one was opened) and go back to a session per batch."""
        self._sharing = False
        async with self._shared_lock:
            self._shared = None
            await self._shared_stack.aclose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if not self._sharing:
            async with self._db.read() as session:
                yield session
            return
        async with self._shared_lock:
            if self._shared is None:
                self._shared = await self._shared_stack.enter_async_context(self._db.read())
            try:
                yield self._shared
            except BaseException:
                # A failed statement aborts a PostgreSQL transaction: start the next batch afresh
                # rather than fail every later batch of the request with "transaction aborted".
                await self._shared.rollback()
                raise

    async def _chain_standings(self, source_ids: Sequence[int]) -> list[SourceStanding]:
        async with self.session() as session:
            found = await chain_standings(session, source_ids)
        return [found[i] for i in source_ids]

    async def _event_breaks(self, event_ids: Sequence[int]) -> list[ChainBreak | None]:
        async with self.session() as session:
            found = await events_verified(session, event_ids)
        return [found.get(i) for i in event_ids]

    async def _claim_audit_breaks(self, claim_ids: Sequence[int]) -> list[ChainBreak | None]:
        async with self.session() as session:
            found = await entities_verified(session, "Claim", claim_ids)
        return [found[i] for i in claim_ids]

    async def _first_pairs(self, keys: Sequence[PairsKey]) -> list[Page]:
        by_batch: dict[tuple[Any, int, Any], list[PairsKey]] = {}
        for key in keys:
            _, _, scope, first, visibility = key
            by_batch.setdefault((scope, first, visibility), []).append(key)
        pages: dict[PairsKey, Page] = {}
        for (scope, first, visibility), batch_keys in by_batch.items():
            questions = [Question(t, o, False, {}, scope) for t, o, *_ in batch_keys]
            async with self.session() as session:
                found = await pairs_pages(session, questions, visibility, PageRequest(first=first))
            for key in batch_keys:
                pages[key] = found[(key[0], key[1])]
        return [pages[key] for key in keys]


class ShareReadSession(SchemaExtension):
    """Runs a query operation's DataLoader batches on one session of the request (see above)."""

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        loaders = getattr(self.execution_context.context, "loaders", None)
        # Strawberry's OperationType: graphql-core's enum of the same name never compares equal.
        share = isinstance(loaders, Loaders) and self.execution_context.operation_type is OperationType.QUERY
        if share:
            loaders.share_session()
        try:
            yield
        finally:
            if share:
                await loaders.release()
