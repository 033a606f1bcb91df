"""`claimsdb users token NAME [--expires-in DAYS]` (issue 14, item 8): a new token for an existing
user revokes the old ones, so a lost token is no longer a dead account; an expired token is
refused like a revoked one. Expiry is tested by asking at a later time and by moving the stored
expiry into the past, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from curation_helpers import ADMIN, Api, error_codes
from test_cli import ainvoke, assert_one_line_error

from api.settings import Settings
from api.store.db import Database
from api.store.queries.users import actor_for_token
from schema.base import utcnow
from schema.tables import ApiToken, AuditEvent, User

VIEWER = "{ viewer { name } }"


def _token(stdout: str) -> str:
    token = stdout.strip().splitlines()[-1]
    assert token.startswith("cdb_"), f"the last line should be the token: {stdout!r}"
    return token


async def _refused(api: Api, token: str) -> bool:
    return error_codes({"errors": await api.errors(VIEWER, token=token)}) == ["UNAUTHENTICATED"]


async def test_a_new_token_replaces_the_old_ones(api: Api, db: Database, settings: Settings) -> None:
    first = _token((await ainvoke(["users", "add", "carol", "--role", "curator"], settings)).stdout)
    made = await ainvoke(["users", "token", "carol"], settings)
    assert made.exit_code == 0, made.output
    assert "1 older token(s) revoked" in made.stderr, made.stderr
    second = _token(made.stdout)
    assert await _refused(api, first), "the old token should be revoked"
    assert (await api.data(VIEWER, token=second))["viewer"] == {"name": "carol"}
    async with db.read() as session:
        event = (await session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))).one()
    assert (event.action, event.entity_type, event.after) == (
        "user.token", "User", {"tokens_revoked": 1, "token_expires_at": None},
    )  # fmt: skip

    assert_one_line_error(await ainvoke(["users", "token", "nobody"], settings), "nobody")
    assert_one_line_error(await ainvoke(["users", "token", "carol", "--expires-in", "0"], settings), "1 to")
    assert_one_line_error(
        await ainvoke(["users", "token", "carol", "--expires-in", "soon"], settings), "--expires-in"
    )
    assert (await api.data(VIEWER, token=second))["viewer"] == {"name": "carol"}, "a refusal changed nothing"

    # A deactivated user gets a token only when reactivated on purpose.
    await ainvoke(["users", "revoke", "carol"], settings)
    assert_one_line_error(await ainvoke(["users", "token", "carol"], settings), "--reactivate")
    back = await ainvoke(["users", "token", "carol", "--reactivate"], settings)
    assert back.exit_code == 0 and "reactivated" in back.stderr, back.output
    assert (await api.data(VIEWER, token=_token(back.stdout)))["viewer"] == {"name": "carol"}


async def test_an_expired_token_is_refused(api: Api, db: Database, settings: Settings) -> None:
    await ainvoke(["users", "add", "dora"], settings)
    made = await ainvoke(["users", "token", "dora", "--expires-in", "2"], settings)
    assert made.exit_code == 0 and "valid until" in made.stderr, made.output
    token = _token(made.stdout)
    assert (await api.data(VIEWER, token=token))["viewer"] == {"name": "dora"}

    now = utcnow()
    async with db.read() as session:
        assert await actor_for_token(session, token, now + timedelta(days=1, hours=23)) is not None
        assert await actor_for_token(session, token, now + timedelta(days=2, minutes=1)) is None

    # Its expiry passed: refused over HTTP, and no longer counted as a live token.
    async with db.write(ADMIN) as w:
        user_id = await w.session.scalar(sa.select(User.id).where(User.name == "dora"))
        await w.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user_id)
            .values(expires_at=now - timedelta(seconds=1))
        )
    assert await _refused(api, token)
    listed = await ainvoke(["users", "list"], settings)
    dora = next(line for line in listed.stdout.splitlines() if "dora" in line)
    assert dora.split("│")[5].strip() == "0", dora
