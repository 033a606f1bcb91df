"""Checks shared by the commands."""

from __future__ import annotations

from api.store.errors import StoreError, UserError, UserErrorCode
from schema.enums import Role
from schema.users import Actor
from schema.validation import Problems


def require_role(actor: Actor, role: Role, what: str) -> None:
    if not actor.can(role):
        raise StoreError.one(
            UserErrorCode.FORBIDDEN,
            f"{what} needs the {role.value.lower()} role; you are {actor.role.value.lower()}",
        )


def required_label(value: str | None, max_len: int, *field: str) -> str:
    """A label as stored (schema.validation's rule), or the StoreError saying what is wrong."""
    problems = Problems()
    text = problems.label(value, max_len, *field, required=True)
    if problems.errors:
        raise StoreError(problems.errors)
    assert text is not None
    return text


def optional_label(value: str | None, max_len: int, *field: str) -> str | None:
    problems = Problems()
    text = problems.label(value, max_len, *field, required=False)
    if problems.errors:
        raise StoreError(problems.errors)
    return text


def collect(errors: list[StoreError]) -> None:
    """Raise every collected error at once, so a user fixes them in one round trip."""
    if errors:
        raise StoreError([e for err in errors for e in err.errors])


def refuse(errors: list[UserError]) -> None:
    """Raise the problems a validator (schema.validation) found, if any."""
    if errors:
        raise StoreError(list(errors))
