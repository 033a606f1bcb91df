"""Relay global IDs: opaque, URL-safe base64 of "TypeName:integer-id".

Encoded and decoded here, at the GraphQL edge, and nowhere else: the store takes and returns
ints (and names). Where the contract accepts "a name or a global ID" (a claim's target, a
source reference, a filter), the edge turns a global ID of the expected type into the int with
`name_or_id` before calling the store; anything else stays the text the store resolves as a
name, alias, CURIE, DOI, PMID or URL.
"""

from __future__ import annotations

import base64
import binascii

from schema.errors import Ref

GLOBAL_TYPES = frozenset(
    {
        "Claim", "Target", "Intervention", "Condition", "Organism", "Outcome", "Cohort",
        "Source", "User", "AuditEvent", "Conflict", "Revision", "Flag",
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


def _fixed_prefix(type_name: str) -> str:
    """What every global ID of a type starts with: the base64 of the whole 3-byte groups of
    "TypeName:", which encode the same whatever the key."""
    head = f"{type_name}:".encode()
    return base64.urlsafe_b64encode(head[: len(head) // 3 * 3]).decode()


_PREFIXES = {type_name: _fixed_prefix(type_name) for type_name in GLOBAL_TYPES}


def int_id_of(global_id: str, expected_type: str) -> int | None:
    """The integer id behind a global ID of the expected type, else None."""
    # Most text given where a global ID may be is a name ("IL-6R", a DOI): turned away by its
    # first characters, without decoding it (createClaim asks for five references).
    if not global_id.lstrip().startswith(_PREFIXES[expected_type]):
        return None
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != expected_type:
        return None
    return int_key(parsed[1])


def name_or_id(value: str, expected_type: str) -> int | str:
    """What the store takes for a reference the client gave as text: the id behind a global ID
    of the expected type, else the text itself (a name, alias, CURIE, DOI, PMID or URL)."""
    found = int_id_of(value, expected_type)
    return value if found is None else found


class GivenIds:
    """The global IDs one request's input gave for references, decoded, with the text the
    client gave for each, so a message about one of them (a source that does not exist) quotes
    it as given; any other object a message names is shown by its global ID."""

    def __init__(self) -> None:
        self._given: dict[tuple[str, int], str] = {}

    def name_or_id(self, value: str, expected_type: str) -> int | str:
        """name_or_id, remembering the text of a global ID."""
        found = int_id_of(value, expected_type)
        if found is None:
            return value
        self._given.setdefault((expected_type, found), value)
        return found

    def render(self, ref: Ref) -> str:
        """How a message names an object: as the client named it, or by its global ID."""
        return self._given.get((ref.type_name, ref.id)) or to_global_id(ref.type_name, ref.id)
