"""The audit log's hash chain.

Each event's hash is SHA-256 over a canonical encoding of everything stored about it (its id,
time, actor, action, entity, before and after, comment, request id) and the previous event's
hash. Changing any stored field of any event, or removing one, breaks the chain at that event.
The canonical encoding is JSON with sorted keys and no insignificant whitespace (orjson), with
times as ISO-8601 in UTC at microsecond precision, so both databases give the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class EventContent:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    comment: str | None
    request_id: str | None


def canonical_bytes(event: EventContent, previous_hash: str) -> bytes:
    document = {
        "id": event.id,
        "at": event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": event.actor_id,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "comment": event.comment,
        "request_id": event.request_id,
        "previous_hash": previous_hash,
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def event_hash(event: EventContent, previous_hash: str) -> str:
    return hashlib.sha256(canonical_bytes(event, previous_hash)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def verify_chain(
    events: Iterable[tuple[EventContent, str, str]], anchor: str = GENESIS_HASH
) -> ChainBreak | None:
    """Walk (content, stored previous_hash, stored hash) in id order, starting after the event
    whose hash is `anchor` (genesis by default); the first break, or None."""
    expected_previous = anchor
    for content, previous_hash, stored_hash in events:
        if previous_hash != expected_previous:
            return ChainBreak(
                content.id,
                "its previous_hash does not match the event before it "
                "(an event was removed, reordered or its hash edited)",
            )
        if event_hash(content, previous_hash) != stored_hash:
            return ChainBreak(content.id, "its content does not match its hash (a field was edited)")
        expected_previous = stored_hash
    return None


def json_safe(value: Any) -> Any:
    """Values as they will read back from a JSON column (dates to ISO strings, enums to names)."""
    return orjson.loads(orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS))


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} in an audit event")


@dataclass(frozen=True)
class Neighbours:
    """What the chain holds around one event: the hash stored on the event before it, the
    previous_hash stored on the event after it (None where there is no such event), and the
    chain head."""

    hash_before: str | None
    previous_of_next: str | None
    head_id: int
    head_hash: str


def verify_in_place(
    content: EventContent, previous_hash: str, stored_hash: str, around: Neighbours
) -> ChainBreak | None:
    """Check one event where it stands, without walking the chain: its content still hashes to
    its hash, it names the hash of the event before it (genesis for the first), and the event
    after it (or the head, for the newest) names its hash. So editing any field of the event,
    or removing or editing a neighbour it is linked to, shows; what happened elsewhere in the
    chain is for verify_chain."""
    if event_hash(content, previous_hash) != stored_hash:
        return ChainBreak(content.id, "its content does not match its hash (a field was edited)")
    expected = GENESIS_HASH if content.id == 1 else around.hash_before
    if expected is None:
        return ChainBreak(content.id, "the event before it was removed")
    if previous_hash != expected:
        return ChainBreak(content.id, "its previous_hash does not match the event before it")
    if content.id == around.head_id:
        if around.head_hash != stored_hash:
            return ChainBreak(content.id, "the chain head does not match this event")
    elif content.id > around.head_id:
        return ChainBreak(content.id, "the chain head is behind this event")
    elif around.previous_of_next is None:
        return ChainBreak(content.id + 1, "the event after it was removed")
    elif around.previous_of_next != stored_hash:
        return ChainBreak(content.id + 1, "the event after it does not chain to it")
    return None
