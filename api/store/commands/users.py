"""Users and their API tokens. A token is shown once, when made; only its hash is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode, invalid
from schema.base import utcnow
from schema.enums import Role
from schema.tables import ApiToken, User
from schema.users import hash_token, new_token

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")
SEED_USER = "seed"


async def create_user(w: Writer, name: str, role: Role, orcid: str | None = None) -> tuple[User, str]:
    """Create a user and their first API token; returns (user, token)."""
    if not _NAME.match(name):
        raise invalid(
            "name must be 1-100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
            "name",
        )
    if orcid is not None:
        orcid = orcid.strip().removeprefix("https://orcid.org/")
        if not _ORCID.match(orcid):
            raise invalid("orcid must look like 0000-0002-1825-0097", "orcid")
    if await w.session.scalar(sa.select(User.id).where(User.name == name)):
        raise StoreError.one(UserErrorCode.DUPLICATE, f"a user called '{name}' exists", ("name",))
    user = User(name=name, role=role, orcid=orcid)
    w.session.add(user)
    await w.session.flush()
    token = await issue_token(w, user)
    w.record("user.create", "User", user.id, after={"name": name, "role": role.value, "orcid": orcid})
    return user, token


async def issue_token(w: Writer, user: User, expires_at: datetime | None = None) -> str:
    token = new_token()
    w.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at))
    await w.session.flush()
    return token


# A token may live at most this long (a typo of --expires-in should not mint a token for ever).
MAX_TOKEN_DAYS = 3660


@dataclass(frozen=True)
class NewToken:
    user: User
    token: str
    revoked: int  # how many tokens it replaced
    expires_at: datetime | None
    reactivated: bool


async def replace_token(
    w: Writer, name: str, *, expires_in_days: int | None = None, reactivate: bool = False
) -> NewToken:
    """A new token for an existing user; every token they held before is revoked (a lost token
    is no longer a dead account). A deactivated user gets one only when `reactivate` says so."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise invalid(f"a token lives 1 to {MAX_TOKEN_DAYS} days, not {expires_in_days}")
    user = (
        await w.session.execute(sa.select(User).where(User.name == name).with_for_update())
    ).scalar_one_or_none()
    if user is None:
        raise StoreError.one(UserErrorCode.NOT_FOUND, f"no user is called '{name}'", ("name",))
    if not user.active and not reactivate:
        raise StoreError.one(
            UserErrorCode.INVALID_TRANSITION,
            f"'{name}' was deactivated (claimsdb users revoke); pass --reactivate to give them a token again",
            ("name",),
        )
    now = utcnow()
    revoked = await w.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days is not None else None
    token = await issue_token(w, user, expires_at)
    before: dict[str, object] = {}
    after: dict[str, object] = {"tokens_revoked": revoked.rowcount, "token_expires_at": expires_at}
    reactivated = not user.active
    if reactivated:
        user.active = True
        before["active"], after["active"] = False, True
    w.record("user.token", "User", user.id, before=before or None, after=after)  # type: ignore[arg-type]
    return NewToken(user, token, revoked.rowcount, expires_at, reactivated)


async def revoke_user(w: Writer, name: str) -> User:
    """Deactivate a user and revoke every token they hold (the user row stays for the audit)."""
    user = (await w.session.execute(sa.select(User).where(User.name == name))).scalar_one_or_none()
    if user is None:
        raise StoreError.one(UserErrorCode.NOT_FOUND, f"no user is called '{name}'", ("name",))
    now = utcnow()
    await w.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    user.active = False
    w.record("user.revoke", "User", user.id, before={"active": True}, after={"active": False})
    return user


async def system_user(w: Writer, name: str = SEED_USER) -> User:
    """The user the seeds (and other trusted imports) are entered as; made on first use."""
    user = (await w.session.execute(sa.select(User).where(User.name == name))).scalar_one_or_none()
    if user is None:
        user = User(name=name, role=Role.ADMIN)
        w.session.add(user)
        await w.session.flush()
        w.record("user.create", "User", user.id, after={"name": name, "role": Role.ADMIN.value})
    return user
