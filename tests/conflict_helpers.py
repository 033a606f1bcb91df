"""Helpers for the conflict tests (test_conflicts*.py): a small purpose-built vocabulary, claims
made through the store commands, GraphQL run in-process as any actor, and an independent Python
model of the conflict rules (schema.bearing and schema.conflicts applied claim by claim) to
compare the SQL with.

Not a test module (no `test_` prefix).
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from api.settings import Settings
from api.store.db import Database
from schema.bearing import directions_oppose, target_level_direction
from schema.conflicts import ClaimContext, differing_aspects, pair_kind
from schema.enums import (
    ClaimStatus,
    EffectDirection,
    EvidenceType,
    Modality,
    Role,
    SourceKind,
    TargetAction,
)
from schema.records import SourceRecord
from schema.tables import LIVE_STATUSES, Claim, Condition, InterventionAction, Outcome, Target
from schema.users import ANONYMOUS, Actor
from schema.visibility import claim_visibility

ADMIN = Actor(None, "conflict-tests", Role.ADMIN)
REVIEWER_VIEW = Actor(None, "any-reviewer", Role.REVIEWER)  # sees every claim

INC, DEC, NONE, MIXED = "INCREASES", "DECREASES", "NO_EFFECT", "MIXED"

# --- global IDs, decoded independently of api.graphql.ids ---------------------------------------


def gid(type_name: str, key: int | str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def int_of(global_id: str) -> int:
    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return int(raw.partition(":")[2])


# --- running GraphQL in-process ---------------------------------------------------------------


async def run(
    db: Database, settings: Settings, query: str, variables: dict[str, Any] | None = None, *, actor=None
) -> Any:
    # Through the shared client, so the claim lists these tests read are also checked against
    # the compiled read path (graphql_client.execute).
    from graphql_client import execute

    return await execute(db, settings, query, variables, actor=actor)


async def gql(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """A query that must succeed: its data."""
    result = await run(db, settings, query, variables, actor=actor)
    problems = "; ".join(f"{e.message} at {e.path} ({e.original_error!r})" for e in result.errors or [])
    assert not result.errors, f"expected no errors, got: {problems}\nquery: {query[:400]}"
    return result.data


async def post(settings: Settings, db: Database, query: str, variables: dict[str, Any], token: str) -> Any:
    """One request through the real app, with `Authorization: Bearer <token>`; the JSON body."""
    import httpx

    from api.app import create_app

    app = create_app(settings, database=db)
    app.state.db = db  # ASGITransport runs no lifespan, which would set it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    return response.json()


# --- a small world: users, vocabulary, sources ------------------------------------------------

TARGETS = ["IL-6R", "PDE4", "MIF", "LIF", "S1P receptor", "spike protein", "TNF", "IL-10", "IL-1", "PIM1"]
INTERVENTIONS: dict[str, list[tuple[str, TargetAction]]] = {
    "tocilizumab": [("IL-6R", TargetAction.INHIBITS)],
    "LIF nanoparticles": [("LIF", TargetAction.ACTIVATES)],
    "sotrovimab": [("spike protein", TargetAction.BINDS)],
    "fingolimod": [("S1P receptor", TargetAction.MODULATES)],
    "ibudilast": [("PDE4", TargetAction.INHIBITS), ("MIF", TargetAction.INHIBITS)],
    "rolipram": [("PDE4", TargetAction.INHIBITS)],
    "orphanib": [],  # no known action yet: its claims bear on nothing until one is added
}
# (name, parent, aliases)
CONDITIONS = [
    ("multiple sclerosis", None, ["MS"]),
    ("relapsing-remitting multiple sclerosis", "MS", ["RRMS"]),
    ("secondary progressive multiple sclerosis", "MS", ["SPMS"]),
    ("amyotrophic lateral sclerosis", None, ["ALS"]),
]
OUTCOMES = ["disease activity", "CSF level", "remyelination", "relapse rate"]
SOURCES = 16


@dataclass
class World:
    """Users (with API tokens) and the source DOIs claims are drawn from."""

    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    dois: list[str] = field(default_factory=list)
    _next_source: Iterator[int] = field(default_factory=itertools.count)

    def next_source(self) -> str:
        """Claims take their sources in turn, so two claims that differ only in what is not part
        of a claim's fingerprint (evidence type, modality) are not refused as duplicates."""
        return self.dois[next(self._next_source) % len(self.dois)]

    @property
    def admin(self) -> Actor:
        return self.actors["ada"]

    @property
    def curator(self) -> Actor:
        return self.actors["cora"]

    @property
    def reviewer(self) -> Actor:
        return self.actors["rhea"]


async def build_world(db: Database) -> World:
    """Everything the conflict tests name, made through the store commands in one transaction."""
    from api.store.commands import sources as source_cmds
    from api.store.commands import vocabulary as vocab
    from api.store.commands.users import create_user

    world = World()
    async with db.write(ADMIN) as w:
        for name, role in (("ada", Role.ADMIN), ("cora", Role.CURATOR), ("rhea", Role.REVIEWER)):
            user, token = await create_user(w, name, role)
            assert user.id is not None
            world.actors[name] = Actor(user.id, name, role)
            world.tokens[name] = token
        await vocab.create_organism(w, vocab.OrganismInput(9606, "Homo sapiens", "human"))
        await vocab.create_organism(w, vocab.OrganismInput(10090, "Mus musculus", "mouse"))
        for name, parent, aliases in CONDITIONS:
            await vocab.create_condition(w, vocab.ConditionInput(name, parent, aliases))
        for symbol in TARGETS:
            await vocab.create_target(w, vocab.TargetInput(symbol, f"{symbol} (test target)", "gene product"))
        for name, actions in INTERVENTIONS.items():
            await vocab.create_intervention(
                w,
                vocab.InterventionInput(
                    name, "drug", actions=[vocab.ActionInput(target, action) for target, action in actions]
                ),
            )
        for name in OUTCOMES:
            await vocab.create_outcome(w, vocab.OutcomeInput(name, "clinical course"))
        for index in range(SOURCES):
            doi = f"10.5555/conflicts.{index}"
            await source_cmds.create_source(
                w, SourceRecord(kind=SourceKind.PRIMARY_RESEARCH, title=f"Study {index}", doi=doi)
            )
            world.dois.append(doi)
    return world


@dataclass
class Spec:
    """One claim: a subject (target or intervention), a direction and its context."""

    direction: str
    target: str | None = None
    intervention: str | None = None
    outcome: str = "disease activity"
    organism: str = "human"
    condition: str | None = None
    cohort: str | None = None  # a cohort label (cohorts are per source)
    sample_type: str | None = None
    evidence_type: EvidenceType = EvidenceType.OBSERVATIONAL
    source: str | None = None  # a DOI; by default the world's next source
    modality: Modality = Modality.ASSERTED


def about(target: str, direction: str, **context: Any) -> Spec:
    return Spec(direction, target=target, **context)


def via(intervention: str, direction: str, **context: Any) -> Spec:
    return Spec(direction, intervention=intervention, **context)


def claim_input(world: World, spec: Spec, statement: str | None = None) -> Any:
    from schema.records import ClaimRecord, CohortRecord, EvidenceRecord

    subject = spec.target or spec.intervention
    source = spec.source or world.next_source()
    return ClaimRecord(
        statement=statement or f"{subject} {spec.direction.lower()} {spec.outcome} ({source})",
        outcome=spec.outcome,
        direction=EffectDirection(spec.direction),
        modality=spec.modality,
        evidence_type=spec.evidence_type,
        organism=spec.organism,
        source=source,
        evidence=[EvidenceRecord(quote=f"What {source} says.")],
        target=spec.target,
        intervention=spec.intervention,
        condition=spec.condition,
        cohort=CohortRecord(label=spec.cohort) if spec.cohort else None,
        sample_type=spec.sample_type,
    )


async def create_claims(
    db: Database,
    world: World,
    specs: Sequence[Spec],
    *,
    actor: Actor | None = None,
    status: ClaimStatus | None = ClaimStatus.ACCEPTED,
) -> list[int]:
    """Claims in one write transaction: ACCEPTED by default (an admin import); `status=None`
    with a curator gives a DRAFT, as createClaim does."""
    from api.store.commands.claims import create_claim

    ids: list[int] = []
    async with db.write(actor or world.admin) as w:
        for spec in specs:
            claim = await create_claim(w, claim_input(world, spec), status=status)
            assert claim.id is not None
            ids.append(claim.id)
    return ids


async def claim_version(db: Database, claim_id: int) -> int:
    async with db.read() as session:
        version = await session.scalar(sa.select(Claim.version).where(Claim.id == claim_id))
    assert version is not None, f"claim {claim_id} does not exist"
    return version


async def id_of(db: Database, table: Any, column: Any, value: Any) -> int:
    async with db.read() as session:
        found = await session.scalar(sa.select(table.id).where(column == value))
    assert found is not None, f"no {table.__tablename__} with {column.key} = {value!r}"
    return found


# --- reading conflicts through the API --------------------------------------------------------

CONFLICT_FIELDS = """
    id kind target { symbol } outcome { name }
    directionCounts { direction count }
    pairs(first: 0) { totalCount }
"""
PAIR_FIELDS = "kind left { id } right { id } differences { aspect left right }"


async def all_conflicts(
    db: Database,
    settings: Settings,
    filter: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    page: int = 10,
) -> list[dict[str, Any]]:
    """Every conflict the filter gives, paged through with first/after; checks totalCount."""
    query = f"""
    query($filter: ConflictFilter, $first: Int, $after: String) {{
      conflicts(filter: $filter, first: $first, after: $after) {{
        totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {CONFLICT_FIELDS} }}
      }}
    }}"""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gql(db, settings, query, {"filter": filter, "first": page, "after": after}, actor=actor)
        connection = data["conflicts"]
        out += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert len(out) <= 1000, "conflicts pagination does not end"
    assert connection["totalCount"] == len(out), (
        f"conflicts totalCount {connection['totalCount']} but paging gave {len(out)}"
    )
    return out


def by_question(conflicts: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {(c["target"]["symbol"], c["outcome"]["name"]): c for c in conflicts}
    assert len(out) == len(conflicts), f"a question appears twice: {sorted(out)}"
    return out


def counts_of(conflict: dict[str, Any]) -> dict[str, int]:
    return {row["direction"]: row["count"] for row in conflict["directionCounts"]}


async def all_pairs(
    db: Database, settings: Settings, conflict_id: str, *, actor: Actor | None = None, page: int = 25
) -> list[dict[str, Any]]:
    """Every pair of one conflict, through node(id) and first/after; checks totalCount."""
    query = f"""
    query($id: ID!, $first: Int, $after: String) {{
      node(id: $id) {{ ... on Conflict {{
        pairs(first: $first, after: $after) {{
          totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {PAIR_FIELDS} }}
        }}
      }} }}
    }}"""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        data = await gql(db, settings, query, {"id": conflict_id, "first": page, "after": after}, actor=actor)
        assert data["node"] is not None, f"node({conflict_id}) is null for {actor}"
        connection = data["node"]["pairs"]
        out += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert len(out) <= 10_000, "pairs pagination does not end"
    assert connection["totalCount"] == len(out), (
        f"pairs totalCount {connection['totalCount']} but paging gave {len(out)} pairs"
    )
    return out


async def claim_pairs(
    db: Database, settings: Settings, claim_id: int, *, actor: Actor | None = None, page: int = 25
) -> list[dict[str, Any]]:
    """Claim.conflicts, paged through; checks totalCount."""
    query = f"""
    query($id: ID!, $first: Int, $after: String) {{
      node(id: $id) {{ ... on Claim {{
        conflicts(first: $first, after: $after) {{
          totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {PAIR_FIELDS} }}
        }}
      }} }}
    }}"""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        variables = {"id": gid("Claim", claim_id), "first": page, "after": after}
        data = await gql(db, settings, query, variables, actor=actor)
        assert data["node"] is not None, f"claim {claim_id} is not visible to {actor}"
        connection = data["node"]["conflicts"]
        out += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert len(out) <= 10_000, "Claim.conflicts pagination does not end"
    assert connection["totalCount"] == len(out), (
        f"Claim.conflicts totalCount {connection['totalCount']} but paging gave {len(out)}"
    )
    return out


def pair_ids(pair: dict[str, Any]) -> tuple[int, int]:
    return int_of(pair["left"]["id"]), int_of(pair["right"]["id"])


def aspects(pair: dict[str, Any]) -> list[str]:
    return [d["aspect"] for d in pair["differences"]]


async def questions_of(
    db: Database, settings: Settings, *, actor: Actor | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every conflict, keyed by (target symbol, outcome name), each with all its pairs."""
    out = by_question(await all_conflicts(db, settings, actor=actor))
    for conflict in out.values():
        conflict["all_pairs"] = await all_pairs(db, settings, conflict["id"], actor=actor)
    return out


# --- the Python model: schema.bearing and schema.conflicts applied claim by claim ---------------


@dataclass(frozen=True)
class ModelPair:
    kind: str
    differences: tuple[str, ...]


async def model_pairs(
    db: Database, actor: Actor = ANONYMOUS
) -> dict[tuple[str, str], dict[tuple[int, int], ModelPair]]:
    """What the rules of domain.md say, computed in Python from the plain tables (claims,
    intervention actions, the condition tree; visible live claims only), not from claim_target or the SQL of
    api/store/queries/conflicts.py: {(target, outcome): {(left id, right id): pair}}, left < right."""
    visibility = claim_visibility(actor)
    async with db.read() as session:
        claims = list((await session.scalars(sa.select(Claim))).all())
        actions = (await session.execute(sa.select(InterventionAction))).scalars().all()
        parents = dict((await session.execute(sa.select(Condition.id, Condition.parent_id))).all())
        symbols = dict((await session.execute(sa.select(Target.id, Target.symbol))).all())
        outcomes = dict((await session.execute(sa.select(Outcome.id, Outcome.name))).all())
    by_intervention: dict[int, list[InterventionAction]] = {}
    for action in actions:
        by_intervention.setdefault(action.intervention_id, []).append(action)

    def ancestors(condition_id: int) -> set[int]:
        out = {condition_id}
        while parents.get(condition_id) is not None:
            condition_id = parents[condition_id]
            out.add(condition_id)
        return out

    def related(a: int | None, b: int | None) -> bool:
        if a is None or b is None:
            return a is None and b is None
        return a in ancestors(b) or b in ancestors(a)

    def context(c: Claim) -> ClaimContext:
        return ClaimContext(
            c.organism_id, c.condition_id, c.cohort_id, c.sample_type, c.evidence_type.value,
            c.subject_intervention_id, c.modality.value,
        )  # fmt: skip

    # (target, outcome) -> [(claim, target-level direction)]
    questions: dict[tuple[int, int], list[tuple[Claim, EffectDirection | None]]] = {}
    for c in claims:
        # Rejected and retracted claims stay visible to reviewers, for the record, but take no
        # part in conflicts (api/store/queries/conflicts.py, test_conflicts_writes).
        if not visibility.allows(c.status, c.created_by_id) or c.status not in LIVE_STATUSES:
            continue
        direction = EffectDirection(c.direction)
        if c.subject_target_id is not None:
            bearing = [(c.subject_target_id, target_level_direction(direction, None))]
        else:
            bearing = [
                (a.target_id, target_level_direction(direction, TargetAction(a.action)))
                for a in by_intervention.get(c.subject_intervention_id or 0, [])
            ]
        for target_id, level in bearing:
            questions.setdefault((target_id, c.outcome_id), []).append((c, level))

    out: dict[tuple[str, str], dict[tuple[int, int], ModelPair]] = {}
    for (target_id, outcome_id), members in questions.items():
        pairs: dict[tuple[int, int], ModelPair] = {}
        for (a, da), (b, db_) in itertools.combinations(sorted(members, key=lambda m: m[0].id), 2):
            if not directions_oppose(da, db_):
                continue
            ca, cb = context(a), context(b)
            kind = pair_kind(ca, cb, related(a.condition_id, b.condition_id))
            pairs[(a.id, b.id)] = ModelPair(kind.value, tuple(x.value for x in differing_aspects(ca, cb)))
        if pairs:
            out[(symbols[target_id], outcomes[outcome_id])] = pairs
    return out


def api_pairs(questions: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict]:
    """The API's pairs in the shape model_pairs gives."""
    return {
        key: {pair_ids(p): ModelPair(p["kind"], tuple(aspects(p))) for p in conflict["all_pairs"]}
        for key, conflict in questions.items()
    }


# --- counting statements and loaded claims ----------------------------------------------------

# Transaction control, and planner settings for one transaction (SET LOCAL, PostgreSQL): not
# statements that read anything.
_HOUSEKEEPING = re.compile(
    r"^\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SET LOCAL|SELECT set_config\()", re.IGNORECASE
)


@dataclass
class Counter:
    statements: list[str] = field(default_factory=list)
    claims_loaded: int = 0

    def listing(self) -> str:
        return "\n".join(f"  {i + 1}. {' '.join(s.split())[:200]}" for i, s in enumerate(self.statements))


@contextmanager
def counting(db: Database) -> Iterator[Counter]:
    """SQL statements sent (transaction and PRAGMA housekeeping left out, which only SQLite sends
    through the cursor) and Claim ORM objects loaded while the block runs."""
    counter = Counter()

    def before_cursor_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not _HOUSEKEEPING.match(statement):
            counter.statements.append(statement)

    def on_load(target: Any, context: Any) -> None:
        counter.claims_loaded += 1

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    event.listen(Claim, "load", on_load)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
        event.remove(Claim, "load", on_load)
