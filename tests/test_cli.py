"""The `claimsdb` command through typer's CliRunner: users, seeds and `audit verify`, and the
one-line errors a user can cause (engineering.md rule 10: a clear message, never a traceback).

The commands run their own event loop (asyncio.run), so tests that also use the async database
fixtures call them in a worker thread.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from click.testing import Result
from curation_helpers import Api, World, build_world, create_claim, error_codes, last_event_id
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings
from api.store.db import Database
from schema.tables import AuditEvent, Claim

ROLES = ("reader", "curator", "reviewer", "admin")


def invoke(args: list[str], database_url: str) -> Result:
    """Run `claimsdb ARGS` against DATABASE_URL (and nothing from the caller's environment)."""
    return CliRunner().invoke(
        app, args, env={"CLAIMSDB_DATABASE_URL": database_url, "CLAIMSDB_SEEDS_DIR": None}
    )


async def ainvoke(args: list[str], settings: Settings) -> Result:
    return await asyncio.to_thread(invoke, args, settings.database_url)


def assert_one_line_error(result: Result, *parts: str) -> str:
    """Exit status 1 and one line on standard error naming every part; no traceback."""
    assert result.exit_code == 1, f"expected exit 1, got {result.exit_code}: {result.output!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, f"a traceback reached the user:\n{result.output}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got {lines}"
    for part in parts:
        assert part in lines[0], f"the error should mention {part!r}: {lines[0]!r}"
    return lines[0]


def test_unknown_role_is_one_line_naming_the_roles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = invoke(["users", "add", "x", "--role", "wizard"], f"sqlite+aiosqlite:///{tmp_path}/c.sqlite3")
    line = assert_one_line_error(result, "wizard", *ROLES)
    assert result.stdout == "", f"nothing (no token) should go to standard output: {result.stdout!r}"
    assert line.startswith("error:"), line


@pytest.mark.parametrize(
    "url, parts",
    [
        ("mysql://user@localhost/claims", ("mysql", "sqlite+aiosqlite://", "postgresql+asyncpg://")),
        ("not a url at all", ("not a database URL",)),
    ],
)
@pytest.mark.parametrize("command", [["users", "list"], ["audit", "verify"], ["seed"]])
def test_a_bad_database_url_is_one_clear_line(url: str, parts: tuple[str, ...], command: list[str]) -> None:
    assert_one_line_error(invoke(command, url), "CLAIMSDB_DATABASE_URL", *parts)


async def test_users_add_list_and_revoke(api: Api, db: Database, settings: Settings) -> None:
    added = await ainvoke(
        ["users", "add", "carol", "--role", "Curator", "--orcid", "0000-0002-1825-0097"], settings
    )
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("cdb_") and " " not in token, (
        f"the last stdout line should be the token: {added.stdout!r}"
    )
    assert "carol" in added.stderr and "not stored" in added.stderr, added.stderr

    viewer = await api.data("{ viewer { name role orcid } }", token=token)
    assert viewer["viewer"] == {"name": "carol", "role": "CURATOR", "orcid": "0000-0002-1825-0097"}
    await api.ok("createSource", {"kind": "PREPRINT", "title": "By carol"}, token=token)

    again = await ainvoke(["users", "add", "carol"], settings)
    assert_one_line_error(again, "carol", "exists")
    bad_orcid = await ainvoke(["users", "add", "dave", "--orcid", "1234"], settings)
    assert_one_line_error(bad_orcid, "orcid")

    await ainvoke(["users", "add", "erin", "--role", "reviewer"], settings)
    listed = await ainvoke(["users", "list"], settings)
    assert listed.exit_code == 0, listed.output
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 2}
    assert set(rows) >= {"carol", "erin"}, f"users list should show carol and erin:\n{listed.stdout}"
    assert "curator" in rows["carol"] and "yes" in rows["carol"], rows["carol"]
    assert "reviewer" in rows["erin"], rows["erin"]

    revoked = await ainvoke(["users", "revoke", "carol"], settings)
    assert revoked.exit_code == 0 and "carol" in revoked.stdout, revoked.output
    codes = await api.top_level("createSource", {"kind": "PREPRINT", "title": "After"}, token=token)
    assert codes == ["UNAUTHENTICATED"], f"a token revoked on the command line still works: {codes}"
    errors = await api.errors("{ viewer { name } }", token=token)
    assert error_codes({"errors": errors}) == ["UNAUTHENTICATED"]
    relisted = await ainvoke(["users", "list"], settings)
    carol = next(line for line in relisted.stdout.splitlines() if "carol" in line)
    assert "no" in carol.split("│")[4] and carol.split("│")[5].strip() == "0", f"carol after revoke: {carol}"

    unknown = await ainvoke(["users", "revoke", "nobody"], settings)
    assert_one_line_error(unknown, "nobody")
    async with db.read() as session:
        actions = (await session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert actions.count("user.create") == 2 and actions[-1] == "user.revoke", (
        f"CLI writes are audited: {actions}"
    )


async def test_commands_on_an_unmigrated_database_say_to_upgrade(empty_settings: Settings) -> None:
    for command in (["seed"], ["users", "list"], ["audit", "verify"], ["users", "add", "x"]):
        result = await ainvoke(command, empty_settings)
        assert_one_line_error(result, "claimsdb db upgrade")


async def test_seed_twice_adds_nothing(db: Database, settings: Settings) -> None:
    first = await ainvoke(["seed"], settings)
    assert first.exit_code == 0, first.output
    async with db.read() as session:
        claims = (await session.execute(sa.select(Claim.status))).scalars().all()
    assert len(claims) > 0 and {s.value for s in claims} == {"ACCEPTED"}, "seeds load as ACCEPTED claims"
    events = await last_event_id(db)

    second = await ainvoke(["seed"], settings)
    assert second.exit_code == 0, second.output
    async with db.read() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(Claim))
    assert count == len(claims), f"a second seed run added claims: {len(claims)} -> {count}"
    assert await last_event_id(db) == events, "a second seed run that adds nothing should audit nothing"
    verified = await ainvoke(["audit", "verify"], settings)
    assert verified.exit_code == 0 and f"{events} events verified" in verified.stdout, verified.output


async def test_audit_verify(api: Api, db: Database, settings: Settings) -> None:
    world: World = await build_world(db)
    claim = await create_claim(api, world, "alice", submit=True)
    await api.ok(
        "reviewClaim",
        {"id": claim["id"], "expectedVersion": 1, "decision": "REJECT", "comment": "not verbatim"},
        token=world.tokens["rita"],
    )
    total = await last_event_id(db)
    intact = await ainvoke(["audit", "verify"], settings)
    assert intact.exit_code == 0, intact.output
    assert f"intact: {total} events verified" in intact.stdout, intact.stdout

    middle = total // 2
    async with db.read() as session:
        original = await session.scalar(sa.select(AuditEvent.comment).where(AuditEvent.id == middle))
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE audit_event SET comment = 'nothing to see' WHERE id = :id"), {"id": middle}
        )
    edited = await ainvoke(["audit", "verify"], settings)
    assert_one_line_error(edited, f"event {middle}", "edited")
    assert edited.stdout == "", "a broken chain must not also be reported as intact"

    async with db.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE audit_event SET comment = :c WHERE id = :id"), {"c": original, "id": middle}
        )
        await conn.execute(sa.text("DELETE FROM audit_event WHERE id = :id"), {"id": total})
    truncated = await ainvoke(["audit", "verify"], settings)
    assert_one_line_error(truncated, f"event {total}", "removed")
    assert f"{total - 1} events before it verified" in truncated.stderr, "the edit was put back"
