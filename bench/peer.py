"""PostGraphile v4 as a peer: a GraphQL API generated from the same PostgreSQL tables.

`npm install postgraphile@4` (with postgraphile-plugin-connection-filter, so a claim list can be
filtered through claim_target as claimsdb's is) into a cache directory, then node serves the
benchmark database on a free local port. Its schema differs (it is generated from the tables), so
Q1 and Q5 are written in its terms and compared with claimsdb's answer modulo shape: the same
claims in the same order with the same fields. Skipped, with the reason, when node or npm is
missing, the install fails, or the server does not start.

The ratio is over HTTP at concurrency 1 for both (claimsdb's p50 ÷ PostGraphile's p50).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.settings import Settings
from bench.baseline import gid
from bench.http_load import free_port, load, spawn, stop, tail
from bench.scenarios import CheckFailed, Prepared, first_difference

PACKAGES = ("postgraphile@4", "postgraphile-plugin-connection-filter@2")
INSTALL_SECONDS = 600

SERVER_JS = """
const http = require("http");
const { postgraphile } = require("postgraphile");
const ConnectionFilterPlugin = require("postgraphile-plugin-connection-filter");
const [connection, port] = [process.env.PEER_DATABASE_URL, Number(process.env.PEER_PORT)];
http.createServer(postgraphile(connection, "public", {
  appendPlugins: [ConnectionFilterPlugin],
  graphileBuildOptions: { connectionFilterRelations: true },
  disableQueryLog: true,
  dynamicJson: true,
  disableDefaultMutations: true,
  retryOnInitFail: false,
  enableQueryBatching: false,
})).listen(port, "127.0.0.1", () => console.log("listening on " + port));
"""

CLAIM_PAGE = """
query PeerClaimPage($target: Int!, $first: Int!, $after: Cursor) {
  allClaims(
    first: $first, after: $after, orderBy: [CREATED_AT_DESC, ID_DESC],
    filter: {
      status: {equalTo: "ACCEPTED"}
      claimTargetsByClaimId: {some: {targetId: {equalTo: $target}}}
    }
  ) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id statement direction modality evidenceType sampleType status createdAt
      targetBySubjectTargetId { id symbol }
      interventionBySubjectInterventionId { id name }
      claimTargetsByClaimId(orderBy: TARGET_ID_ASC) { nodes { targetByTargetId { id symbol } } }
      outcomeByOutcomeId { id name }
      organismByOrganismId { id scientificName commonName }
      conditionByConditionId { id name }
      cohortByCohortId { id label size }
      sourceBySourceId { id title doi year }
      evidencesByClaimId(orderBy: POSITION_ASC) { nodes { quote locator stance } }
    }
  }
}
"""


class PeerUnavailable(Exception):
    """PostGraphile cannot run here; the message says why."""


def _run(command: list[str], cwd: Path, timeout: float) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerUnavailable(f"{' '.join(command[:3])} failed: {exc}") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise PeerUnavailable(f"{' '.join(command[:3])} exited with {done.returncode}: {tail}")


def install(directory: Path) -> Path:
    """PostGraphile in `directory` (installed once, then reused); returns the server script."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise PeerUnavailable("node and npm are needed for PostGraphile and are not on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    ready = all(
        (directory / "node_modules" / p.rsplit("@", 1)[0] / "package.json").is_file() for p in PACKAGES
    )
    if not ready:
        (directory / "package.json").write_text('{"private": true}\n')
        _run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
            directory,
            INSTALL_SECONDS,
        )
    script = directory / "server.js"
    script.write_text(SERVER_JS)
    return script


@asynccontextmanager
async def serve(settings: Settings, directory: Path) -> AsyncIterator[str]:
    """PostGraphile on the benchmark database; yields its /graphql URL."""
    script = await asyncio.to_thread(install, directory)
    port = free_port()
    log = directory / f"postgraphile-{port}.log"
    url = settings.url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = {**os.environ, "PEER_DATABASE_URL": url, "PEER_PORT": str(port)}
    process = spawn(["node", str(script)], env, log, directory)
    endpoint = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                if process.poll() is not None:
                    raise PeerUnavailable(f"PostGraphile exited with {process.returncode}: {tail(log)}")
                try:
                    response = await client.post(endpoint, json={"query": "{ __typename }"})
                    if response.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise PeerUnavailable(f"PostGraphile did not answer within 60 s: {tail(log)}")
                await asyncio.sleep(0.3)
        yield endpoint
    finally:
        await stop(process)


def _iso(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).isoformat()


def to_claimsdb(data: dict[str, Any]) -> dict[str, Any]:
    """PostGraphile's page in claimsdb's shape (ids as global IDs, relations renamed), for
    comparison; cursors differ by design, so only hasNextPage is kept of pageInfo."""
    connection = data["allClaims"]
    nodes = []
    for n in connection["nodes"]:
        target, intervention = n["targetBySubjectTargetId"], n["interventionBySubjectInterventionId"]
        subject = (
            {"__typename": "Target", "id": gid("Target", target["id"]), "symbol": target["symbol"]}
            if target
            else {
                "__typename": "Intervention",
                "id": gid("Intervention", intervention["id"]),
                "name": intervention["name"],
            }
        )

        def ref(row: dict[str, Any] | None, type_name: str) -> dict[str, Any] | None:
            return None if row is None else {**row, "id": gid(type_name, row["id"])}

        nodes.append(
            {
                "id": gid("Claim", n["id"]),
                "statement": n["statement"],
                "direction": n["direction"],
                "modality": n["modality"],
                "evidenceType": n["evidenceType"],
                "sampleType": n["sampleType"],
                "status": n["status"],
                "createdAt": _iso(n["createdAt"]),
                "subject": subject,
                "targets": [
                    ref(t["targetByTargetId"], "Target") for t in n["claimTargetsByClaimId"]["nodes"]
                ],
                "outcome": ref(n["outcomeByOutcomeId"], "Outcome"),
                "organism": ref(n["organismByOrganismId"], "Organism"),
                "condition": ref(n["conditionByConditionId"], "Condition"),
                "cohort": ref(n["cohortByCohortId"], "Cohort"),
                "source": ref(n["sourceBySourceId"], "Source"),
                "evidence": n["evidencesByClaimId"]["nodes"],
            }
        )
    return {"hasNextPage": connection["pageInfo"]["hasNextPage"], "nodes": nodes}


def claimsdb_page(data: dict[str, Any]) -> dict[str, Any]:
    """claimsdb's Q1/Q5 answer in the shape PostGraphile's is compared in (to_claimsdb)."""
    claims = data["claims"]
    return {"hasNextPage": claims["pageInfo"]["hasNextPage"], "nodes": claims["nodes"]}


async def _post(client: httpx.AsyncClient, url: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json={"query": CLAIM_PAGE, "variables": variables})
    payload = response.json()
    if response.status_code != 200 or payload.get("errors"):
        raise PeerUnavailable(
            f"PostGraphile answered {response.status_code}: {str(payload.get('errors'))[:400]}"
        )
    return payload["data"]


async def compare(
    settings: Settings, options: Any, prepared: Prepared, results: list[dict[str, Any]]
) -> dict[str, Any]:
    """Time Q1 and Q5 on PostGraphile (HTTP, claimsdb's concurrency levels) and attach them to the results;
    returns what happened (versions, or why it was skipped)."""

    wanted = {
        r["scenario"]: r for r in results if r["scenario"] in ("Q1", "Q5") and r["database"] == "postgresql"
    }
    if not wanted:
        return {"skipped": "neither Q1 nor Q5 was run"}
    directory = options.log_dir / "postgraphile"
    try:
        async with serve(settings, directory) as url:
            size = prepared.params.page_size
            async with httpx.AsyncClient(timeout=120) as client:
                cursor = None
                for _ in range(prepared.deep_page - 1):
                    page = await _post(
                        client, url, {"target": prepared.target_id, "first": size, "after": cursor}
                    )
                    cursor = page["allClaims"]["pageInfo"]["endCursor"]
                variables = {
                    "Q1": {"target": prepared.target_id, "first": size, "after": None},
                    "Q5": {"target": prepared.target_id, "first": size, "after": cursor},
                }
                for name, row in wanted.items():
                    theirs = to_claimsdb(await _post(client, url, variables[name]))
                    ours = claimsdb_page(row.pop("_data"))
                    if theirs != ours:
                        raise CheckFailed(
                            f"{name}: PostGraphile and claimsdb return different claims: "
                            f"{first_difference(ours, theirs)}"
                        )
            for name, row in wanted.items():
                body = {"query": CLAIM_PAGE, "variables": variables[name]}
                levels = []
                # The same concurrency levels as claimsdb's own HTTP runs: the goal is requests/s.
                for concurrency in options.query_concurrency:
                    result = await load(
                        url, lambda _w, _n, body=body: (body, {}), concurrency=concurrency,
                        max_requests=options.http_requests, max_seconds=options.http_seconds,
                    )  # fmt: skip
                    if result.errors:
                        raise CheckFailed(
                            f"{name} on PostGraphile at concurrency {concurrency}: {result.errors} "
                            f"errors; first: {result.first_error}"
                        )
                    levels.append(result.as_dict())
                first = levels[0]
                row["peer"] = {
                    "name": "PostGraphile",
                    "p50_ms": first["p50_ms"],
                    "p99_ms": first["p99_ms"],
                    "requests_per_s": {str(h["concurrency"]): h["requests_per_s"] for h in levels},
                    "http": levels,
                }
    except PeerUnavailable as exc:
        for row in wanted.values():
            row.pop("_data", None)
        return {"skipped": str(exc)}
    version = json.loads((directory / "node_modules" / "postgraphile" / "package.json").read_text())[
        "version"
    ]
    return {"name": "PostGraphile", "version": version, "plugins": ["postgraphile-plugin-connection-filter"]}
