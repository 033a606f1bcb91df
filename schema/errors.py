"""Errors a user can cause, as data: a code, a message and the path of the input field at fault.

Pure: the validators (schema.validation) return them, the store raises them
(api.store.errors.StoreError), the GraphQL layer turns them into `userErrors` and the CLI prints
them. A message that names another object (the claim an input repeats) holds it as a `Ref`, not
as text: only the edge that shows the message knows how the object is named there (the API by
its global ID).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class UserErrorCode(StrEnum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    AMBIGUOUS = "AMBIGUOUS"
    DUPLICATE = "DUPLICATE"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True, slots=True)
class Ref:
    """Another object a message names, by type (the GraphQL type name) and database id."""

    type_name: str
    id: int

    def __str__(self) -> str:
        return f"{self.type_name} {self.id}"


@dataclass(frozen=True)
class UserError:
    code: UserErrorCode
    # The message; where it names objects, rendered with str(Ref) ("Claim 12").
    message: str
    # Path of the offending input field, relative to the input ("statement", "cohort", "size"),
    # in the input's own (GraphQL) field names.
    field: tuple[str, ...] = ()
    # The message as text and Refs, when it names objects (else empty): see render().
    parts: tuple[str | Ref, ...] = ()

    @classmethod
    def naming(cls, code: UserErrorCode, field: Sequence[str], *parts: str | Ref) -> UserError:
        """An error whose message names objects: `parts` are its text and Refs, in order."""
        return cls(code, "".join(str(part) for part in parts), tuple(field), parts)

    def render(self, name: Callable[[Ref], str]) -> str:
        """The message with each object named by `name` (the API: its global ID)."""
        if not self.parts:
            return self.message
        return "".join(part if isinstance(part, str) else name(part) for part in self.parts)

    def within(self, *path: str, prefix: str = "") -> UserError:
        """This error about a part of a larger input: its field under `path`, its message after
        `prefix` ("claim 12: " for the twelfth record of an import)."""
        parts = (prefix, *self.parts) if self.parts and prefix else self.parts
        return UserError(self.code, prefix + self.message, (*path, *self.field), parts)

    def followed_by(self, text: str) -> UserError:
        """This error with `text` added to its message (a hint only the caller can give)."""
        return UserError(
            self.code, self.message + text, self.field, (*self.parts, text) if self.parts else ()
        )
