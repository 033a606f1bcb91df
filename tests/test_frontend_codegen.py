"""A frontend's generated TypeScript still compiles against api/schema.graphql (issue 17, "Done
when"): the typed documents in tests/node/src (claims with a filter, conflicts, the evidence
summary, createClaim) go through graphql-codegen's client preset and `tsc --noEmit` in strict
mode; a schema change that breaks them fails the build; and the trusted-documents manifest the
preset writes runs as is on a server in CLAIMSDB_PERSISTED_ONLY mode."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from graphql_client import create_user_with_token, production_settings
from node_tools import node_project, run_node_tool

from api.app import create_app
from api.settings import PROJECT_ROOT, Settings
from api.store.db import Database
from schema.enums import Role

SCHEMA = PROJECT_ROOT / "api" / "schema.graphql"


def codegen(schema: Path = SCHEMA) -> Path:
    """Runs graphql-codegen into tests/node/generated; returns that folder."""
    project = node_project()
    generated = project / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    result = run_node_tool(
        "graphql-codegen", "--config", "codegen.ts", env={**os.environ, "CLAIMSDB_SCHEMA": str(schema)}
    )
    assert result.returncode == 0, (
        f"graphql-codegen failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return generated


_GENERATED_FROM_SCHEMA: list[Path] = []


def generated_from_schema() -> Path:
    """tests/node/generated from api/schema.graphql, made once per session."""
    if not _GENERATED_FROM_SCHEMA:
        _GENERATED_FROM_SCHEMA.append(codegen())
    return _GENERATED_FROM_SCHEMA[0]


def typecheck() -> tuple[bool, str]:
    result = run_node_tool("tsc", "--noEmit", "-p", "tsconfig.json")
    return result.returncode == 0, result.stdout + result.stderr


def test_the_frontends_typescript_compiles_and_a_breaking_change_does_not(tmp_path: Path) -> None:
    generated = generated_from_schema()
    assert (generated / "graphql.ts").exists() and (generated / "persisted-documents.json").exists()
    ok, output = typecheck()
    assert ok, f"tsc --noEmit (strict) failed against api/schema.graphql:\n{output[-3000:]}"

    # The same code against a schema where an evidence cell's count may be null: strict mode
    # refuses `... + cell.count` in src/client.ts, so the check would catch a breaking change.
    sdl = SCHEMA.read_text()
    changed = re.sub(r"(type EvidenceCell \{[^}]*?\bcount: )Int!", r"\1Int", sdl, count=1)
    assert changed != sdl
    broken = tmp_path / "schema.graphql"
    broken.write_text(changed)
    kept = shutil.copytree(generated, tmp_path / "generated")
    try:
        codegen(broken)
        ok, output = typecheck()
    finally:  # leave tests/node/generated as api/schema.graphql makes it
        shutil.rmtree(generated, ignore_errors=True)
        shutil.copytree(kept, generated)
    assert not ok and "client.ts" in output and "null" in output, output[-3000:]


def operation_name(document: str) -> str:
    found = re.search(r"(query|mutation) (\w+)", document)
    assert found is not None, document
    return found.group(2)


@asynccontextmanager
async def client_for(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://claimsdb.test") as client:
        yield client


async def test_the_codegen_manifest_runs_in_trusted_mode(seeded_db: Database, settings: Settings) -> None:
    manifest = generated_from_schema() / "persisted-documents.json"
    documents: dict[str, str] = json.loads(manifest.read_text())
    ids = {operation_name(body): key for key, body in documents.items()}
    assert set(ids) == {"ClaimsPage", "TargetConflicts", "EvidenceSummary", "CreateClaim"}
    _, token = await create_user_with_token(seeded_db, "cora", Role.CURATOR)
    trusted = production_settings(settings, persisted_documents=manifest, persisted_only=True)
    async with client_for(trusted, seeded_db) as client:

        async def run(name: str, variables: dict[str, object], **headers: str) -> dict[str, object]:
            # What a client using the preset's `__meta__.hash` sends.
            payload = {"documentId": ids[name], "variables": variables}
            response = await client.post("/graphql", json=payload, headers=headers)
            assert response.status_code == 200, response.text[:500]
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        page = await run("ClaimsPage", {"filter": {"target": "IL-6R", "organism": "human"}, "first": 5})
        assert page["claims"]["totalCount"] > 0  # type: ignore[index]
        conflicts = await run("TargetConflicts", {"target": "MIF", "first": 2})
        assert conflicts["conflicts"]["totalCount"] > 0  # type: ignore[index]
        summary = await run("EvidenceSummary", {"target": "IL-6R"})
        assert summary["evidenceSummary"]["total"] > 0  # type: ignore[index]
        created = await run(
            "CreateClaim",
            {
                "input": {
                    "statement": "A claim entered through a trusted document.",
                    "source": "10.1016/j.jns.2022.120320",
                    "target": "MIF",
                    "outcome": "fever",
                    "direction": "INCREASES",
                    "modality": "HEDGED",
                    "evidenceType": "OBSERVATIONAL",
                    "organism": "human",
                    "evidence": [{"quote": "MIF in the cerebrospinal fluid"}],
                }
            },
            authorization=f"Bearer {token}",
        )
        assert created["createClaim"]["userErrors"] == []  # type: ignore[index]
        refused = await client.post("/graphql", json={"query": "{ __typename }"})
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
