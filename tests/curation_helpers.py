"""Helpers for the curation tests (test_curation_*.py, test_audit.py, test_cli.py): the write API
over HTTP, as curators and reviewers with real API tokens.

Requests go through the real ASGI app (`api.app.create_app`) over `httpx.ASGITransport`, so the
token is read from the `Authorization` header and the request id from `X-Request-Id` exactly as
in production. ASGITransport does not run the lifespan, so `open_api` sets `app.state.db` itself.

Test data that is not what a test is about (users, a small vocabulary, a source) is written
through the store commands in one transaction (`build_world`), as an admin would.

Not a test module (no `test_` prefix).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from api.app import create_app
from api.settings import Settings
from api.store.audit import VerifyResult, verify_log
from api.store.db import Database
from schema.enums import Role, TargetAction
from schema.records import SourceRecord
from schema.tables import AuditEvent
from schema.users import Actor

ADMIN = Actor(None, "test", Role.ADMIN)

# What a mutation returns its object as, and the fields the tests read from it. Claim payloads
# select CLAIM_STATE unless a test asks for more (CLAIM_FIELDS resolves a dozen relations).
CLAIM_STATE = "id statement status version sampleType"
CLAIM_FIELDS = """
    id statement status version sampleType direction
    subject { __typename ... on Target { symbol } ... on Intervention { name } }
    outcome { name } organism { scientificName } condition { name }
    cohort { label size femaleCount }
    statistics { pValue effectSize }
    source { id doi }
    evidence { quote locator stance source { id } }
    reviews { decision comment reviewer { name } }
    createdBy { name }
"""
PAYLOADS: dict[str, tuple[str, str, str]] = {
    # mutation: (input type, payload field, selection)
    "createSource": ("CreateSourceInput", "source", "id kind title doi pmid url derivedFrom { id title }"),
    "createTarget": ("CreateTargetInput", "target", "id symbol name kind aliases xrefs"),
    "createIntervention": (
        "CreateInterventionInput",
        "intervention",
        "id name kind aliases actions { action target { symbol } }",
    ),
    "createCondition": ("CreateConditionInput", "condition", "id name aliases xrefs parent { name }"),
    "createOutcome": ("CreateOutcomeInput", "outcome", "id name kind aliases"),
    "addAlias": (
        "AddAliasInput",
        "node",
        "id ... on Target { symbol aliases } ... on Intervention { name aliases } "
        "... on Condition { name aliases } ... on Outcome { name aliases }",
    ),
    "createClaim": ("CreateClaimInput", "claim", CLAIM_STATE),
    "updateClaim": ("UpdateClaimInput", "claim", CLAIM_STATE),
    "addEvidence": ("AddEvidenceInput", "claim", CLAIM_STATE),
    "submitClaim": ("ClaimTransitionInput", "claim", CLAIM_STATE),
    "reviewClaim": ("ReviewClaimInput", "claim", CLAIM_STATE),
    "retractClaim": ("RetractClaimInput", "claim", CLAIM_STATE),
    "reviewRevision": ("ReviewRevisionInput", "revision", "id status baseVersion decisionComment"),
    "withdrawRevision": ("WithdrawRevisionInput", "revision", "id status baseVersion"),
    # curation depth: flags and source standing
    "flagClaim": ("FlagClaimInput", "flag", "id comment createdBy { name } claim { id openFlagCount }"),
    "resolveFlag": (
        "ResolveFlagInput",
        "flag",
        "id resolution resolvedAt resolvedBy { name } claim { id openFlagCount }",
    ),
    "setSourceStanding": ("SetSourceStandingInput", "source", "id standing standingNote standingSince"),
}

USER_ERROR_FIELDS = "userErrors { field message code }"


def mutation_document(name: str, fields: str | None = None) -> str:
    input_type, payload_field, selection = PAYLOADS[name]
    selection = fields or selection
    return (
        f"mutation Run($input: {input_type}!) {{ {name}(input: $input) {{ "
        f"{payload_field} {{ {selection} }} {USER_ERROR_FIELDS} }} }}"
    )


def decode_global_id(value: str) -> tuple[str, int]:
    """(type name, integer id); decoded here independently of api.graphql.ids."""
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    type_name, _, key = raw.partition(":")
    return type_name, int(key)


def int_id(value: str) -> int:
    return decode_global_id(value)[1]


def global_id(type_name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


# --- the HTTP client --------------------------------------------------------------------------


@dataclass
class Api:
    """One app, one httpx client; every method checks the response is a clean GraphQL answer."""

    client: httpx.AsyncClient
    db: Database

    async def request(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST a query; the decoded body. Fails on anything but HTTP 200 with a JSON body, on a
        masked internal error, and on a leaked "database is locked"."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        text = response.text
        assert response.status_code == 200, f"HTTP {response.status_code}: {text[:500]}"
        assert "locked" not in text.lower(), f"a 'database is locked' error reached the client: {text[:500]}"
        body = response.json()
        for error in body.get("errors") or []:
            assert error.get("message") != "Internal server error.", f"masked internal error: {text[:500]}"
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """A query that must succeed; its data."""
        body = await self.request(query, variables, token=token)
        assert not body.get("errors"), f"expected no errors, got {body['errors']}\nquery: {query[:300]}"
        return body["data"]

    async def errors(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """A request that must fail with top-level GraphQL errors; the errors."""
        body = await self.request(query, variables, token=token, headers=headers)
        assert body.get("errors"), f"expected a top-level error, got {body.get('data')}"
        return body["errors"]

    async def mutate(
        self,
        name: str,
        input: dict[str, Any],
        *,
        token: str | None,
        headers: dict[str, str] | None = None,
        fields: str | None = None,
    ) -> dict[str, Any]:
        """Run a mutation that must not fail at the top level; its payload (`fields` replaces
        the default selection of the changed object)."""
        document = mutation_document(name, fields)
        body = await self.request(document, {"input": input}, token=token, headers=headers)
        assert not body.get("errors"), f"{name}: expected a payload, got top-level errors {body['errors']}"
        return body["data"][name]

    async def ok(
        self,
        name: str,
        input: dict[str, Any],
        *,
        token: str | None,
        headers: dict[str, str] | None = None,
        fields: str | None = None,
    ) -> dict[str, Any]:
        """A mutation that must succeed; the changed object."""
        payload = await self.mutate(name, input, token=token, headers=headers, fields=fields)
        assert payload["userErrors"] == [], f"{name} refused {input}: {payload['userErrors']}"
        obj = payload[PAYLOADS[name][1]]
        assert obj is not None, f"{name} returned no object and no userErrors"
        return obj

    async def refused(self, name: str, input: dict[str, Any], *, token: str | None) -> list[dict[str, Any]]:
        """A mutation that must be refused with userErrors (and return no object)."""
        payload = await self.mutate(name, input, token=token)
        assert payload["userErrors"], f"{name} should have been refused, but returned {payload}"
        assert payload[PAYLOADS[name][1]] is None, f"{name} was refused but returned an object: {payload}"
        return payload["userErrors"]

    async def top_level(self, name: str, input: dict[str, Any], *, token: str | None) -> list[str | None]:
        """A mutation that must fail with top-level errors; their extensions.code values."""
        body = await self.request(mutation_document(name), {"input": input}, token=token)
        assert body.get("errors"), f"{name} should have failed at the top level, got {body.get('data')}"
        assert body.get("data") is None or body["data"].get(name) is None, body
        return error_codes(body)

    async def state(self, claim_id: str, *, token: str | None) -> tuple[str, int] | None:
        """(status, version) of a claim as this caller sees it; None when it is not visible."""
        data = await self.data(
            "query($id: ID!) { node(id: $id) { __typename ... on Claim { status version } } }",
            {"id": claim_id},
            token=token,
        )
        node = data["node"]
        if node is None:
            return None
        assert node["__typename"] == "Claim", f"{claim_id} is a {node['__typename']}, not a Claim"
        return node["status"], node["version"]

    async def claim(self, claim_id: str, *, token: str | None) -> dict[str, Any] | None:
        data = await self.data(
            f"query($id: ID!) {{ node(id: $id) {{ ... on Claim {{ {CLAIM_FIELDS} }} }} }}",
            {"id": claim_id},
            token=token,
        )
        return data["node"]


@asynccontextmanager
async def open_api(settings: Settings, db: Database) -> AsyncIterator[Api]:
    app = create_app(settings, database=db)
    app.state.db = db  # ASGITransport does not run the lifespan, which would set it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test", timeout=60) as client:
        yield Api(client, db)


# --- users and a small world ------------------------------------------------------------------


async def add_user(db: Database, name: str, role: Role) -> tuple[int, str]:
    """A user and their API token, made by the store command as an admin would."""
    from api.store.commands.users import create_user

    async with db.write(ADMIN) as w:
        user, token = await create_user(w, name, role)
    assert user.id is not None
    return user.id, token


@dataclass
class World:
    """Users with tokens and the names a claim needs, all made in one transaction."""

    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    source_doi: str = "10.1000/world.1"
    source_id: str = ""
    target: str = "IL-6R"
    intervention: str = "tocilizumab"
    condition: str = "RRMS"
    outcome: str = "relapse rate"
    organism: str = "human"


# name → role; two of each writing role, so "another curator" and "another reviewer" exist.
WORLD_USERS = {
    "alice": Role.CURATOR,
    "bob": Role.CURATOR,
    "rita": Role.REVIEWER,
    "rex": Role.REVIEWER,
    "ray": Role.READER,
    "ada": Role.ADMIN,
}


async def build_world(db: Database) -> World:
    from api.store.commands import sources as source_cmds
    from api.store.commands import vocabulary as vocab
    from api.store.commands.users import create_user
    from schema.enums import SourceKind

    world = World()
    async with db.write(ADMIN) as w:
        for name, role in WORLD_USERS.items():
            user, token = await create_user(w, name, role)
            assert user.id is not None
            world.tokens[name], world.user_ids[name] = token, user.id
        await vocab.create_organism(w, vocab.OrganismInput(9606, "Homo sapiens", "human"))
        await vocab.create_organism(w, vocab.OrganismInput(10090, "Mus musculus", "mouse"))
        await vocab.create_target(
            w,
            vocab.TargetInput(
                "IL-6R", "interleukin 6 receptor", "gene product", ["IL6R", "CD126"], ["HGNC:6019"]
            ),
        )
        await vocab.create_target(
            w, vocab.TargetInput("MIF", "macrophage migration inhibitory factor", "gene")
        )
        await vocab.create_intervention(
            w,
            vocab.InterventionInput(
                "tocilizumab",
                "biologic",
                ["Actemra"],
                [],
                [vocab.ActionInput("IL-6R", TargetAction.INHIBITS)],
            ),
        )
        await vocab.create_condition(w, vocab.ConditionInput("multiple sclerosis", None, ["MS"]))
        await vocab.create_condition(
            w, vocab.ConditionInput("relapsing-remitting multiple sclerosis", "MS", ["RRMS"])
        )
        await vocab.create_outcome(w, vocab.OutcomeInput("relapse rate", "clinical course"))
        await vocab.create_outcome(w, vocab.OutcomeInput("CSF MIF level", "biomarker level"))
        source = await source_cmds.create_source(
            w,
            SourceRecord(kind=SourceKind.PRIMARY_RESEARCH, title="A world of claims", doi=world.source_doi),
        )
        assert source.id is not None
        world.source_id = global_id("Source", source.id)
    return world


def claim_input(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid CreateClaimInput; keyword arguments replace (or, set to None, drop) fields."""
    data: dict[str, Any] = {
        "statement": "IL-6R signalling lowers the relapse rate in RRMS.",
        "target": world.target,
        "outcome": world.outcome,
        "direction": "DECREASES",
        "modality": "ASSERTED",
        "evidenceType": "OBSERVATIONAL",
        "organism": world.organism,
        "condition": world.condition,
        "source": world.source_doi,
        "evidence": [{"quote": "Relapses were fewer.", "locator": "Results, para 2"}],
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


async def create_claim(
    api: Api, world: World, author: str, *, fields: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """A claim entered by `author` over HTTP (a DRAFT unless `submit=True`)."""
    return await api.ok(
        "createClaim", claim_input(world, **overrides), token=world.tokens[author], fields=fields
    )


async def accepted_claim(
    api: Api, world: World, author: str, reviewer: str, **overrides: Any
) -> dict[str, Any]:
    claim = await create_claim(api, world, author, submit=True, **overrides)
    return await api.ok(
        "reviewClaim",
        {"id": claim["id"], "expectedVersion": claim["version"], "decision": "ACCEPT"},
        token=world.tokens[reviewer],
    )


# --- reading the database directly -----------------------------------------------------------

COUNTED_TABLES = (
    "claim",
    "evidence",
    "cohort",
    "review",
    "source",
    "target",
    "target_alias",
    "target_xref",
    "intervention",
    "intervention_alias",
    "condition",
    "outcome",
    "outcome_alias",
    "audit_event",
)


async def counts(db: Database, tables: Sequence[str] = COUNTED_TABLES) -> dict[str, int]:
    """Rows per table, to show a refused write stored nothing."""
    async with db.read() as session:
        return {
            table: int(await session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)
            for table in tables
        }


async def audit_events(db: Database) -> list[AuditEvent]:
    async with db.read() as session:
        return list((await session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))).all())


async def events_after(db: Database, last_id: int) -> list[AuditEvent]:
    async with db.read() as session:
        return list(
            (
                await session.scalars(
                    sa.select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)
                )
            ).all()
        )


async def last_event_id(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0)


async def verify(db: Database) -> VerifyResult:
    async with db.read() as session:
        return await verify_log(session)


def describe(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)[:2000]


async def gather_all(*coros: Any) -> list[Any]:
    """asyncio.gather that lets every request finish before reporting the first failure."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)
