"""Relay global IDs: opaque, URL-safe base64 of "TypeName:integer-id".

Used by the GraphQL layer for `id` fields and by the store wherever an input may name an object
by its global ID (a source reference, an alias's entity).
"""

from __future__ import annotations

import base64
import binascii

GLOBAL_TYPES = frozenset(
    {
        "Claim", "Target", "Intervention", "Condition", "Organism", "Outcome", "Cohort",
        "Source", "User", "AuditEvent", "Conflict",
    }
)  # fmt: skip


def to_global_id(type_name: str, key: int | str) -> str:
    raw = f"{type_name}:{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, str] | None:
    """(type name, key) of a well-formed global ID, else None."""
    text = global_id.strip()
    if not text or len(text) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, key = raw.partition(":")
    if not sep or type_name not in GLOBAL_TYPES or not key:
        return None
    return type_name, key


# Keys are 32-bit integers in both databases; anything else names nothing.
MAX_KEY = 2**31 - 1


def int_key(text: str) -> int | None:
    """A database key from its decimal text, or None when it cannot be one."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_KEY else None


def int_id_of(global_id: str, expected_type: str) -> int | None:
    """The integer id behind a global ID of the expected type, else None."""
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != expected_type:
        return None
    return int_key(parsed[1])
