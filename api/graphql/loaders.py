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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.store.db import Database
from api.store.queries import batch
from api.store.queries.conflicts import Question, pairs_pages
from api.store.queries.pagination import PageRequest
from schema.enums import VocabularyKind
from schema.tables import (
    AuditEvent,
    Claim,
    Cohort,
    Condition,
    Intervention,
    Organism,
    Outcome,
    Source,
    Target,
    User,
)


class Loaders:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._sharing = False
        self._shared: AsyncSession | None = None
        self._shared_stack = AsyncExitStack()
        self._shared_lock = asyncio.Lock()
        self.claim = self._rows(Claim)
        self.target = self._rows(Target)
        self.intervention = self._rows(Intervention)
        self.condition = self._rows(Condition)
        self.organism = self._rows(Organism)
        self.outcome = self._rows(Outcome)
        self.cohort = self._rows(Cohort)
        self.source = self._rows(Source)
        self.user = self._rows(User)
        self.audit_event = self._rows(AuditEvent)
        self.evidence_by_claim = self._lists(batch.evidence_by_claim)
        self.targets_by_claim = self._lists(batch.targets_by_claim)
        self.reviews_by_claim = self._lists(batch.reviews_by_claim)
        self.actions_by_intervention = self._lists(batch.actions_by_intervention)
        self.actions_by_target = self._lists(batch.actions_by_target)
        self.children_by_condition = self._lists(batch.children_by_condition)
        self.cohorts_by_source = self._lists(batch.cohorts_by_source)
        # First pages of conflict pairs, keyed by (target_id, outcome_id, scope, first, visibility):
        # all conflicts of a page share two statements (api.store.queries.conflicts.pairs_pages).
        self.first_pairs = DataLoader(load_fn=self._first_pairs)
        self.aliases = {kind: self._lists(self._aliases(kind)) for kind in VocabularyKind}
        self.xrefs = {kind: self._lists(self._xrefs(kind)) for kind in VocabularyKind}

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

    def _rows(self, table: Any) -> DataLoader[int, Any]:
        async def load(ids: Sequence[int]) -> list[Any]:
            async with self.session() as session:
                found = await batch.rows_by_id(session, table, ids)
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    def _lists(self, fetch: Callable[[Any, Sequence[int]], Awaitable[dict[int, list[Any]]]]) -> DataLoader:
        async def load(ids: Sequence[int]) -> list[list[Any]]:
            async with self.session() as session:
                found = await fetch(session, ids)
            return [found.get(i, []) for i in ids]

        return DataLoader(load_fn=load)

    async def _first_pairs(self, keys: Sequence[tuple]) -> list[Any]:
        by_batch: dict[tuple, list[tuple]] = {}
        for key in keys:
            _, _, scope, first, visibility = key
            by_batch.setdefault((scope, first, visibility), []).append(key)
        pages: dict[tuple, Any] = {}
        for (scope, first, visibility), batch_keys in by_batch.items():
            questions = [Question(t, o, False, {}, scope) for t, o, *_ in batch_keys]
            async with self.session() as session:
                found = await pairs_pages(session, questions, visibility, PageRequest(first=first))
            for key in batch_keys:
                pages[key] = found[(key[0], key[1])]
        return [pages[key] for key in keys]

    @staticmethod
    def _aliases(kind: VocabularyKind) -> Callable[[Any, Sequence[int]], Awaitable[dict[int, list[str]]]]:
        return lambda session, ids: batch.aliases_by_owner(session, kind, ids)

    @staticmethod
    def _xrefs(kind: VocabularyKind) -> Callable[[Any, Sequence[int]], Awaitable[dict[int, list[str]]]]:
        return lambda session, ids: batch.xrefs_by_owner(session, kind, ids)


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
