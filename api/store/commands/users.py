"""Users and their API tokens. A token is shown once, when made; only its hash is stored."""

from __future__ import annotations

import re

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


async def issue_token(w: Writer, user: User) -> str:
    token = new_token()
    w.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token)))
    await w.session.flush()
    return token


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
