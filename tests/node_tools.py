"""The Node tools some tests run (tests/node: graphql-http's audit, graphql-codegen and tsc),
installed with `npm ci` into tests/node/node_modules, with npm's cache in tests/node/.npm-cache:
both git-ignored, nothing outside the checkout. .ci/run installs them first; a developer's first
run of these tests does it here. Without node and npm the tests are skipped, except in CI
(CI=true), where they must run.

Not a test module (no `test_` prefix)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import in_ci

NODE_PROJECT = Path(__file__).resolve().parent / "node"
INSTALL_SECONDS = 600


def _npm_ci() -> None:
    lock = NODE_PROJECT / "package-lock.json"
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    result = subprocess.run(
        [
            "npm",
            "ci",
            "--cache",
            str(NODE_PROJECT / ".npm-cache"),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    if result.returncode != 0:
        pytest.fail(f"npm ci in {NODE_PROJECT} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def node_project() -> Path:
    """tests/node with its packages installed; skips (fails in CI) without node and npm."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not found; the Node-based checks need them"
        if in_ci():
            pytest.fail(f"CI=true requires the Node-based tests to run, but {message}", pytrace=False)
        pytest.skip(message)
    _npm_ci()
    return NODE_PROJECT


def run_node_tool(
    *command: str, env: dict[str, str] | None = None, seconds: float = 180
) -> subprocess.CompletedProcess[str]:
    """A tool of tests/node/node_modules/.bin (or node itself), run in tests/node."""
    project = node_project()
    binary = project / "node_modules" / ".bin" / command[0]
    executable = str(binary) if binary.exists() else command[0]
    return subprocess.run(
        [executable, *command[1:]], cwd=project, capture_output=True, text=True, timeout=seconds, env=env
    )
