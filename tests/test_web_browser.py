"""The workbench in a real browser (Debian's Chromium under Playwright), against `claimsdb serve`
on a seeded database, on SQLite and on PostgreSQL.

One walk per database, as the people of the issue would go: a curator signs in, drafts a claim
with the typeahead, meets the API's userError for an unknown outcome next to the Outcome field,
fixes it and submits; a reviewer finds it in the queue, has no Accept button on their own item,
meets the API's message on a stale item, and accepts the curator's; an anonymous visitor finds
the claim on the target page, in the summary cell (opened in place with htmx, and as a plain
link), and on its own page with the quote shown as text; the curator's edit of the accepted
claim then waits as a revision with its diff while readers keep the accepted text. Every page
is scanned with axe-core (no serious or critical violation), every page must load without a
console error (so nothing breaks the Content-Security-Policy), and each step leaves a
screenshot in test-output/web/.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql_client import create_user_with_token
from reliability_helpers import ServerProcess
from web_browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    UPDATE_CLAIM,
    PageWatch,
    Shots,
    axe_scan,
    graphql,
    readme_shot,
    require_browser,
    submitted_claim,
)

from api.settings import Settings
from api.store.db import Database
from schema.enums import Role

SECRET = "browser-tests-signing-key-0123456789abcdef"
BLOG_SOURCE = "[Untitled blog post on interleukin-6 and neuromyelitis optica]"
STATEMENT = "Blocking IL-6R signalling was followed by more MS activity in this reader's account."
QUOTE = "My MS flared after tocilizumab <script>window.__xss = 1</script> & I stopped it."


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def server(settings: Settings, seeded_db: Database, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    require_browser()
    process = ServerProcess(settings, tmp_path, mode="serve", extra_env={"CLAIMSDB_UI_SECRET": SECRET})
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


class Person:
    """One browser context (its own cookies): an anonymous visitor, or someone signed in."""

    def __init__(self, context: Any, page: Any, base_url: str, shots: Shots) -> None:
        self.context, self.page, self.base_url, self.shots = context, page, base_url, shots
        self.watch = PageWatch()
        self.watch.attach(page)

    @classmethod
    async def open(cls, browser: Any, base_url: str, shots: Shots) -> Person:
        context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        return cls(context, await context.new_page(), base_url, shots)

    async def visit(self, path: str, step: str) -> None:
        response = await self.page.goto(path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        await self.check(step)

    async def check(self, step: str) -> None:
        """After each page: no console error, no serious accessibility violation, a screenshot."""
        await self.page.wait_for_load_state("load")
        self.watch.check(step)
        await axe_scan(self.page, self.base_url, step)
        await self.shots.take(self.page, step)

    async def sign_in(self, token: str, name: str) -> None:
        await self.visit("/ui/login", "sign-in-page")
        await self.page.get_by_label("API token").fill(token)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url("**/ui/")
        await self.expect_text(f"Signed in as {name}")

    async def expect_text(self, text: str) -> None:
        from playwright.async_api import expect

        await expect(self.page.get_by_text(text, exact=False).first).to_be_visible()

    async def choose(self, label: str, typed: str, suggestion: str) -> None:
        """Type into a typeahead field and pick a suggestion with the keyboard."""
        field = self.page.get_by_label(label, exact=True)
        await field.fill("")
        await field.press_sequentially(typed, delay=20)
        option = self.page.get_by_role("list", name=f"Suggestions for {label}").get_by_role(
            "button", name=suggestion
        )
        await option.first.wait_for()
        await field.press("ArrowDown")  # into the suggestions, as a keyboard user would
        await option.first.focus()
        await self.page.keyboard.press("Enter")
        await self.page.wait_for_function(
            "([id, value]) => document.getElementById(id).value !== value",
            arg=[await field.get_attribute("id"), typed],
        )

    async def tab_to(self, selector: str, limit: int = 300) -> None:
        """Press Tab until the element is focused, as someone without a mouse reaches it (fails
        when the keyboard never gets there)."""
        target = self.page.locator(selector).first
        for _ in range(limit):
            await self.page.keyboard.press("Tab")
            if await target.evaluate("element => element === document.activeElement"):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key")

    async def close(self) -> None:
        await self.context.close()


async def test_curate_review_and_read_in_the_browser(
    browser: Any, server: ServerProcess, seeded_db: Database, backend: str
) -> None:
    started = time.monotonic()
    base = server.base_url
    _, curator_token = await create_user_with_token(seeded_db, "carla", Role.CURATOR)
    _, reviewer_token = await create_user_with_token(seeded_db, "rui", Role.REVIEWER)
    _, other_token = await create_user_with_token(seeded_db, "olga", Role.CURATOR)
    shots = Shots(f"flow-{backend}")

    # Items already waiting: the reviewer's own claim (four eyes: no Accept for them) and another
    # curator's claim that will change under the reviewer's eyes (a stale version).
    blog = (
        await graphql(
            base,
            '{ search(text: "interleukin-6 and neuromyelitis", kinds: [SOURCE]) { node { id } } }',
            {},
            other_token,
        )
    )["search"][0]["node"]["id"]
    own = await submitted_claim(
        base, reviewer_token, "The reviewer's own reading: MIF may slow macrophages.", blog, "DECREASES"
    )
    stale = await submitted_claim(
        base, other_token, "A claim that changes while the reviewer reads it.", blog, "INCREASES"
    )

    # --- the curator drafts with the typeahead, meets a userError, fixes it, submits -------------
    curator = await Person.open(browser, base, shots)
    await curator.sign_in(curator_token, "carla")
    await curator.page.get_by_role("link", name="New claim").click()
    await curator.check("new-claim-form")
    page = curator.page
    await page.get_by_label("Statement").fill(STATEMENT)
    await curator.choose("Source", "blog post on interleukin", BLOG_SOURCE)
    await curator.choose("Target", "il6r", "IL-6R")
    await page.get_by_label("Outcome").fill("disease activty level")
    await page.get_by_label("Direction").select_option("INCREASES")
    await page.get_by_label("Modality").select_option("ASSERTED")
    await page.get_by_label("Evidence type").select_option("ANECDOTE")
    await curator.choose("Condition", "multiple scl", "multiple sclerosis")
    await page.get_by_label("Quote", exact=True).fill(QUOTE)
    await page.get_by_label("Locator").fill("Comment 3")
    await page.get_by_role("button", name="Save draft").click()
    await page.wait_for_load_state("load")
    outcome_error = page.locator("#outcome-error")
    await outcome_error.wait_for()
    assert "disease activty level" in await outcome_error.inner_text()
    assert await page.get_by_label("Outcome").get_attribute("aria-invalid") == "true"
    assert await page.get_by_label("Statement").input_value() == STATEMENT  # nothing typed is lost
    await curator.check("user-error-next-to-outcome")
    await curator.choose("Outcome", "disease act", "disease activity")
    await page.get_by_role("button", name="Submit for review").click()
    await page.wait_for_url("**/ui/claims/*")
    await curator.expect_text("Claim submitted for review.")
    claim_path = page.url.removeprefix(base)
    await curator.check("submitted-claim")
    assert await page.locator(".claim-state .badge").first.inner_text() == "submitted"
    assert await page.evaluate("window.__xss") is None, "a quote's <script> ran"
    await curator.expect_text("<script>window.__xss = 1</script>")

    # --- the reviewer: queue, own item, stale item, accept ---------------------------------------
    reviewer = await Person.open(browser, base, shots)
    await reviewer.sign_in(reviewer_token, "rui")
    await reviewer.page.get_by_role("link", name="Review queue").click()
    await reviewer.check("review-queue")
    queue = reviewer.page.locator("li.queue-item")
    mine = queue.filter(has_text="The reviewer's own reading")
    assert await mine.get_by_role("button", name="Accept").count() == 0
    assert await mine.get_by_role("button", name="Reject").count() == 1
    await reviewer.expect_text("You entered this claim, so another reviewer decides it.")
    # The other curator corrects their claim after the reviewer opened the queue.
    changed = await graphql(
        base,
        UPDATE_CLAIM,
        {
            "input": {
                "id": stale["id"],
                "expectedVersion": stale["version"],
                "statement": "Changed meanwhile.",
            }
        },
        other_token,
    )
    assert not changed["updateClaim"]["userErrors"], changed
    await queue.filter(has_text="A claim that changes while").get_by_role("button", name="Accept").click()
    await reviewer.page.wait_for_url("**/ui/review")
    message = reviewer.page.locator(".flash-error")
    await message.wait_for()
    assert "version" in (await message.inner_text()).lower(), await message.inner_text()
    await reviewer.check("stale-version-message")
    item = reviewer.page.locator("li.queue-item").filter(has_text=STATEMENT)
    await item.get_by_role("button", name="Accept").click()
    await reviewer.page.wait_for_url("**/ui/review")
    await reviewer.expect_text("Claim accepted.")
    assert await reviewer.page.locator("li.queue-item").filter(has_text=STATEMENT).count() == 0
    await reviewer.check("after-accept")

    # --- an anonymous visitor: target page, summary cell, claim page ------------------------------
    visitor = await Person.open(browser, base, shots)
    await visitor.visit("/ui/", "home")
    await visitor.page.get_by_role("link", name="IL-6R", exact=True).first.click()
    await visitor.page.wait_for_url("**/ui/targets/IL-6R")
    await visitor.check("target-page")
    await readme_shot(visitor.page, f"workbench-target-{backend}")
    claims = visitor.page.locator("#claims")
    assert await claims.get_by_role("link", name=STATEMENT).count() == 1
    cell = visitor.page.get_by_role(
        "link", name="2 claims: IL-6R increases disease activity in multiple sclerosis"
    )
    await cell.click()  # htmx opens the cell's claims in place
    opened = visitor.page.locator("#cell-claims")
    await opened.get_by_role("link", name=STATEMENT).wait_for()
    await visitor.check("summary-cell-opened")
    href = await cell.get_attribute("href")
    assert href is not None
    await visitor.visit(href, "summary-cell-page")  # the same cell as a plain page (no JavaScript)
    assert await visitor.page.get_by_role("link", name=STATEMENT).count() == 1
    await visitor.page.get_by_role("link", name=STATEMENT).click()
    await visitor.page.wait_for_url(f"**{claim_path}")
    await visitor.check("claim-page")
    await visitor.expect_text(QUOTE)
    assert await visitor.page.evaluate("window.__xss") is None
    await visitor.visit("/ui/search?q=il6r", "search")
    assert await visitor.page.get_by_role("link", name="IL-6R").count() >= 1
    await visitor.visit("/ui/claims?target=IL-6R&direction=INCREASES", "claims-filtered")

    # --- the remaining pages, scanned too -----------------------------------------------------------
    # --- the curator edits the accepted claim: a pending revision; readers keep the old text ------
    await curator.visit(f"{claim_path}/edit", "edit-form")
    corrected = STATEMENT.replace("more MS activity", "more MS relapses")
    await curator.page.get_by_label("Statement").fill(corrected)
    await curator.page.get_by_label("Comment (why; kept in the history)").fill(
        "the account speaks of relapses"
    )
    await curator.page.get_by_role("button", name="Propose change").click()
    await curator.page.wait_for_url(f"**{claim_path}")
    pending = curator.page.locator("article.revision.pending")
    await pending.wait_for()
    assert corrected in await pending.locator("td.after").first.inner_text()
    assert STATEMENT in await pending.locator("td.before").first.inner_text()
    await curator.check("edit-of-accepted-claim-pending")
    await visitor.visit(claim_path, "public-page-keeps-accepted-text")
    assert await visitor.page.locator("h1").inner_text() == STATEMENT
    await curator.visit("/ui/claims", "claims-signed-in")
    source_link = visitor.page.locator("a[href*='/ui/sources/']").first
    await visitor.visit(claim_path, "claim-page-again")
    await source_link.click()
    await visitor.check("source-page")
    conflict = await graphql(
        base, '{ conflicts(filter: {target: "IL-6R"}) { nodes { id } } }', {}, other_token
    )
    await visitor.visit(f"/ui/conflicts/{conflict['conflicts']['nodes'][0]['id']}", "conflict-page")
    await visitor.page.goto("/ui/no-such-page")
    await visitor.check("not-found")
    for person in (curator, reviewer, visitor):
        await person.close()
    assert own["status"] == "SUBMITTED"
    print(
        f"browser walk on {backend}: {time.monotonic() - started:.1f} s, "
        f"{shots.count} screenshots in {shots.dir}"
    )


def _api_has(feature: str) -> bool:
    from api.graphql.internals import graphql_schema
    from api.graphql.schema import build_schema
    from api.web.features import detect

    return feature in detect(graphql_schema(build_schema(Settings())))


async def test_an_edit_of_an_accepted_claim_waits_as_a_revision(
    browser: Any, server: ServerProcess, seeded_db: Database, backend: str
) -> None:
    """The issue's last walk. It needs the API's revisions (issue 14: updateClaim on an ACCEPTED
    claim returns a pending Revision, reviewRevision decides it) and runs as soon as they exist."""
    if not all(_api_has(f) for f in ("revision_payload", "revisions", "review_revision")):
        pytest.skip("the API has no revisions yet (ClaimPayload.revision, Claim.revisions, reviewRevision)")
    base = server.base_url
    _, curator_token = await create_user_with_token(seeded_db, "cai", Role.CURATOR)
    _, reviewer_token = await create_user_with_token(seeded_db, "ren", Role.REVIEWER)
    shots = Shots(f"revision-{backend}")
    found = await graphql(
        base,
        '{ claims(filter: {target: "IL-6R", text: "neuromyelitis"}, first: 1) { nodes { id statement } } }',
        {},
        curator_token,
    )
    claim = found["claims"]["nodes"][0]
    new_text = claim["statement"].rstrip(".") + " (corrected wording)."

    curator = await Person.open(browser, base, shots)
    await curator.sign_in(curator_token, "cai")
    await curator.visit(f"/ui/claims/{claim['id']}", "accepted-claim-for-a-curator")
    await curator.page.get_by_role("link", name="Edit").click()  # any curator may propose a change
    await curator.page.wait_for_url(f"**/ui/claims/{claim['id']}/edit")
    await curator.check("edit-accepted-claim")
    await curator.page.get_by_label("Statement").fill(new_text)
    await curator.page.get_by_label("Comment (why; kept in the history)").fill("clearer wording")
    await curator.page.get_by_role("button", name="Propose change").click()
    await curator.page.wait_for_url(f"**/ui/claims/{claim['id']}")
    await curator.expect_text("waiting for a reviewer")
    pending = curator.page.locator("article.revision.pending")
    await pending.wait_for()
    assert new_text in await pending.locator("td.after").first.inner_text()
    assert claim["statement"] in await pending.locator("td.before").first.inner_text()
    await curator.check("pending-revision-with-diff")
    await readme_shot(curator.page, f"workbench-claim-{backend}")

    visitor = await Person.open(browser, base, shots)
    await visitor.visit(f"/ui/claims/{claim['id']}", "public-page-keeps-old-text")
    assert await visitor.page.locator("h1").inner_text() == claim["statement"]

    reviewer = await Person.open(browser, base, shots)
    await reviewer.sign_in(reviewer_token, "ren")
    await reviewer.visit("/ui/review", "queue-with-revision")
    item = reviewer.page.locator("li.queue-item").filter(has_text=new_text)
    await item.get_by_role("button", name="Accept").click()
    await reviewer.expect_text("Revision accepted.")
    await visitor.visit(f"/ui/claims/{claim['id']}", "public-page-shows-new-text")
    assert await visitor.page.locator("h1").inner_text() == new_text
    # The history reads as changes, and says the audit chain verifies (the API's verdict).
    history = visitor.page.locator("section[aria-labelledby=history-heading]")
    assert "Revision accepted" in await history.inner_text()
    assert await history.locator("#audit-check .badge").inner_text() == "audit chain verifies"

    # Keyboard only: the curator flags the claim, the reviewer resolves the flag.
    await curator.visit(f"/ui/claims/{claim['id']}", "claim-before-flag")
    await curator.tab_to("#flag-comment")
    await curator.page.keyboard.type("The corrected wording drops the source's hedge.")
    await curator.page.keyboard.press("Tab")
    assert await curator.page.evaluate("document.activeElement.textContent") == "Flag claim"
    await curator.page.keyboard.press("Enter")
    await curator.expect_text("Flag raised; a reviewer will look at it.")
    await curator.expect_text("1 open flag")
    await curator.check("flag-raised-with-the-keyboard")
    await reviewer.visit(f"/ui/claims/{claim['id']}", "flagged-claim-for-the-reviewer")
    await reviewer.tab_to("textarea[id^=resolve-]")
    await reviewer.page.keyboard.type("Checked against the paper: the hedge is kept.")
    await reviewer.page.keyboard.press("Tab")
    await reviewer.page.keyboard.press("Enter")
    await reviewer.expect_text("Flag resolved.")
    await reviewer.expect_text("Resolved by ren")
    assert await reviewer.page.locator(".badge.flagged").count() == 0
    await reviewer.check("flag-resolved-with-the-keyboard")
    for person in (curator, visitor, reviewer):
        await person.close()
