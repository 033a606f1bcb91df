"""DataLoaders, built per request. Each batch opens its own session, so loads that run
concurrently never share a connection, and a nested query costs a fixed number of statements
whatever the page size (engineering.md rule 1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

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

    def _rows(self, table: Any) -> DataLoader[int, Any]:
        async def load(ids: Sequence[int]) -> list[Any]:
            async with self._db.read() as session:
                found = await batch.rows_by_id(session, table, ids)
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    def _lists(self, fetch: Callable[[Any, Sequence[int]], Awaitable[dict[int, list[Any]]]]) -> DataLoader:
        async def load(ids: Sequence[int]) -> list[list[Any]]:
            async with self._db.read() as session:
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
            async with self._db.read() as session:
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
