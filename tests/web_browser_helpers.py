"""Helpers for the workbench's browser tests (tests/test_web_browser.py): Debian's Chromium under
Playwright, the axe-core scan, screenshots, and the real server (`claimsdb serve`) they talk to.

Chromium is the distribution's (`apt-get install -y chromium`, /usr/bin/chromium, or the path in
CLAIMSDB_CHROMIUM): Playwright's own browser download cannot work here. Without Playwright or the
browser the tests skip, except in CI (CI=true), where they must run and fail instead.

Not a test module (no `test_` prefix).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import PROJECT_ROOT
from api.web.assets import VENDORED

CHROMIUM = os.environ.get("CLAIMSDB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots of every step, per database (git-ignored).
OUTPUT_DIR = PROJECT_ROOT / "test-output" / "web"
BLOCKING_IMPACTS = ("serious", "critical")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).is_file():
        return f"Chromium is not at {CHROMIUM} (apt-get install -y chromium)"
    return None


def require_browser() -> None:
    problem = browser_missing()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true requires the browser tests to run, but {problem}", pytrace=False)
    pytest.skip(problem)


_EXPECTED_STATUS = re.compile(
    r"Failed to load resource: the server responded with a status of (401|404|422)\b"
)


@dataclass
class PageWatch:
    """What the browser reported while a page ran: console errors (a Content-Security-Policy
    violation is one), failed requests and uncaught exceptions."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def console(message: Any) -> None:
            # A form sent back with the API's userErrors is answered 422, a refused sign-in 401,
            # a missing page 404: the page itself, which the browser logs as a failed load.
            if message.type == "error" and not _EXPECTED_STATUS.search(message.text):
                self.problems.append(f"console: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def check(self, where: str) -> None:
        found, self.problems = self.problems, []
        assert not found, f"{where}: the browser reported problems: {found}"


AXE_SCAN = """
async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
  }));
}
"""


async def axe_scan(page: Any, base_url: str, where: str) -> list[dict[str, Any]]:
    """Run axe-core (vendored, loaded from the page's own origin, as its policy allows) and fail
    on any serious or critical violation; returns every violation found."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(url=f"{base_url}/ui/static/{VENDORED['axe']}")
    violations: list[dict[str, Any]] = await page.evaluate(AXE_SCAN)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{where}: axe found serious or critical violations: {blocking}"
    return violations


class Shots:
    """Numbered screenshots of one test's steps, under test-output/web/<test>/."""

    def __init__(self, name: str) -> None:
        self.dir = OUTPUT_DIR / re.sub(r"[^\w.-]+", "_", name)
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.count = 0

    async def take(self, page: Any, step: str) -> Path:
        self.count += 1
        slug = re.sub(r"[^\w.-]+", "-", step)
        path = self.dir / f"{self.count:02d}-{slug}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


# The README's pictures (docs/workbench-*.png) are these, copied from a browser run's output.
README_SHOTS = OUTPUT_DIR / "readme"
README_SIZE = {"width": 1200, "height": 1700}


async def readme_shot(page: Any, name: str) -> Path:
    """The top 1200 x 1700 pixels of the page at 1200 pixels wide, as the README shows it."""
    README_SHOTS.mkdir(parents=True, exist_ok=True)
    path = README_SHOTS / f"{name}.png"
    previous = page.viewport_size
    await page.set_viewport_size(README_SIZE)
    try:
        await page.screenshot(path=str(path), clip={"x": 0, "y": 0, **README_SIZE}, full_page=True)
    finally:
        await page.set_viewport_size(previous)
    return path


async def graphql(base_url: str, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """A GraphQL request to the server, as an API client would send it; fails on errors."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return await graphql_with(client, query, variables, token)


async def graphql_with(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    """The same request through a client the caller holds (a socket or in-process ASGI)."""
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


CREATE_CLAIM = """
mutation($input: CreateClaimInput!) {
  createClaim(input: $input) { claim { id version status } userErrors { field message code } }
}
"""
UPDATE_CLAIM = """
mutation($input: UpdateClaimInput!) {
  updateClaim(input: $input) { claim { id version status } userErrors { field message code } }
}
"""


async def submitted_claim(
    base_url: str, token: str, statement: str, source: str, direction: str
) -> dict[str, Any]:
    """A claim created straight into SUBMITTED through the API, as another client would."""
    data = await graphql(
        base_url,
        CREATE_CLAIM,
        {
            "input": {
                "statement": statement,
                "target": "MIF",
                "outcome": "macrophage migration",
                "direction": direction,
                "modality": "HEDGED",
                "evidenceType": "EXPERT_OPINION",
                "organism": "human",
                "source": source,
                "evidence": [{"quote": statement}],
                "submit": True,
            }
        },
        token,
    )
    payload = data["createClaim"]
    assert not payload["userErrors"], payload
    return payload["claim"]
