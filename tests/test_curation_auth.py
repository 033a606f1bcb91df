"""Who may write: API tokens over HTTP, roles, revocation, and tokens stored only as hashes.

Authentication and role failures are top-level GraphQL errors with extensions.code
UNAUTHENTICATED or FORBIDDEN (api-contract.graphql); nothing is stored after any of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from curation_helpers import (
    ADMIN,
    Api,
    World,
    claim_input,
    counts,
    create_claim,
    error_codes,
    mutation_document,
)

from api.settings import Settings
from api.store.commands.users import issue_token, revoke_user
from api.store.db import Database
from schema.tables import User

VIEWER = "{ viewer { id name role } }"


def _source(title: str = "An anonymous attempt") -> dict[str, Any]:
    return {"kind": "PREPRINT", "title": title}


# Every case below would be a valid write for a user with the right role.
ANONYMOUS_WRITES: list[tuple[str, Any]] = [
    ("createSource", lambda w, c: _source()),
    ("createTarget", lambda w, c: {"symbol": "ANON1", "name": "anonymous target", "kind": "gene"}),
    ("createClaim", lambda w, c: claim_input(w, statement="an anonymous claim")),
    ("addAlias", lambda w, c: {"entity": c["subject_id"], "alias": "anon"}),
    ("submitClaim", lambda w, c: {"id": c["draft_id"], "expectedVersion": 1}),
    ("reviewClaim", lambda w, c: {"id": c["id"], "expectedVersion": 1, "decision": "ACCEPT"}),
    ("retractClaim", lambda w, c: {"id": c["id"], "expectedVersion": 1, "reason": "anon"}),
]

# (user, mutation, input): the user's role is one step too low for the mutation.
TOO_LOW: list[tuple[str, str, Any]] = [
    ("ray", "createSource", lambda w, c: _source("A reader's source")),
    ("ray", "createTarget", lambda w, c: {"symbol": "RAY1", "name": "reader target", "kind": "gene"}),
    ("ray", "createClaim", lambda w, c: claim_input(w, statement="a reader's claim")),
    ("ray", "addAlias", lambda w, c: {"entity": c["subject_id"], "alias": "reader alias"}),
    ("ray", "updateClaim", lambda w, c: {"id": c["id"], "expectedVersion": 1, "statement": "x"}),
    ("bob", "reviewClaim", lambda w, c: {"id": c["id"], "expectedVersion": 1, "decision": "ACCEPT"}),
    (
        "alice",
        "reviewClaim",
        lambda w, c: {"id": c["id"], "expectedVersion": 1, "decision": "REJECT", "comment": "no"},
    ),
    ("alice", "retractClaim", lambda w, c: {"id": c["id"], "expectedVersion": 1, "reason": "x"}),
]


async def _targets_of_refusal(api: Api, world: World) -> dict[str, str]:
    """A submitted and a draft claim of alice's, and a target, for the refused writes to name."""
    submitted = await create_claim(api, world, "alice", submit=True)
    draft = await create_claim(api, world, "alice", direction="INCREASES")
    target = await api.data('{ target(symbol: "IL-6R") { id } }')
    return {"id": submitted["id"], "draft_id": draft["id"], "subject_id": target["target"]["id"]}


async def _unchanged(api: Api, world: World, context: dict[str, str], what: str) -> None:
    for key, status in (("id", "SUBMITTED"), ("draft_id", "DRAFT")):
        state = await api.state(context[key], token=world.tokens["rita"])
        assert state == (status, 1), f"{what} changed a claim: {state}"


async def test_a_token_identifies_the_caller_and_bad_tokens_are_refused(
    api: Api, db: Database, world: World
) -> None:
    for name, role in (("alice", "CURATOR"), ("rita", "REVIEWER"), ("ray", "READER"), ("ada", "ADMIN")):
        viewer = (await api.data(VIEWER, token=world.tokens[name]))["viewer"]
        assert viewer is not None, f"viewer is null for {name}'s valid token"
        assert (viewer["name"], viewer["role"]) == (name, role), f"{name}'s token answered as {viewer}"
    assert (await api.data(VIEWER))["viewer"] is None, "viewer without a token must be null"

    alice = world.tokens["alice"]
    headers = [
        "Bearer cdb_not-a-real-token",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        alice,  # a real token without the scheme
        f"Bearer {alice}x",  # a real token with one character added
        f"Bearer {alice[:-1]}",  # ...and with one taken away
        f"Bearer {hashlib.sha256(alice.encode()).hexdigest()}",  # the stored hash is not a token
    ]
    before = await counts(db)
    for header in headers:
        for query, variables in ((mutation_document("createSource"), {"input": _source()}), (VIEWER, None)):
            errors = await api.errors(query, variables, headers={"Authorization": header})
            codes = error_codes({"errors": errors})
            assert codes == ["UNAUTHENTICATED"], f"Authorization: {header!r} gave {codes} for {query[:40]}"
    assert await counts(db) == before, "a request with a bad token stored something"
    viewer = (await api.data(VIEWER, token=alice))["viewer"]
    assert viewer["name"] == "alice", "the real token should still work"


@pytest.mark.parametrize(
    ("user", "mutation", "make_input"),
    [(None, mutation, make_input) for mutation, make_input in ANONYMOUS_WRITES] + TOO_LOW,
    ids=[f"anonymous-{m}" for m, _ in ANONYMOUS_WRITES] + [f"{u}-{m}" for u, m, _ in TOO_LOW],
)
async def test_anonymous_and_underprivileged_writes_are_refused(
    api: Api, db: Database, world: World, user: str | None, mutation: str, make_input: Any
) -> None:
    context = await _targets_of_refusal(api, world)
    before = await counts(db)
    token = world.tokens[user] if user is not None else None
    codes = await api.top_level(mutation, make_input(world, context), token=token)
    expected = ["UNAUTHENTICATED"] if user is None else ["FORBIDDEN"]
    assert codes == expected, f"{user or 'anonymous'} running {mutation} gave {codes}, expected {expected}"
    assert await counts(db) == before, f"a refused {mutation} by {user or 'anonymous'} stored something"
    await _unchanged(api, world, context, f"a refused {mutation}")


async def test_the_audit_log_is_for_reviewers(api: Api, world: World) -> None:
    query = "{ auditLog(first: 1) { totalCount } }"
    assert error_codes({"errors": await api.errors(query)}) == ["UNAUTHENTICATED"]
    for name in ("ray", "alice"):
        errors = await api.errors(query, token=world.tokens[name])
        assert error_codes({"errors": errors}) == ["FORBIDDEN"], f"{name} read the audit log: {errors}"
    for name in ("rita", "ada"):
        total = (await api.data(query, token=world.tokens[name]))["auditLog"]["totalCount"]
        assert total > 0, f"{name} should read a non-empty audit log"


async def test_revoked_user_is_unauthenticated(api: Api, db: Database, world: World) -> None:
    token = world.tokens["bob"]
    await api.ok("createSource", _source("Before revocation"), token=token)
    async with db.write(ADMIN) as w:
        await revoke_user(w, "bob")
    before = await counts(db)
    codes = await api.top_level("createSource", _source("After revocation"), token=token)
    assert codes == ["UNAUTHENTICATED"], f"a revoked user's token gave {codes}"
    errors = await api.errors(VIEWER, token=token)
    assert error_codes({"errors": errors}) == ["UNAUTHENTICATED"], errors
    assert await counts(db) == before, "a revoked token stored something"
    # Other users are untouched.
    await api.ok("createSource", _source("Alice still writes"), token=world.tokens["alice"])
    # Revocation deactivates the user: even a token issued afterwards does not let them in.
    async with db.write(ADMIN) as w:
        user = await w.session.scalar(sa.select(User).where(User.name == "bob"))
        assert user is not None and user.active is False, "a revoked user should be inactive"
        fresh = await issue_token(w, user)
    errors = await api.errors(VIEWER, token=fresh)
    assert error_codes({"errors": errors}) == ["UNAUTHENTICATED"], "a deactivated user's new token worked"


async def test_tokens_are_stored_only_as_hashes(
    api: Api, db: Database, world: World, settings: Settings, backend: str
) -> None:
    tokens = list(world.tokens.values())
    assert all(t.startswith("cdb_") and len(t) > 40 for t in tokens), "tokens should be long and prefixed"
    async with db.read() as session:
        rows = (await session.execute(sa.text("SELECT * FROM api_token"))).mappings().all()
        audit_text = [
            str(r) for r in (await session.execute(sa.text("SELECT * FROM audit_event"))).mappings().all()
        ]
    assert len(rows) == len(tokens), f"expected one api_token row per user, got {len(rows)}"
    stored = {str(v) for row in rows for v in row.values()}
    for token in tokens:
        assert not any(token in value for value in stored), "a plaintext token is stored in api_token"
        assert hashlib.sha256(token.encode()).hexdigest() in stored, "the token's SHA-256 is not stored"
        assert not any(token in text for text in audit_text), "a plaintext token is in the audit log"
    if backend == "sqlite":
        await db.dispose()  # flush the WAL so the file holds everything
        raw = settings.url.database
        assert raw is not None
        content = b"".join(p.read_bytes() for p in (Path(raw), Path(raw + "-wal")) if p.exists())
        for token in tokens:
            assert token.encode() not in content, "a plaintext token is somewhere in the database file"
