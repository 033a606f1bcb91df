"""Checks shared by the commands."""

from __future__ import annotations

from collections.abc import Sequence

from api.store.errors import StoreError, UserErrorCode, invalid
from schema.enums import Role
from schema.normalize import clean_label
from schema.users import Actor


def require_role(actor: Actor, role: Role, what: str) -> None:
    if not actor.can(role):
        raise StoreError.one(
            UserErrorCode.FORBIDDEN,
            f"{what} needs the {role.value.lower()} role; you are {actor.role.value.lower()}",
        )


def required_label(value: str | None, max_len: int, *field: str) -> str:
    text = clean_label(value or "")
    if not text:
        raise invalid(f"{field[-1]} must not be empty", *field)
    if len(text) > max_len:
        raise invalid(f"{field[-1]} is {len(text)} characters; at most {max_len} are allowed", *field)
    return text


def optional_label(value: str | None, max_len: int, *field: str) -> str | None:
    if value is None:
        return None
    text = clean_label(value)
    if not text:
        return None
    if len(text) > max_len:
        raise invalid(f"{field[-1]} is {len(text)} characters; at most {max_len} are allowed", *field)
    return text


def collect(errors: list[StoreError]) -> None:
    """Raise every collected error at once, so a user fixes them in one round trip."""
    if errors:
        raise StoreError([e for err in errors for e in err.errors])


def field_path(*parts: str | int) -> Sequence[str]:
    return tuple(str(p) for p in parts)
