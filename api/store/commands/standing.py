"""A source's standing: set by reviewers (setSourceStanding) and by update files (`claimsdb
sources standing FILE`, rows read by schema.standing).

A standing carries its note and date: when the standing changes and no note or date is given,
the note is cleared and the date is the day it is applied; when it stays, they are kept unless
given. A change that changes nothing stores nothing. Each change is audited on the source, and
every claim whose inherited standing (the worst along its source's derivedFrom chain) it changes
gets an event of its own: the claims of the source and of every source that retells it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from api.store.commands._common import optional_label, require_role
from api.store.db import Writer
from api.store.errors import StoreError, UserError, UserErrorCode, invalid
from api.store.queries.standing import chain_standings, retelling_sources
from api.store.resolve import Reference, resolve_source_id
from schema.base import utcnow
from schema.enums import Role, SourceStanding
from schema.standing import StandingFile, StandingRow, latest_allowed_since
from schema.tables import MAX_STATEMENT, Claim, Source

UNSET: Any = object()  # "not given", as distinct from an explicit null
_CHUNK = 500  # identifiers per look-up statement
_STANDING_COLUMNS = ("standing", "standing_note", "standing_since")


@dataclass
class StandingChange:
    source: Source
    before: SourceStanding
    changed: bool
    claims: int = 0  # claims whose inherited standing changed (each got an audit event)


async def set_source_standing(
    w: Writer,
    source: Reference,
    standing: SourceStanding,
    *,
    note: str | None = UNSET,
    since: date | None = None,
) -> StandingChange:
    """Set a source's standing. `note`: UNSET (see the module's rule) or the note (None or blank
    clears it); `since`: None for the default."""
    require_role(w.actor, Role.REVIEWER, "setting a source's standing")
    source_id = await resolve_source_id(w.session, source, ("source",))
    if note is not UNSET:
        note = optional_label(note, MAX_STATEMENT, "note")
    if since is not None and since > latest_allowed_since(utcnow().date()):
        raise invalid(f"since {since.isoformat()} lies in the future", "since")
    return await _apply(w, source_id, standing, note, since)


async def _apply(
    w: Writer, source_id: int, standing: SourceStanding, note: str | None, since: date | None
) -> StandingChange:
    s = w.session
    source = (await s.execute(sa.select(Source).where(Source.id == source_id).with_for_update())).scalar_one()
    was = SourceStanding(source.standing)
    stays = was is standing
    wanted = {
        "standing": standing,
        "standing_note": (source.standing_note if stays else None) if note is UNSET else note,
        "standing_since": since or (source.standing_since if stays else utcnow().date()),
    }
    before = {key: getattr(source, key) for key in _STANDING_COLUMNS}
    changed = [key for key in _STANDING_COLUMNS if wanted[key] != before[key]]
    if not changed:
        return StandingChange(source, was, changed=False)

    affected = await retelling_sources(s, source_id)
    claims = (
        await s.execute(sa.select(Claim.id, Claim.source_id).where(Claim.source_id.in_(affected)))
    ).all()
    inherited_before = await chain_standings(s, affected)
    for key in changed:
        setattr(source, key, wanted[key])
    await s.flush()
    inherited_after = await chain_standings(s, affected)

    w.record(
        "source.standing",
        "Source",
        source_id,
        before={key: before[key] for key in changed},
        after={key: wanted[key] for key in changed},
    )
    comment = _why(source.title, standing, wanted["standing_note"])
    moved = 0
    for claim_id, claim_source in claims:
        old, new = inherited_before[claim_source], inherited_after[claim_source]
        if old is not new:
            moved += 1
            w.record(
                "claim.source_standing",
                "Claim",
                claim_id,
                before={"source_standing": old},
                after={"source_standing": new},
                comment=comment,
            )
    return StandingChange(source, was, changed=True, claims=moved)


def _why(title: str, standing: SourceStanding, note: str | None) -> str:
    """The claim events' comment: which source, what became of it, and why."""
    shown = title if len(title) <= 200 else title[:199] + "…"
    text = f"source '{shown}' is now {standing.value}" + (f": {note}" if note else "")
    return text if len(text) <= MAX_STATEMENT else text[: MAX_STATEMENT - 1] + "…"


# --- update files ---------------------------------------------------------------------------


@dataclass
class StandingReport:
    rows: int = 0
    changes: list[StandingChange] = field(default_factory=list)  # sources whose standing changed
    unchanged: int = 0  # sources already so
    unknown: list[StandingRow] = field(default_factory=list)  # rows naming no source held here

    @property
    def claims(self) -> int:
        return sum(change.claims for change in self.changes)


async def apply_standing_file(w: Writer, parsed: StandingFile) -> StandingReport:
    """Apply an update file's rows, all or nothing: any bad row (read by schema.standing, or one
    whose DOI and PMID name two sources, or two rows giving one source different standings on
    the same date) refuses the whole file, every problem named with its line. Rows naming
    documents this database does not hold are skipped (an export covers far more than it holds)
    and reported. Of several rows about one source, the latest dated applies."""
    require_role(w.actor, Role.REVIEWER, "setting a source's standing")
    problems = list(parsed.problems)
    by_doi = await _ids(w, Source.doi, {r.doi for r in parsed.rows if r.doi})
    by_pmid = await _ids(w, Source.pmid, {r.pmid for r in parsed.rows if r.pmid})
    report = StandingReport(rows=len(parsed.rows))
    chosen: dict[int, StandingRow] = {}
    for row in parsed.rows:
        doi_id = by_doi.get(row.doi) if row.doi else None
        pmid_id = by_pmid.get(row.pmid) if row.pmid else None
        if doi_id is not None and pmid_id is not None and doi_id != pmid_id:
            problems.append((row.line, f"DOI {row.doi} and PMID {row.pmid} name two different sources"))
            continue
        source_id = doi_id or pmid_id
        if source_id is None:
            report.unknown.append(row)
            continue
        earlier = chosen.get(source_id)
        if earlier is None or _same(earlier, row):
            chosen.setdefault(source_id, row)
        elif earlier.since is not None and row.since is not None and earlier.since != row.since:
            chosen[source_id] = max(earlier, row, key=lambda r: r.since)  # type: ignore[arg-type,return-value]
        else:
            problems.append(
                (
                    row.line,
                    f"line {earlier.line} gives this document ({earlier.identifier}) another standing; "
                    "keep one row for it, or date both so the later applies",
                )
            )
    if problems:
        raise StoreError(
            [
                UserError(UserErrorCode.INVALID, f"line {line}: {message}" if line else message)
                for line, message in sorted(problems, key=lambda problem: problem[0])
            ]
        )
    for source_id, row in sorted(chosen.items(), key=lambda item: item[1].line):
        change = await _apply(w, source_id, row.standing, row.note if row.note_given else UNSET, row.since)
        if change.changed:
            report.changes.append(change)
        else:
            report.unchanged += 1
    return report


def _same(a: StandingRow, b: StandingRow) -> bool:
    return (a.standing, a.since, a.note, a.note_given) == (b.standing, b.since, b.note, b.note_given)


async def _ids(w: Writer, column: Any, keys: Iterable[str]) -> dict[str, int]:
    wanted = sorted(keys)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await w.session.execute(sa.select(column, Source.id).where(column.in_(chunk)))
        found.update({key: source_id for key, source_id in rows.all()})
    return found
