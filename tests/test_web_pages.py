"""The workbench without a browser (httpx, in-process ASGI), on SQLite and PostgreSQL: pages read
without JavaScript, security headers and the session cookie, CSRF, escaping, the API's errors
next to the fields, the documents against the served schema and the contract, the signing key,
and turning the workbench off."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from graphql_client import ClaimSpec, create_claims, create_user_with_token, global_id
from pydantic import SecretStr
from web_browser_helpers import graphql_with
from web_contract import contract_schema, served_schema

from api.app import create_app
from api.settings import Settings
from api.store.db import Database
from api.web.documents import DocumentError, load_documents
from api.web.features import FEATURES, detect
from api.web.secret import SecretError, signing_key
from api.web.session import COOKIE
from schema.enums import EffectDirection, Role
from schema.tables import AuditEvent

SECRET = "page-tests-signing-key-0123456789abcdefgh"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def browser_like(
    settings: Settings, db: Database, **changes: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"ui_secret": SecretStr(SECRET), **changes}), database=db)
    app.state.db = db  # what the lifespan does; ASGITransport does not run it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> None:
    login = await client.get("/ui/login")
    answer = await client.post(
        "/ui/login", data={"csrf": csrf_of(login.text), "token": token, "next": "/ui/"}
    )
    assert answer.status_code == 303, answer.text[:500]


# --- documents and features (no database) --------------------------------------------------------


def test_documents_fit_the_served_schema_and_the_whole_contract() -> None:
    served = served_schema()
    features = detect(served)
    documents = load_documents(served, features)
    # Whatever the API lacks yet is left out, and only that.
    for name, needs in documents.missing.items():
        assert needs and not needs <= features, name
    assert {"TargetPage", "ClaimPage", "ClaimList", "CreateClaim", "ReviewClaim", "Search"} <= set(
        documents.operations
    )
    contract = contract_schema()
    assert detect(contract) == set(FEATURES), "the contract should give every feature"
    full = load_documents(contract, detect(contract))
    assert not full.missing
    assert {"ReviewQueue", "ReviewRevision", "WithdrawRevision", "FlagClaim", "ResolveFlag"} <= set(
        full.operations
    )
    assert "bearings" in full["ClaimPage"].text and "revisions" in full["ClaimPage"].text
    if "bearings" not in features:
        assert "bearings" not in documents["ClaimPage"].text


def test_a_broken_document_fails_at_start_up(tmp_path: Path) -> None:
    schema = served_schema()
    (tmp_path / "a.graphql").write_text("# requires: no_such_feature\nquery A { viewer { id } }\n")
    with pytest.raises(DocumentError, match="no_such_feature"):
        load_documents(schema, frozenset(), tmp_path)
    (tmp_path / "a.graphql").write_text("query A { viewer { nosuchfield } }\n")
    with pytest.raises(DocumentError, match="nosuchfield"):
        load_documents(schema, frozenset(), tmp_path)
    # A fragment whose feature is missing disappears with its spreads; an empty selection is an error.
    (tmp_path / "a.graphql").write_text(
        "query A { viewer { ...Gone } }\n# requires: flags\nfragment Gone on User { id }\n"
    )
    with pytest.raises(DocumentError, match="empty selection"):
        load_documents(schema, frozenset(), tmp_path)
    (tmp_path / "a.graphql").write_text(
        "query A { viewer { name ...Gone } }\n# requires: flags\nfragment Gone on User { id }\n"
    )
    pruned = load_documents(schema, frozenset(), tmp_path)["A"].text
    assert "Gone" not in pruned and "name" in pruned


# --- the signing key ---------------------------------------------------------------------------------


def test_the_signing_key_is_shared_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "ui-secret"
    settings = Settings(ui_secret_file=path)
    first = signing_key(settings)
    assert len(first) >= 32 and signing_key(settings) == first  # a second worker reads the same key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signing_key(Settings(ui_secret_file=path, ui_secret="x" * 40)) == "x" * 40
    path.write_text("short\n")
    with pytest.raises(SecretError, match="CLAIMSDB_UI_SECRET"):
        signing_key(settings)
    with pytest.raises(SecretError, match="CLAIMSDB_UI_SECRET"):
        signing_key(Settings(ui_secret_file=tmp_path / "no-such-dir" / "key"))


# --- pages --------------------------------------------------------------------------------------------


async def test_pages_read_without_javascript_and_carry_the_security_headers(
    settings: Settings, seeded_db: Database
) -> None:
    async with browser_like(settings, seeded_db) as client:
        root = await client.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/ui/"
        target = await client.get("/ui/targets/IL-6R")
        assert target.status_code == 200
        # Everything a reader needs is in the HTML itself: names, xrefs, cells, conflicts, claims.
        assert "interleukin 6 receptor" in target.text
        assert 'href="https://www.genenames.org/' in target.text
        assert "Tocilizumab has been used to treat neuromyelitis optica." in target.text
        conflicts = await client.get("/ui/targets/IL-6R/conflicts")  # the pairs, as a page of their own
        assert "How the two contexts differ" in conflicts.text
        cell = re.search(r'href="(/ui/targets/IL-6R/cell\?[^"]+)"', target.text)
        assert cell, "summary cells are plain links"
        claim_link = re.search(r'href="/ui/claims/([A-Za-z0-9_-]+)"', target.text)
        conflict_link = re.search(r'href="(/ui/conflicts/[^"]+)"', target.text)
        assert claim_link and conflict_link
        claim_id = claim_link.group(1)
        claim = await client.get(f"/ui/claims/{claim_id}")
        source_link = re.search(r'href="(/ui/sources/[^"]+)"', claim.text)
        assert source_link
        pages = [
            "/ui/",
            "/ui/targets/il6r",  # an alias
            "/ui/targets/HGNC:6019",  # a CURIE
            cell.group(1).replace("&amp;", "&"),
            conflict_link.group(1),
            "/ui/targets/IL-6R/conflicts",
            f"/ui/claims/{claim_id}",
            f"/ui/claims/{claim_id}/conflicts",
            source_link.group(1),
            "/ui/claims?target=MIF&direction=DECREASES",
            "/ui/search?q=tocilizumab",
            "/ui/login",
        ]
        for path in pages:
            page = await client.get(path)
            assert page.status_code == 200, (path, page.text[:300])
            assert page.headers["x-frame-options"] == "DENY"
            policy = page.headers["content-security-policy"]
            assert (
                "script-src 'self'" in policy
                and "unsafe-inline" not in policy
                and "unsafe-eval" not in policy
            )
            assert "frame-ancestors 'none'" in policy
            assert page.headers["cache-control"] == "no-store"
            assert not INLINE_SCRIPT.search(page.text), f"{path} has an inline script"
            assert " style=" not in page.text, f"{path} has an inline style"
        missing = await client.get("/ui/targets/NOPE-1")
        assert missing.status_code == 404 and "NOPE-1" in missing.text
        unknown_filter = await client.get("/ui/claims?outcome=disease+activty")
        assert (
            unknown_filter.status_code == 200 and "disease activity" in unknown_filter.text
        )  # the API's hint
        static = await client.get("/ui/static/workbench.js")
        assert static.status_code == 200 and static.headers["x-frame-options"] == "DENY"


async def test_the_workbench_can_be_turned_off(settings: Settings, db: Database) -> None:
    async with browser_like(settings, db, ui=False) as client:
        assert (await client.get("/ui/")).status_code == 404
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/graphql?query={viewer{id}}")).status_code == 200


async def test_text_from_the_database_is_escaped(settings: Settings, seeded_db: Database) -> None:
    source = global_id("Source", 1)
    [claim] = await create_claims(
        seeded_db,
        [
            ClaimSpec(
                statement='MIF <img src=x onerror="alert(1)"> rises',
                source=source,
                target="MIF",
                outcome="CSF MIF level",
                quotes=["<script>alert('quote')</script>"],
            )
        ],
    )
    async with browser_like(settings, seeded_db) as client:
        page = await client.get(f"/ui/claims/{global_id('Claim', claim)}")
        assert page.status_code == 200
        assert "&lt;script&gt;alert(&#39;quote&#39;)&lt;/script&gt;" in page.text
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        listing = await client.get("/ui/targets/MIF")
        assert "MIF &lt;img src=x onerror=&#34;alert(1)&#34;&gt; rises" in listing.text


async def test_the_claim_history_says_whether_the_audit_chain_verifies(
    settings: Settings, seeded_db: Database
) -> None:
    """The history's verdict is the API's (Claim.auditVerified, AuditEvent.verified): an event
    edited behind the API's back shows as broken, on that claim's page only."""
    source = global_id("Source", 1)
    first, second = await create_claims(
        seeded_db,
        [
            ClaimSpec(
                statement="MIF rises in CSF.",
                source=source,
                target="MIF",
                outcome="CSF MIF level",
                direction=EffectDirection.INCREASES,
            ),
            ClaimSpec(statement="MIF falls in CSF.", source=source, target="MIF", outcome="CSF MIF level"),
        ],
    )
    async with seeded_db.read() as session:
        event_id = await session.scalar(
            sa.select(AuditEvent.id).where(AuditEvent.entity_type == "Claim", AuditEvent.entity_id == first)
        )
    async with browser_like(settings, seeded_db) as client:
        clean = await client.get(f"/ui/claims/{global_id('Claim', first)}")
        assert "audit chain verifies" in clean.text and "does not verify" not in clean.text
        assert "Created" in clean.text and "claim.create" in clean.text  # readable, and exact
        async with seeded_db.engine.begin() as conn:
            await conn.execute(
                sa.update(AuditEvent.__table__).where(AuditEvent.id == event_id).values(comment="forged")
            )
        broken = await client.get(f"/ui/claims/{global_id('Claim', first)}")
        assert broken.status_code == 200
        assert "audit chain broken" in broken.text and broken.text.count("does not verify") == 1
        other = await client.get(f"/ui/claims/{global_id('Claim', second)}")
        assert "audit chain verifies" in other.text


async def test_sign_in_session_cookie_csrf_and_revocation(settings: Settings, seeded_db: Database) -> None:
    _, token = await create_user_with_token(seeded_db, "cora", Role.CURATOR)
    async with browser_like(settings, seeded_db) as client:
        login = await client.get("/ui/login")
        cookie = login.headers["set-cookie"]
        assert (
            f"{COOKIE}=" in cookie
            and "HttpOnly" in cookie
            and "SameSite=strict" in cookie.replace("Strict", "strict")
        )
        assert "Path=/ui" in cookie
        refused = await client.post("/ui/login", data={"token": token})  # no CSRF token
        assert refused.status_code == 403 and "CSRF" in refused.text
        wrong = await client.post("/ui/login", data={"csrf": csrf_of(login.text), "token": "cdb_nope"})
        assert wrong.status_code == 401 and "not valid" in wrong.text
        assert (await client.get("/ui/review")).status_code == 303  # anonymous: sign in first
        await sign_in(client, token)
        home = await client.get("/ui/")
        assert "Signed in as" in home.text and "cora" in home.text
        new = await client.get("/ui/claims/new")
        assert new.status_code == 200 and 'for="outcome"' in new.text
        # The session's CSRF token is a new one after sign-in; an old one no longer works.
        stale = await client.post("/ui/logout", data={"csrf": csrf_of(login.text)})
        assert stale.status_code == 403
        # A forged cookie (signed with another key) is an anonymous visit.
        forged = httpx.Cookies()
        forged.set(COOKIE, client.cookies[COOKIE][:-4] + "AAAA", path="/ui")
        async with browser_like(settings, seeded_db) as other:
            other.cookies = forged
            assert "Signed in as" not in (await other.get("/ui/")).text
        # Revoking the token ends the session on the next page.
        from graphql_client import ADMIN

        from api.store.commands.users import revoke_user

        async with seeded_db.write(ADMIN) as w:
            await revoke_user(w, "cora")
        gone = await client.get("/ui/claims/new")
        assert gone.status_code == 303 and "/ui/login" in gone.headers["location"]
        after = await client.get(gone.headers["location"])
        assert "signed out" in after.text


async def test_curation_errors_appear_next_to_their_fields(settings: Settings, seeded_db: Database) -> None:
    _, token = await create_user_with_token(seeded_db, "cleo", Role.CURATOR)
    async with browser_like(settings, seeded_db) as client:
        await sign_in(client, token)
        form = await client.get("/ui/claims/new")
        data = {
            "csrf": csrf_of(form.text),
            "statement": "MIF in CSF rises in SPMS.",
            "source": "10.1016/j.jns.2022.120320",
            "target": "MIF",
            "outcome": "CSF MIF levl",
            "direction": "INCREASES",
            "modality": "ASSERTED",
            "evidence_type": "OBSERVATIONAL",
            "organism": "human",
            "condition": "SPMS",
            "cohort_label": "SPMS patients",
            "cohort_size": "many",
            "quote": "MIF was increased in SPMS.",
            "action": "draft",
        }
        refused = await client.post("/ui/claims/new", data=data)
        assert refused.status_code == 422
        assert re.search(r'id="cohort_size-error">Cohort size must be a whole number', refused.text)
        data["cohort_size"] = "12"
        refused = await client.post("/ui/claims/new", data=data)
        assert refused.status_code == 422
        error = re.search(r'<p class="field-error" id="outcome-error">([^<]+)</p>', refused.text)
        assert error and "CSF MIF levl" in error.group(1) and "CSF MIF level" in error.group(1)
        assert 'aria-invalid="true" aria-describedby="outcome-error"' in refused.text
        data["outcome"] = "CSF MIF level"
        data["action"] = "submit"
        created = await client.post("/ui/claims/new", data=data)
        assert created.status_code == 303, created.text[:2000]
        page = await client.get(created.headers["location"])
        assert "Claim submitted for review." in page.text and "submitted" in page.text


async def test_the_page_measurement_reaches_every_page(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    """bench/pages.py (`python -m bench.pages`) finds every page through the pages' links and
    times it over HTTP against the real server; here with two requests a page, checking that
    every page answered and was timed (speed is measured by the bench, never asserted here)."""
    from bench.pages import measure

    timings = await measure(settings, 2, tmp_path)
    pages = {t.page: t for t in timings}
    for page in (
        "target",
        "summary cell",
        "conflict",
        "claim",
        "source",
        "search",
        "review queue",
        "edit form",
    ):
        assert page in pages, f"the measurement left out the {page} page"
    for timing in timings:
        assert len(timing.times_ms) == 2 and all(ms > 0 for ms in timing.times_ms), timing
        assert timing.row()["p95_ms"] >= timing.row()["p50_ms"] > 0, timing.row()
    assert pages["review queue"].signed_in and not pages["target"].signed_in


PROPOSE = """
mutation($input: UpdateClaimInput!) {
  updateClaim(input: $input) { revision { id } userErrors { message } }
}
"""


async def test_the_review_queue_shows_own_and_stale_revisions_and_filters_by_target(
    settings: Settings, seeded_db: Database
) -> None:
    """A reviewer's own revision offers Withdraw, not Accept or Reject (the API lets no author
    decide their revision); a revision whose claim moved on says so; ?target= narrows the queue."""
    _, rhea = await create_user_with_token(seeded_db, "rhea", Role.REVIEWER)
    _, cato = await create_user_with_token(seeded_db, "cato", Role.CURATOR)
    _, rex = await create_user_with_token(seeded_db, "rex", Role.REVIEWER)
    async with browser_like(settings, seeded_db) as client:
        found = await graphql_with(
            client,
            '{ claims(filter: {target: "IL-6R"}, first: 1) { nodes { id version statement } } }',
            {},
            rhea,
        )
        claim = found["claims"]["nodes"][0]
        proposals = {}
        for who, token in (("rhea", rhea), ("cato", cato)):
            text = f"{claim['statement'].rstrip('.')} (as {who} words it)."
            data = await graphql_with(
                client,
                PROPOSE,
                {"input": {"id": claim["id"], "expectedVersion": claim["version"], "statement": text}},
                token,
            )
            assert not data["updateClaim"]["userErrors"], data
            proposals[who] = (data["updateClaim"]["revision"]["id"], text)
        accepted = await graphql_with(
            client,
            "mutation($input: ReviewRevisionInput!) "
            "{ reviewRevision(input: $input) { userErrors { message } } }",
            {"input": {"id": proposals["cato"][0], "decision": "ACCEPT"}},
            rex,
        )
        assert not accepted["reviewRevision"]["userErrors"], accepted
        await sign_in(client, rhea)
        queue = await client.get("/ui/review")
        assert queue.status_code == 200
        items = [i for i in queue.text.split('<li class="queue-item">')[1:] if proposals["rhea"][1] in i]
        assert len(items) == 1, "the reviewer's own revision is in the queue once"
        own = items[0]
        assert ">Withdraw</button>" in own and ">Accept</button>" not in own and ">Reject</button>" not in own
        assert "The claim has changed since this revision was proposed" in own
        assert '<label for="queue-target">Target</label>' in queue.text
        narrowed = await client.get("/ui/review", params={"target": "MIF"})
        assert narrowed.status_code == 200 and proposals["rhea"][1] not in narrowed.text
        same = await client.get("/ui/review", params={"target": "il6r"})  # an alias
        assert proposals["rhea"][1] in same.text


async def test_claim_lists_carry_the_marks_of_their_claims(settings: Settings, seeded_db: Database) -> None:
    """Lines come from one operation and their marks (open flags, source standing) from a second
    (pages_read._claim_list): each mark lands on its own claim's line."""
    _, fay = await create_user_with_token(seeded_db, "fay", Role.CURATOR)
    async with browser_like(settings, seeded_db) as client:
        found = await graphql_with(
            client, '{ claims(filter: {target: "IL-6R"}, first: 2) { nodes { id statement } } }', {}, fay
        )
        flagged, plain = found["claims"]["nodes"]
        raised = await graphql_with(
            client,
            "mutation($input: FlagClaimInput!) { flagClaim(input: $input) { userErrors { message } } }",
            {"input": {"claim": flagged["id"], "comment": "The quote does not say this."}},
            fay,
        )
        assert not raised["flagClaim"]["userErrors"], raised
        for path in ("/ui/targets/IL-6R", "/ui/claims?target=IL-6R"):
            page = await client.get(path)
            cards = {
                card.split('id="claim-', 1)[1].split("-title", 1)[0]: card
                for card in page.text.split('<article class="claim-card"')[1:]
            }
            assert "1 open flag" in cards[flagged["id"]], path
            assert "open flag" not in cards[plain["id"]], path


def test_history_words_and_unnamed_references() -> None:
    """A reference the API names with null (a revision) reads as its type and number, not
    "None"; audit actions read as words, unknown ones by their last part."""
    from api.web.render import change_value, event_words

    assert change_value({"id": global_id("Revision", 7), "name": None}) == "revision 7"
    assert change_value({"id": "not-a-global-id", "name": None}) == "—"
    assert change_value({"id": global_id("Outcome", 3), "name": "disease activity"}) == "disease activity"
    assert event_words("claim.revision.accept") == "Revision accepted"
    assert event_words("claim.some_new_step") == "Some new step"
