"""`claimsdb sources standing FILE` (issue 14, item 7): a JSON Lines or CSV update file of
doi/pmid, standing, date, note; twice changes nothing; every bad row reported with its line and
nothing applied; rows about documents not held here skipped. The reading of rows is pure
(schema.standing) and is checked on its own first."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from curation_helpers import ADMIN, build_world, last_event_id
from test_cli import ainvoke, assert_one_line_error

from api.settings import Settings
from api.store.commands.claims import create_claim
from api.store.commands.sources import create_source
from api.store.db import Database
from schema.enums import EffectDirection, EvidenceType, Modality, SourceKind, SourceStanding
from schema.records import ClaimRecord, EvidenceRecord, SourceRecord
from schema.standing import parse_standing_file, standing_named
from schema.tables import AuditEvent, Source

TODAY = date(2026, 1, 15)


def test_rows_are_read_from_csv_and_json_lines_with_every_problem_by_line() -> None:
    assert standing_named("Retraction") is SourceStanding.RETRACTED
    assert standing_named(" expression-of concern ") is SourceStanding.EXPRESSION_OF_CONCERN
    assert standing_named("Erratum") is SourceStanding.CORRECTED
    assert standing_named("Reinstatement") is SourceStanding.CURRENT
    assert standing_named("retractd") is None

    csv_text = (
        "Title;DOI;Standing;Date;Note\n"
        'A;https://doi.org/10.1000/A;Retraction;2020-01-31T00:00:00Z;"Data; fabricated"\n'
        "\n"
        "B;10.1000/b;Correction;;\n"
    )
    parsed = parse_standing_file(csv_text, name="notices.csv", today=TODAY)
    assert parsed.problems == []
    first, second = parsed.rows
    assert (first.line, first.doi, first.standing, first.since, first.note) == (
        2, "10.1000/a", SourceStanding.RETRACTED, date(2020, 1, 31), "Data; fabricated",
    )  # fmt: skip
    assert (second.line, second.since, second.note, second.note_given) == (4, None, None, True)

    jsonl = "\n".join(
        [
            '{"pmid": 20406167, "standing": "EXPRESSION_OF_CONCERN"}',
            "[1, 2]",
            '{"doi": "10.1000/x", "standing": "gone", "date": "31/01/2020"}',
            '{"standing": "RETRACTED", "date": "2026-03-01"}',
            "{not json",
        ]
    )
    parsed = parse_standing_file(jsonl, today=TODAY)
    assert [(r.line, r.pmid, r.note_given) for r in parsed.rows] == [(1, "20406167", False)]
    by_line: dict[int, list[str]] = {}
    for line, message in parsed.problems:
        by_line.setdefault(line, []).append(message)
    assert sorted(by_line) == [2, 3, 4, 5], by_line
    assert any("JSON object" in m for m in by_line[2])
    assert any("standing 'gone'" in m for m in by_line[3]) and any("YYYY-MM-DD" in m for m in by_line[3])
    assert any("doi or pmid" in m for m in by_line[4]) and any("future" in m for m in by_line[4])
    assert any("not JSON" in m for m in by_line[5])

    missing = parse_standing_file("title,year\nA,2020\n", name="x.csv", today=TODAY)
    assert missing.rows == [] and "no 'doi' or 'pmid' column" in missing.problems[0][1]


async def _standings(db: Database) -> dict[str, tuple[str, str | None, date | None]]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(Source.title, Source.standing, Source.standing_note, Source.standing_since)
        )
        return {title: (standing.value, note, since) for title, standing, note, since in rows.all()}


async def test_sources_standing_applies_a_file_once(db: Database, settings: Settings, tmp_path: Path) -> None:
    world = await build_world(db)  # "A world of claims", DOI 10.1000/world.1
    async with db.write(ADMIN) as w:
        await create_source(w, SourceRecord(kind=SourceKind.PRIMARY_RESEARCH, title="By PMID", pmid="123456"))
        blog = await create_source(
            w, SourceRecord(kind=SourceKind.BLOG_POST, title="Retelling", derived_from="10.1000/world.1")
        )
        await create_claim(
            w,
            ClaimRecord(
                statement="The post retells it.", target=world.target, outcome=world.outcome,
                direction=EffectDirection.DECREASES, modality=Modality.ASSERTED,
                evidence_type=EvidenceType.OBSERVATIONAL, organism=world.organism, source=blog.id,
                evidence=[EvidenceRecord(quote="So it says.")],
            ),
        )  # fmt: skip
    notices = tmp_path / "notices.jsonl"
    notices.write_text(
        '{"doi": "10.1000/WORLD.1", "standing": "Retraction", "date": "2024-05-02", '
        '"note": "Counted twice."}\n'
        '{"pmid": "PMID: 123456", "standing": "correction", "date": "2024-06-01"}\n'
        '{"doi": "10.5555/not-held", "standing": "RETRACTED"}\n'
    )
    first = await ainvoke(["sources", "standing", str(notices)], settings)
    assert first.exit_code == 0, first.output
    assert "3 rows: 2 sources changed, 0 already so; the standing of 1 claim changed" in first.stdout
    assert "1 row about documents not held here skipped (line 3)" in first.stdout, first.stdout
    held = await _standings(db)
    assert held["A world of claims"] == ("RETRACTED", "Counted twice.", date(2024, 5, 2))
    assert held["By PMID"] == ("CORRECTED", None, date(2024, 6, 1))
    assert held["Retelling"][0] == "CURRENT"  # its own standing; its claims inherit the paper's
    async with db.read() as session:
        actions = (await session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert actions[-3:] == ["source.standing", "claim.source_standing", "source.standing"], actions[-3:]

    events = await last_event_id(db)
    second = await ainvoke(["sources", "standing", str(notices)], settings)
    assert second.exit_code == 0, second.output
    assert "0 sources changed, 2 already so; the standing of 0 claims" in second.stdout, second.stdout
    assert await last_event_id(db) == events and await _standings(db) == held

    # Bad rows: each reported with its line; nothing applied, not even the good row.
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "doi,pmid,standing,date,note\n"
        "10.1000/world.1,,CURRENT,2025-01-01,Reinstated\n"
        "not-a-doi,,RETRACTED,,\n"
        ",,RETRACTED,2020-01-01,\n"
        "10.1000/world.1,123456,RETRACTED,,\n"
        ",123456,retractd,01/02/2020,\n"
    )
    refused = await ainvoke(["sources", "standing", str(bad)], settings)
    assert refused.exit_code == 1 and "Traceback" not in refused.output, refused.output
    lines = refused.stderr.strip().splitlines()
    for number, words in (
        (3, "not a DOI"),
        (4, "doi or pmid"),
        (5, "two different sources"),
        (6, "retractd"),
    ):
        assert any(f"line {number}:" in line and words in line for line in lines), (number, lines)
    assert any("line 6:" in line and "YYYY-MM-DD" in line for line in lines), lines
    assert "nothing was changed" in lines[-1]
    assert await last_event_id(db) == events and await _standings(db) == held

    twice = tmp_path / "twice.csv"
    twice.write_text(
        "doi,standing,date\n10.1000/world.1,RETRACTED,2024-05-02\n10.1000/world.1,CORRECTED,2024-05-02\n"
    )
    clash = await ainvoke(["sources", "standing", str(twice)], settings)
    assert clash.exit_code == 1 and "line 3:" in clash.stderr and "line 2 gives" in clash.stderr, clash.stderr

    assert_one_line_error(
        await ainvoke(["sources", "standing", str(tmp_path / "none.csv")], settings), "none.csv"
    )
