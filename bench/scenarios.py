"""What the benchmark measures: GraphQL operations over generated data, each with a check.

- Q1: the first page (100) of claims bearing on a hot target, with their whole context;
- Q2: the conflicts of a hot target, with the first page of opposing pairs of each;
- Q3: the evidence summary of a hot target;
- Q4: text search, the first page (100) of claims containing two words;
- Q5: the 50th page of Q1 (reached by walking the cursors once);
- M1: createClaim by curators (over HTTP with 1 and 8 concurrent curators).

A check runs before any timing: it raises CheckFailed, naming what differs, when claimsdb's answer
is wrong, including (for Q1, Q3, Q4, Q5) when it differs from the hand-written baseline
(bench.baseline). The checks derive the expected answer from the database, never from constants.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import sqlalchemy as sa
import strawberry

from api.graphql.context import build_context
from api.graphql.ids import int_id_of
from api.settings import Settings
from api.store.db import Database
from bench.generate import GENERATOR_USER, HOT_TARGET, TEXT_QUERY
from schema.conflicts import opposing_pair_count
from schema.enums import EffectDirection, Role
from schema.tables import Claim, ClaimTarget, Source, User
from schema.users import Actor


class CheckFailed(AssertionError):
    """claimsdb's answer is wrong (or differs from the baseline); the message says where."""


def first_difference(a: Any, b: Any, path: str = "data") -> str | None:
    """Where two decoded JSON documents first differ, for a readable check failure."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {str(a)[:120]} vs {type(b).__name__} {str(b)[:120]}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: present in only one"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {str(a)[:120]!r} vs {str(b)[:120]!r}"


@dataclass(frozen=True)
class BenchParams:
    """Sizes of the operations; the smoke test makes them small."""

    page_size: int = 100
    deep_page: int = 50
    conflicts: int = 10
    pairs: int = 10
    target: str = HOT_TARGET
    text: str = TEXT_QUERY


@dataclass
class Prepared:
    """What the scenarios need from the database, found once before timing."""

    params: BenchParams
    target_id: int
    target_claims: int  # visible (ACCEPTED) claims bearing on the target
    deep_page: int  # the page Q5 times (deep_page of params, or the last page there is)
    deep_cursor: str | None  # endCursor of the page before it
    source_doi: str  # a generated source for M1's new claims
    run_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    document: str
    variables: Callable[[Prepared, int], dict[str, Any]]  # (prepared, sequence number)
    check: Callable[[Database, dict[str, Any], Prepared, dict[str, Any]], Awaitable[None]]
    mutation: bool = False
    has_baseline: bool = False


# --- documents ------------------------------------------------------------------------------

CLAIM_PAGE = """
query ClaimPage($target: String!, $first: Int!, $after: String) {
  claims(filter: {target: $target}, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id statement direction modality evidenceType sampleType status createdAt
      subject {
        __typename
        ... on Target { id symbol }
        ... on Intervention { id name }
      }
      targets { id symbol }
      outcome { id name }
      organism { id scientificName commonName }
      condition { id name }
      cohort { id label size }
      source { id title doi year }
      evidence { quote locator stance }
    }
  }
}
"""

CURSORS_ONLY = """
query Cursors($target: String!, $first: Int!, $after: String) {
  claims(filter: {target: $target}, first: $first, after: $after) { pageInfo { hasNextPage endCursor } }
}
"""

CONFLICTS = """
query Conflicts($target: String!, $first: Int!, $pairs: Int!) {
  conflicts(filter: {target: $target}, first: $first) {
    totalCount
    nodes {
      id kind
      target { id symbol }
      outcome { id name }
      directionCounts { direction count }
      pairs(first: $pairs) {
        totalCount
        nodes {
          kind
          left { id statement }
          right { id statement }
          differences { aspect left right }
        }
      }
    }
  }
}
"""

SUMMARY = """
query Summary($target: String!) {
  evidenceSummary(target: $target) {
    total
    target { id symbol }
    cells { direction count condition { id name } outcome { id name } }
  }
}
"""

TEXT_SEARCH = """
query TextSearch($text: String!, $first: Int!) {
  claims(filter: {text: $text}, first: $first) {
    pageInfo { hasNextPage endCursor }
    nodes { id statement createdAt evidence { quote } source { id title } }
  }
}
"""

CREATE_CLAIM = """
mutation CreateClaim($input: CreateClaimInput!) {
  createClaim(input: $input) {
    claim { id status version }
    userErrors { field message code }
  }
}
"""


# --- variables ------------------------------------------------------------------------------


def _page_variables(prepared: Prepared, _n: int) -> dict[str, Any]:
    return {"target": prepared.params.target, "first": prepared.params.page_size, "after": None}


def _deep_variables(prepared: Prepared, _n: int) -> dict[str, Any]:
    return {**_page_variables(prepared, _n), "after": prepared.deep_cursor}


def _conflict_variables(prepared: Prepared, _n: int) -> dict[str, Any]:
    p = prepared.params
    return {"target": p.target, "first": p.conflicts, "pairs": p.pairs}


def _summary_variables(prepared: Prepared, _n: int) -> dict[str, Any]:
    return {"target": prepared.params.target}


def _text_variables(prepared: Prepared, _n: int) -> dict[str, Any]:
    return {"text": prepared.params.text, "first": prepared.params.page_size}


def create_claim_variables(prepared: Prepared, n: int) -> dict[str, Any]:
    """A new claim each time: the sample type carries the run and sequence number, so no two
    share a fingerprint (and none repeats a generated claim)."""
    return {
        "input": {
            "statement": f"Benchmark claim {n}: IL-6R signalling may increase disease activity in RRMS.",
            "target": prepared.params.target,
            "outcome": "disease activity",
            "direction": "INCREASES",
            "modality": "HEDGED",
            "evidenceType": "OBSERVATIONAL",
            "organism": "human",
            "condition": "RRMS",
            "source": prepared.source_doi,
            "sampleType": f"bench {prepared.run_tag} {n}",
            "evidence": [
                {"quote": f"Patients showed increased activity in benchmark run {n}.", "locator": "Results"}
            ],
        }
    }


# --- checks ---------------------------------------------------------------------------------


def _fail(message: str) -> None:
    raise CheckFailed(message)


async def _visible_bearing(db: Database, target_id: int) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count())
                .select_from(ClaimTarget)
                .join(Claim, Claim.id == ClaimTarget.claim_id)
                .where(ClaimTarget.target_id == target_id, Claim.status == "ACCEPTED")
            )
            or 0
        )


def _check_claim_page(data: dict[str, Any], prepared: Prepared, expect_full: bool) -> None:
    connection = data["claims"]
    nodes = connection["nodes"]
    size = prepared.params.page_size
    if expect_full and len(nodes) != size:
        _fail(f"expected a full page of {size} claims, got {len(nodes)}")
    symbol_ok = all(any(t["symbol"] == prepared.params.target for t in n["targets"]) for n in nodes)
    if not symbol_ok:
        _fail(f"a claim on the page does not bear on {prepared.params.target}")
    if any(n["status"] != "ACCEPTED" for n in nodes):
        _fail("an anonymous reader was shown a claim that is not ACCEPTED")
    keys = [(n["createdAt"], int_id_of(n["id"], "Claim") or 0) for n in nodes]
    if keys != sorted(keys, reverse=True):
        _fail("claims are not newest first (createdAt, id descending)")
    if any(not n["evidence"] for n in nodes):
        _fail("a claim came without its evidence")


async def _check_first_page(
    db: Database, data: dict[str, Any], prepared: Prepared, _v: dict[str, Any]
) -> None:
    _check_claim_page(data, prepared, expect_full=prepared.target_claims >= prepared.params.page_size)
    more = prepared.target_claims > prepared.params.page_size
    if data["claims"]["pageInfo"]["hasNextPage"] != more:
        _fail(f"hasNextPage should be {more} with {prepared.target_claims} visible claims")


async def _check_deep_page(
    db: Database, data: dict[str, Any], prepared: Prepared, _v: dict[str, Any]
) -> None:
    before = (prepared.deep_page - 1) * prepared.params.page_size
    expected = min(prepared.params.page_size, prepared.target_claims - before)
    if len(data["claims"]["nodes"]) != expected:
        _fail(f"page {prepared.deep_page} should hold {expected} claims, got {len(data['claims']['nodes'])}")
    _check_claim_page(data, prepared, expect_full=False)


async def _check_conflicts(
    db: Database, data: dict[str, Any], prepared: Prepared, _v: dict[str, Any]
) -> None:
    """Direction counts and pair totals against SQL of our own; pairs really oppose, most
    similar first."""
    nodes = data["conflicts"]["nodes"]
    if not nodes:
        _fail(
            f"expected conflicts about {prepared.params.target} in generated data, got none "
            "(too few claims? the smoke test uses 300)"
        )
    async with db.read() as session:
        rows = await session.execute(
            sa.select(Claim.outcome_id, ClaimTarget.target_direction, sa.func.count())
            .join(Claim, Claim.id == ClaimTarget.claim_id)
            .where(
                ClaimTarget.target_id == prepared.target_id,
                ClaimTarget.target_direction.is_not(None),
                Claim.status == "ACCEPTED",
            )
            .group_by(Claim.outcome_id, ClaimTarget.target_direction)
        )
        counts: dict[int, dict[str, int]] = {}
        for outcome_id, direction, n in rows.all():
            counts.setdefault(outcome_id, {})[direction] = n
        pair_ids = {
            int_id_of(side["id"], "Claim")
            for q in nodes
            for p in q["pairs"]["nodes"]
            for side in (p["left"], p["right"])
        }
        directions = {
            (cid, oid): d
            for cid, oid, d in (
                await session.execute(
                    sa.select(ClaimTarget.claim_id, Claim.outcome_id, ClaimTarget.target_direction)
                    .join(Claim, Claim.id == ClaimTarget.claim_id)
                    .where(ClaimTarget.target_id == prepared.target_id, ClaimTarget.claim_id.in_(pair_ids))
                )
            ).all()
        }

    def opposed(c: dict[str, int]) -> bool:
        up, down, none = c.get("INCREASES", 0), c.get("DECREASES", 0), c.get("NO_EFFECT", 0)
        return (up > 0 and down > 0) or (none > 0 and up + down > 0)

    questions = sorted(oid for oid, c in counts.items() if opposed(c))
    if data["conflicts"]["totalCount"] != len(questions):
        _fail(
            f"conflicts.totalCount is {data['conflicts']['totalCount']}, SQL finds {len(questions)} questions"
        )
    for node in nodes:
        outcome_id = int_id_of(node["outcome"]["id"], "Outcome")
        expected = {d: n for d, n in counts.get(outcome_id or -1, {}).items()}
        got = {c["direction"]: c["count"] for c in node["directionCounts"]}
        if got != expected:
            _fail(f"direction counts for outcome {node['outcome']['name']}: got {got}, SQL counts {expected}")
        total = opposing_pair_count({EffectDirection(d): n for d, n in expected.items()})
        if node["pairs"]["totalCount"] != total:
            _fail(
                f"pairs.totalCount for {node['outcome']['name']} is {node['pairs']['totalCount']}, "
                f"expected {total}"
            )
        ranks = []
        for pair in node["pairs"]["nodes"]:
            left = directions.get((int_id_of(pair["left"]["id"], "Claim"), outcome_id))
            right = directions.get((int_id_of(pair["right"]["id"], "Claim"), outcome_id))
            changes = {"INCREASES", "DECREASES"}
            opposes = (
                (left in changes and right in changes and left != right)
                or (left == "NO_EFFECT" and right in changes)
                or (right == "NO_EFFECT" and left in changes)
            )
            if not opposes:
                _fail(f"a pair about {node['outcome']['name']} does not oppose: {left} vs {right}")
            # Modality is listed among the differences but is certainty, not context: it takes
            # no part in the order (issue 14, item 5).
            context = [d for d in pair["differences"] if d["aspect"] != "MODALITY"]
            ranks.append((pair["kind"] != "DIRECT", len(context)))
        if ranks != sorted(ranks):
            _fail(f"pairs about {node['outcome']['name']} are not most similar first: {ranks}")


async def _check_summary(db: Database, data: dict[str, Any], prepared: Prepared, _v: dict[str, Any]) -> None:
    summary = data["evidenceSummary"]
    if summary["target"] is None or summary["target"]["symbol"] != prepared.params.target:
        _fail(f"the summary is not about {prepared.params.target}")
    if summary["total"] != prepared.target_claims:
        _fail(
            f"summary total {summary['total']} != {prepared.target_claims} visible claims bearing on "
            "the target"
        )
    if sum(c["count"] for c in summary["cells"]) > summary["total"]:
        _fail("the cells count more claims than the total")


async def _check_text(db: Database, data: dict[str, Any], prepared: Prepared, _v: dict[str, Any]) -> None:
    nodes = data["claims"]["nodes"]
    if not nodes:
        _fail(f"text search for '{prepared.params.text}' found nothing in generated data")
    stems = [w.lower()[:6] for w in prepared.params.text.split()]
    for node in nodes:
        text = " ".join([node["statement"], *(e["quote"] for e in node["evidence"])]).lower()
        missing = [s for s in stems if s not in text]
        if missing:
            _fail(f"claim {node['id']} matched '{prepared.params.text}' without containing {missing}")


async def _check_created(
    db: Database, data: dict[str, Any], prepared: Prepared, variables: dict[str, Any]
) -> None:
    payload = data["createClaim"]
    if payload["userErrors"]:
        _fail(f"createClaim refused the claim: {payload['userErrors']}")
    claim = payload["claim"]
    if claim is None or claim["status"] != "DRAFT" or claim["version"] != 1:
        _fail(f"createClaim returned {claim}, expected a new DRAFT at version 1")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("Q1", "first page of a hot target's claims, whole context", CLAIM_PAGE, _page_variables,
                 _check_first_page, has_baseline=True),
        Scenario("Q2", "conflicts of a hot target, first page of pairs each", CONFLICTS, _conflict_variables,
                 _check_conflicts),
        Scenario("Q3", "evidence summary of a hot target", SUMMARY, _summary_variables, _check_summary,
                 has_baseline=True),
        Scenario("Q4", "text search, first page", TEXT_SEARCH, _text_variables, _check_text,
                 has_baseline=True),
        Scenario("Q5", "the 50th page of Q1, by cursor", CLAIM_PAGE, _deep_variables, _check_deep_page,
                 has_baseline=True),
        Scenario("M1", "createClaim by curators", CREATE_CLAIM, create_claim_variables, _check_created,
                 mutation=True),
    )
}  # fmt: skip


def select(names: str | None) -> list[Scenario]:
    """Scenarios by comma-separated names ("Q1,Q5"), all when None; unknown names are an error."""
    if not names:
        return list(SCENARIOS.values())
    chosen = [n.strip().upper() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return [SCENARIOS[n] for n in chosen]


# --- running one operation in-process -------------------------------------------------------


async def execute(
    schema: strawberry.Schema,
    db: Database,
    settings: Settings,
    document: str,
    variables: dict[str, Any],
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Run one operation as the HTTP endpoint would (a fresh context: new DataLoaders), and
    return its data; GraphQL errors raise CheckFailed."""
    context = await build_context(db, settings, None)
    if actor is not None:
        context._actor = actor  # what build_context does after recognising a token
    result = await schema.execute(document, variable_values=variables, context_value=context)
    if result.errors:
        raise CheckFailed("; ".join(f"{e.message} (path {e.path})" for e in result.errors))
    assert result.data is not None
    return result.data


def as_json(data: Any) -> Any:
    """The JSON a client decodes (what the baseline's bytes must decode to)."""
    return orjson.loads(orjson.dumps(data))


async def prepare(
    schema: strawberry.Schema, db: Database, settings: Settings, params: BenchParams
) -> Prepared:
    """Find the target, walk Q1's cursors to the page before the deep page, pick M1's source."""
    from api.store.resolve import lookup_id
    from schema.enums import VocabularyKind

    async with db.read() as session:
        target_id = await lookup_id(session, VocabularyKind.TARGET, params.target)
        generator = await session.scalar(sa.select(User.id).where(User.name == GENERATOR_USER))
        doi = await session.scalar(
            sa.select(Source.doi)
            .where(Source.doi.is_not(None), Source.created_by_id == generator)
            .order_by(Source.id)
            .limit(1)
        )
    if target_id is None:
        raise CheckFailed(
            f"the database has no target '{params.target}'; generate the data first (bench.generate)"
        )
    if doi is None:
        raise CheckFailed("the database has no generated source with a DOI; generate the data first")
    target_claims = await _visible_bearing(db, target_id)
    pages = max(1, -(-target_claims // params.page_size))
    deep_page = min(params.deep_page, pages)
    cursor: str | None = None
    for _ in range(deep_page - 1):
        data = await execute(
            schema,
            db,
            settings,
            CURSORS_ONLY,
            {"target": params.target, "first": params.page_size, "after": cursor},
        )
        cursor = data["claims"]["pageInfo"]["endCursor"]
    return Prepared(params, target_id, target_claims, deep_page, cursor, doi)


# The rare target the hot_to_rare ratios compare with: the one whose visible claims are nearest
# this many (issue 16: cost should follow the page, not the target).
RARE_CLAIMS = 100


async def prepare_rare(db: Database, prepared: Prepared, claims: int = RARE_CLAIMS) -> Prepared:
    """The same preparation for the target with about `claims` visible claims (and a conflict, so
    Q2's check has one to check)."""
    from schema.tables import Target

    counted = sa.func.count()
    async with db.read() as session:
        rows = (
            await session.execute(
                sa.select(Target.id, Target.symbol, counted)
                .join(ClaimTarget, ClaimTarget.target_id == Target.id)
                .join(Claim, Claim.id == ClaimTarget.claim_id)
                .where(Claim.status == "ACCEPTED")
                .group_by(Target.id, Target.symbol)
                .having(
                    sa.func.count(sa.case((ClaimTarget.target_direction == "INCREASES", 1))) > 0,
                    sa.func.count(sa.case((ClaimTarget.target_direction == "DECREASES", 1))) > 0,
                )
            )
        ).all()
    if not rows:
        raise CheckFailed("no target with opposing claims to compare the hot target with")
    target_id, symbol, n = min(rows, key=lambda r: (abs(r[2] - claims), r[0]))
    params = replace(prepared.params, target=symbol)
    return replace(
        prepared, params=params, target_id=target_id, target_claims=int(n), deep_page=1, deep_cursor=None
    )


async def curator_actors(db: Database, count: int) -> list[tuple[Actor, str]]:
    """`count` curators for M1, each with a fresh API token (users made on first use)."""
    from api.store.commands.users import create_user, issue_token

    out: list[tuple[Actor, str]] = []
    async with db.write(Actor(None, "bench", Role.ADMIN)) as w:
        for n in range(count):
            name = f"bench-curator-{n + 1}"
            user = (await w.session.execute(sa.select(User).where(User.name == name))).scalar_one_or_none()
            if user is None:
                user, token = await create_user(w, name, Role.CURATOR)
            else:
                token = await issue_token(w, user)
            assert user.id is not None
            out.append((Actor(user.id, user.name, Role.CURATOR), token))
    return out
