"""Helpers for the GraphQL tests: run a query in-process against `build_schema`, with the same
context the HTTP endpoint builds (`build_context(db, settings, None)`), optionally as an actor;
create users, sources and claims through the store commands; count SQL statements.

Every query operation `execute` runs that the compiled read path answers (api/graphql/compiled)
is run a second time with that path switched off, and the two answers must be the same to the
byte (data with its key order, and errors): so every query of the test suite checks that the two
paths agree. `TALLY` counts, over the session, the query operations compiled and those that fell
back to the resolvers (and why); the second run is not counted by `count_statements`.

Not a test module (no `test_` prefix); the test_graphql_*.py files import it.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
import strawberry
from graphql import ExecutionResult
from sqlalchemy import event

from api.graphql.compiled import Outcome, outcomes
from api.graphql.context import Context, build_context
from api.graphql.schema import build_schema
from api.settings import Settings
from api.store.db import Database
from schema.enums import ClaimStatus, EffectDirection, EvidenceType, Modality, Role, SourceKind
from schema.users import Actor

# The seeds (seeds/*.yaml) hold this many claims, all ACCEPTED.
SEEDED_CLAIMS = 68
# Multiple sclerosis and the conditions below it in the seeded hierarchy (seeds/vocabulary.yaml).
MS_FAMILY = frozenset(
    {
        "multiple sclerosis",
        "clinically isolated syndrome",
        "relapsing multiple sclerosis",
        "relapsing-remitting multiple sclerosis",
        "progressive multiple sclerosis",
        "secondary progressive multiple sclerosis",
        "primary progressive multiple sclerosis",
        "experimental autoimmune encephalomyelitis",
    }
)
# An admin with no user row: may import claims as ACCEPTED, as the seed loader does.
ADMIN = Actor(None, "test-admin", Role.ADMIN)

_SCHEMAS: dict[tuple[Any, ...], strawberry.Schema] = {}


def production_settings(settings: Settings, **overrides: Any) -> Settings:
    """The test database's settings as production runs them (introspection and GraphiQL off),
    with `overrides` (limits, timeouts) on top."""
    values: dict[str, Any] = {
        "database_url": settings.database_url,
        "pool_size": settings.pool_size,
        "introspection": False,
        "graphiql": False,
    }
    values.update(overrides)
    return Settings(**values)


def schema_for(settings: Settings) -> strawberry.Schema:
    """`build_schema(settings)`, built once per distinct set of schema-relevant settings (the
    database URL differs per test but does not change the schema)."""
    key = (
        settings.max_query_depth,
        settings.max_query_aliases,
        settings.max_query_tokens,
        settings.max_query_cost,
        settings.introspection,
        settings.graphiql,
        settings.compiled_queries,
    )
    if key not in _SCHEMAS:
        _SCHEMAS[key] = build_schema(settings)
    return _SCHEMAS[key]


async def make_context(db: Database, settings: Settings, actor: Actor | None = None) -> Context:
    """The context an HTTP request without a token gets; `actor` stands in for a valid token."""
    context = await build_context(db, settings, None)
    if actor is not None:
        # What build_context does after recognising a token (tests need no HTTP request).
        context._actor = actor
    return context


@dataclass
class CompiledTally:
    """Query operations over the test session: answered by the compiled path, or by the
    resolvers (with the reasons the compiled path gave)."""

    compiled: int = 0
    fell_back: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def record(self, outcome: Outcome) -> None:
        if outcome.compiled:
            self.compiled += 1
        else:
            self.fell_back += 1
            self.reasons[outcome.reason] += 1

    def summary(self) -> str:
        common = ", ".join(f"{reason} ({n})" for reason, n in self.reasons.most_common(5))
        return (
            f"{self.compiled} query operations compiled (each also run by the resolvers, with "
            f"equal answers), {self.fell_back} answered by the resolvers; most common reasons: {common}"
        )


TALLY = CompiledTally()

# False while the resolvers re-run an operation for comparison: count_statements skips those.
_COUNTED: ContextVar[bool] = ContextVar("graphql_client_counted", default=True)


async def execute(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    outcome: list[Outcome] | None = None,
) -> ExecutionResult:
    """Run one operation; when the compiled path answered it, check the resolvers answer the
    same. `outcome`, when given, receives what the compiled path did (nothing for a mutation)."""
    context = await make_context(db, settings, actor)
    with outcomes() as seen:
        result = await schema_for(settings).execute(query, variable_values=variables, context_value=context)
    for happened in seen:
        TALLY.record(happened)
    if outcome is not None:
        outcome.extend(seen)
    if any(o.compiled for o in seen):
        await _same_without_compiling(db, settings, query, variables, actor, result)
    return result


async def _same_without_compiling(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None,
    actor: Actor | None,
    compiled: ExecutionResult,
) -> None:
    resolvers = schema_for(settings.model_copy(update={"compiled_queries": False}))
    token = _COUNTED.set(False)
    try:
        context = await make_context(db, settings, actor)
        ordinary = await resolvers.execute(query, variable_values=variables, context_value=context)
    finally:
        _COUNTED.reset(token)
    got, expected = orjson.dumps(compiled.data), orjson.dumps(ordinary.data)
    assert got == expected, (
        "the compiled path and the resolvers answer differently\n"
        f"query: {query}\nvariables: {variables}\ncompiled:  {got[:3000]!r}\nresolvers: {expected[:3000]!r}"
    )
    assert _formatted_errors(compiled) == _formatted_errors(ordinary), (
        f"errors differ\ncompiled: {describe_errors(compiled)}\nresolvers: {describe_errors(ordinary)}"
    )


def _formatted_errors(result: ExecutionResult) -> bytes:
    return orjson.dumps([error.formatted for error in result.errors or []])


def describe_errors(result: ExecutionResult) -> str:
    return "; ".join(
        f"{e.message} (path={e.path}, extensions={e.extensions}, original={e.original_error!r})"
        for e in result.errors or []
    )


async def gql(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Run a query that must succeed; returns its data."""
    result = await execute(db, settings, query, variables, actor=actor)
    assert not result.errors, f"expected no errors, got: {describe_errors(result)}\nquery: {query}"
    assert result.data is not None, "expected data, got none"
    return result.data


async def gql_error(
    db: Database,
    settings: Settings,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
) -> list[Any]:
    """Run a query that must fail with GraphQL errors (never an unexpected, masked one);
    returns the errors."""
    result = await execute(db, settings, query, variables, actor=actor)
    assert result.errors, f"expected a GraphQL error, got data: {result.data}\nquery: {query[:300]}"
    for error in result.errors:
        assert error.message != "Internal server error.", (
            f"expected a client error, got a masked internal error: {describe_errors(result)}"
        )
    return list(result.errors)


# --- global IDs -----------------------------------------------------------------------------


def global_id(type_name: str, key: int | str) -> str:
    """Built here independently of api.graphql.ids, so a change to the ID format shows up."""
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def decode_id(value: str) -> tuple[str, int]:
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    type_name, _, key = raw.partition(":")
    return type_name, int(key)


def int_id(value: str) -> int:
    return decode_id(value)[1]


# --- writing test data through the store commands --------------------------------------------


async def create_user_with_token(db: Database, name: str, role: Role) -> tuple[Actor, str]:
    """A user (created through the store command), the Actor their token gives, and the token."""
    from api.store.commands.users import create_user as create_user_command

    async with db.write(ADMIN) as w:
        user, token = await create_user_command(w, name, role)
    assert user.id is not None
    return Actor(user.id, name, role), token


async def create_user(db: Database, name: str, role: Role) -> Actor:
    return (await create_user_with_token(db, name, role))[0]


async def create_source(
    db: Database,
    title: str,
    *,
    kind: SourceKind = SourceKind.PRIMARY_RESEARCH,
    doi: str | None = None,
    pmid: str | None = None,
    year: int | None = None,
    published: date | None = None,
    derived_from: str | None = None,
    actor: Actor = ADMIN,
) -> int:
    """A source through the store command; `derived_from` a DOI, PMID, URL or source global ID
    (decoded here: the store takes ids)."""
    from api.store.commands.sources import create_source as create_source_command
    from schema.records import SourceRecord

    async with db.write(actor) as w:
        source = await create_source_command(
            w,
            SourceRecord(
                kind=kind,
                title=title,
                authors=["Test A"],
                doi=doi,
                pmid=pmid,
                year=year,
                published=published,
                derived_from=store_reference(derived_from, "Source"),
            ),
        )
    assert source.id is not None
    return source.id


@dataclass
class ClaimSpec:
    """What a test claim needs; everything not given is a harmless default from the seeds."""

    statement: str
    source: str  # DOI, PMID or source global ID
    target: str | None = None
    intervention: str | None = None
    outcome: str = "disease activity"
    direction: EffectDirection = EffectDirection.DECREASES
    modality: Modality = Modality.ASSERTED
    evidence_type: EvidenceType = EvidenceType.OBSERVATIONAL
    organism: str = "human"
    condition: str | None = None
    sample_type: str | None = None
    cohort: tuple[str, int | None] | None = None  # (label, size)
    comparator: tuple[str, int | None] | None = None
    quotes: Sequence[str] = field(default_factory=lambda: ["A verbatim quote."])


def store_reference(value: str | None, type_name: str) -> int | str | None:
    """What the store takes for a reference a test names by text or global ID: the global ID's
    id (as the API decodes it), else the text."""
    if value is None:
        return None
    try:
        found_type, key = decode_id(value)
    except (ValueError, UnicodeDecodeError):
        return value
    return key if found_type == type_name else value


def _claim_input(spec: ClaimSpec) -> Any:
    from schema.records import ClaimRecord, CohortRecord, EvidenceRecord

    def cohort(value: tuple[str, int | None] | None) -> CohortRecord | None:
        return None if value is None else CohortRecord(label=value[0], size=value[1])

    return ClaimRecord(
        statement=spec.statement,
        outcome=spec.outcome,
        direction=spec.direction,
        modality=spec.modality,
        evidence_type=spec.evidence_type,
        organism=spec.organism,
        source=store_reference(spec.source, "Source"),
        evidence=[EvidenceRecord(quote=q) for q in spec.quotes],
        target=spec.target,
        intervention=spec.intervention,
        condition=spec.condition,
        cohort=cohort(spec.cohort),
        comparator=cohort(spec.comparator),
        sample_type=spec.sample_type,
    )


async def create_claims(
    db: Database,
    specs: Sequence[ClaimSpec],
    *,
    actor: Actor = ADMIN,
    status: ClaimStatus | None = ClaimStatus.ACCEPTED,
) -> list[int]:
    """Create claims in one write transaction (ACCEPTED by default: an admin import, as the seeds
    do; pass status=None for what a curator gets, a DRAFT)."""
    from api.store.commands.claims import create_claim

    ids: list[int] = []
    async with db.write(actor) as w:
        for spec in specs:
            claim = await create_claim(w, _claim_input(spec), status=status)
            assert claim.id is not None
            ids.append(claim.id)
    return ids


# --- counting SQL statements --------------------------------------------------------------

_HOUSEKEEPING = re.compile(r"^\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"  {i + 1}. {s.splitlines()[0][:160]}" for i, s in enumerate(self.statements))


@contextmanager
def count_statements(db: Database) -> Iterator[StatementLog]:
    """Every SQL statement the engine sends while the block runs, except transaction and SQLite
    PRAGMA housekeeping (which only SQLite sends through the cursor, so it is left out on both)
    and the resolvers' second run of a compiled query (see `execute`)."""
    log = StatementLog()

    def before_cursor_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not _HOUSEKEEPING.match(statement) and _COUNTED.get():
            log.statements.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


# --- an independent view of every claim, for computing what a filter or ordering should give ----

ALL_CLAIMS_QUERY = """
query AllClaims($status: [ClaimStatus!]) {
  claims(first: 100, filter: {status: $status}) {
    totalCount
    pageInfo { hasNextPage }
    nodes {
      id statement direction modality evidenceType status createdAt
      subject {
        __typename
        ... on Target { symbol }
        ... on Intervention { name actions { action target { symbol } } }
      }
      outcome { name }
      organism { scientificName commonName taxonId }
      condition { name }
      cohort { size }
      source { id kind doi pmid year published }
      evidence { quote }
    }
  }
}
"""

_TURNED_OVER = {"INCREASES": "DECREASES", "DECREASES": "INCREASES"}


@dataclass(frozen=True)
class ClaimRow:
    """One claim as the API shows it, flattened for predicates and sort keys."""

    id: str
    statement: str
    direction: str
    modality: str
    evidence_type: str
    status: str
    created_at: str
    subject_type: str
    subject: str
    actions: tuple[tuple[str, str], ...]  # (action, target symbol) when the subject is an intervention
    outcome: str
    organism: tuple[str, str | None, int]  # scientific name, common name, taxon id
    condition: str | None
    cohort_size: int | None
    source_id: str
    source_kind: str
    source_doi: str | None
    source_pmid: str | None
    source_year: int | None
    source_published: date | None
    quotes: tuple[str, ...]

    @property
    def int_id(self) -> int:
        return int_id(self.id)

    def target_directions(self) -> dict[str, str | None]:
        """The targets this claim bears on, each with the claim's direction read at that target
        (domain.md: an inhibitor's effect turned over, an activator's kept, binds/modulates none)."""
        if self.subject_type == "Target":
            return {self.subject: self.direction}
        out: dict[str, str | None] = {}
        for action, symbol in self.actions:
            if action == "ACTIVATES":
                out[symbol] = self.direction
            elif action == "INHIBITS":
                out[symbol] = _TURNED_OVER.get(self.direction, self.direction)
            else:
                out[symbol] = None
        return out

    def bears_on(self, symbol: str) -> bool:
        return symbol in self.target_directions()


def _row(node: dict[str, Any]) -> ClaimRow:
    subject = node["subject"]
    is_target = subject["__typename"] == "Target"
    source = node["source"]
    return ClaimRow(
        id=node["id"],
        statement=node["statement"],
        direction=node["direction"],
        modality=node["modality"],
        evidence_type=node["evidenceType"],
        status=node["status"],
        created_at=node["createdAt"],
        subject_type=subject["__typename"],
        subject=subject["symbol"] if is_target else subject["name"],
        actions=() if is_target else tuple((a["action"], a["target"]["symbol"]) for a in subject["actions"]),
        outcome=node["outcome"]["name"],
        organism=(
            node["organism"]["scientificName"],
            node["organism"]["commonName"],
            node["organism"]["taxonId"],
        ),
        condition=node["condition"]["name"] if node["condition"] else None,
        cohort_size=node["cohort"]["size"] if node["cohort"] else None,
        source_id=source["id"],
        source_kind=source["kind"],
        source_doi=source["doi"],
        source_pmid=source["pmid"],
        source_year=source["year"],
        source_published=date.fromisoformat(source["published"]) if source["published"] else None,
        quotes=tuple(e["quote"] for e in node["evidence"]),
    )


async def all_claims(
    db: Database, settings: Settings, *, actor: Actor | None = None, status: list[str] | None = None
) -> list[ClaimRow]:
    """Every claim the viewer may see (at most 100, which the tests never exceed), unfiltered."""
    data = await gql(db, settings, ALL_CLAIMS_QUERY, {"status": status}, actor=actor)
    connection = data["claims"]
    assert not connection["pageInfo"]["hasNextPage"], "the oracle expects at most 100 claims"
    assert connection["totalCount"] == len(connection["nodes"])
    return [_row(node) for node in connection["nodes"]]


def opposing(a: str | None, b: str | None) -> bool:
    """Increases against decreases, or a change against no effect; MIXED opposes nothing."""
    changes = {"INCREASES", "DECREASES"}
    if a is None or b is None or "MIXED" in (a, b):
        return False
    if a in changes and b in changes:
        return a != b
    return (a == "NO_EFFECT") != (b == "NO_EFFECT")


def conflicting_ids(rows: Sequence[ClaimRow]) -> set[str]:
    """Claims that oppose another of `rows` on a shared target and the same outcome."""
    out: set[str] = set()
    for a in rows:
        for b in rows:
            if a.id == b.id or a.outcome != b.outcome:
                continue
            da, db_ = a.target_directions(), b.target_directions()
            if any(opposing(da[t], db_[t]) for t in set(da) & set(db_)):
                out.add(a.id)
    return out
