"""Turning the values the database wrote into the JSON into what the GraphQL scalars serialise.

The database writes ids as integers and timestamps as UTC text (api/store/queries/documents.py);
the ordinary path serialises `to_global_id(type, id)` and `datetime.isoformat()` of the aware UTC
datetime (Strawberry's DateTime). What a document needs rewritten is described as a tree
(`Fix`: which keys to convert, which nested objects, lists and union members to visit) and made
into one plain Python function per selection (`fixer`), which rewrites exactly those values in
place; assigning to an existing key keeps the key's position, so key order is kept. A page holds
about a thousand such values: one generated function walking it costs a third of a walk by
nested closures, which made up a tenth of a compiled request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from api.graphql.ids import to_global_id

Convert = Callable[[Any], Any]
Fixer = Callable[[Any], Any]

# Marks which member of a union a document holds (documents.FirstOf); GraphQL names cannot hold
# '#', so it never collides with a response key. Removed when the document is fixed.
MEMBER_KEY = "#"

_GLOBAL_IDS: dict[str, Convert] = {}


def global_id(type_name: str) -> Convert:
    """The converter of one type's ids. A page repeats ids (the same target, organism, source on
    many claims), so each type keeps a bounded cache of its recent global IDs."""
    convert = _GLOBAL_IDS.get(type_name)
    if convert is None:
        convert = _GLOBAL_IDS[type_name] = lru_cache(maxsize=4096)(lambda key: to_global_id(type_name, key))
    return convert


def utc_datetime(text: str) -> str:
    """What DateTime serialises for the UTCDateTime column (an aware UTC datetime) whose stored
    UTC text this is (SQLAlchemy reads SQLite's text the same way; PostgreSQL's to_char gives it).

    The usual text, 'YYYY-MM-DD HH:MM:SS.ffffff', is rewritten as text (a third of the cost of
    parsing and formatting a datetime, a hundred times a page); `isoformat` leaves out a zero
    fraction, and so does this. Any other shape goes through datetime."""
    if len(text) == 26 and text[10] == " " and text[13] == text[16] == ":" and text[20:].isdigit():
        fraction = text[19:] if text[20:] != "000000" else ""
        return f"{text[:10]}T{text[11:19]}{fraction}+00:00"
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


# --- what to fix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    """One object: its keys to convert, and its nested objects (`objects`), lists of objects
    (`lists`) and union members (`unions`: member marker → what that member needs) to visit."""

    converts: tuple[tuple[str, Convert], ...] = ()
    objects: tuple[tuple[str, Fix], ...] = ()
    lists: tuple[tuple[str, Fix], ...] = ()
    unions: tuple[tuple[str, tuple[tuple[str, Fix | None], ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.converts or self.objects or self.lists or self.unions)


def fixer(fix: Fix | None) -> Fixer | None:
    """One function that fixes a document in place (and returns it), or None when nothing to."""
    if not fix:
        return None
    code = _Code()
    code.emit(fix, "d", 1)
    source = "def fix(d):\n" + "\n".join(code.lines) + "\n    return d\n"
    scope: dict[str, Any] = dict(code.constants)
    exec(compile(source, "<compiled-query fixer>", "exec"), scope)  # noqa: S102  (our own source)
    return scope["fix"]  # type: ignore[no-any-return]


class _Code:
    """Python source for a Fix tree; keys are written with repr(), functions passed as names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self._variables = 0

    def constant(self, value: Any) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def variable(self) -> str:
        self._variables += 1
        return f"v{self._variables}"

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def emit(self, fix: Fix, target: str, depth: int) -> None:
        for key, convert in fix.converts:
            value, function = self.variable(), self.constant(convert)
            self.line(depth, f"{value} = {target}[{key!r}]")
            self.line(depth, f"if {value} is not None:")
            self.line(depth + 1, f"{target}[{key!r}] = {function}({value})")
        for key, nested in fix.objects:
            value = self.variable()
            self.line(depth, f"{value} = {target}[{key!r}]")
            self.line(depth, f"if {value} is not None:")
            self.emit_or_pass(nested, value, depth + 1)
        for key, nested in fix.lists:
            item = self.variable()
            self.line(depth, f"for {item} in {target}[{key!r}]:")
            self.emit_or_pass(nested, item, depth + 1)
        for key, members in fix.unions:
            value, member = self.variable(), self.variable()
            self.line(depth, f"{value} = {target}[{key!r}]")
            self.line(depth, f"if {value} is not None:")
            self.line(depth + 1, f"{member} = {value}.pop({MEMBER_KEY!r})")
            for index, (name, nested) in enumerate(members):
                self.line(depth + 1, f"{'if' if index == 0 else 'elif'} {member} == {name!r}:")
                self.emit_or_pass(nested, value, depth + 2)

    def emit_or_pass(self, fix: Fix | None, target: str, depth: int) -> None:
        before = len(self.lines)
        if fix:
            self.emit(fix, target, depth)
        if len(self.lines) == before:
            self.line(depth, "pass")
