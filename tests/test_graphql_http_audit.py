"""The GraphQL-over-HTTP spec's own audit suite (npm graphql-http, `serverAudits`) against a real
`claimsdb serve` process (issue 17, item 6): every audit ok, no warning, no error. Before this
issue it gave 53 ok and 8 warnings, every one about application/graphql-response+json."""

from __future__ import annotations

import json
from pathlib import Path

from node_tools import node_project, run_node_tool
from reliability_helpers import ServerProcess

from api.settings import Settings

# The audits graphql-http 1.23.1 (tests/node/package-lock.json) runs against a server.
AUDITS = 61


async def test_the_graphql_over_http_audit_passes_in_full(tmp_path: Path) -> None:
    node_project()  # installed (or skipped) before the server starts
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'audit.sqlite3'}")
    server = ServerProcess(settings, tmp_path, mode="serve")
    await server.start()
    try:
        result = run_node_tool("node", "audit.mjs", f"{server.base_url}/graphql", seconds=120)
    finally:
        await server.stop()
    assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    summary = f"{report['ok']} ok, {report['warn']} warnings, {report['error']} errors"
    assert report["problems"] == [], f"{summary}:\n" + json.dumps(report["problems"], indent=2)
    assert (report["warn"], report["error"]) == (0, 0), summary
    assert report["ok"] == report["total"] >= AUDITS, summary
