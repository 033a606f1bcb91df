"""Who is acting, and how API tokens are made and recognised."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from schema.enums import Role

TOKEN_PREFIX = "cdb_"


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    role: Role

    def can(self, role: Role) -> bool:
        return self.role.includes(role)


ANONYMOUS = Actor(None, "anonymous", Role.READER)


def new_token() -> str:
    """A random API token, shown once; 32 bytes of entropy."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 resists guessing; only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
