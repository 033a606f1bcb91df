"""A claim record's source given in full (schema.records.SourceGiven; docs/records.md, "A source
given in full"), on SQLite and PostgreSQL: created with every field, its derivedFrom naming a
stored source or one an earlier record gives (in the same chunk or an earlier one); a stored
source named by DOI in any spelling reused; a contradiction refused at its field with nothing
written, unless --keep-going; createSource's own rules and messages; re-running, --dry-run and
the audit chain; the seed loader. The matching rules themselves are tested without a database
at the end."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import Result
from test_cli import ainvoke
from test_import import BASE, write_jsonl, write_table

from api.importing import import_files
from api.settings import PROJECT_ROOT, Settings
from api.store.bulk import bulk_import_claims
from api.store.commands.sources import create_source, source_snapshot
from api.store.db import Database
from api.store.errors import StoreError
from api.store.queries.users import actor_by_name
from api.store.seeding import load_seeds
from schema.errors import Ref, UserErrorCode
from schema.flat import COLUMNS
from schema.records import SourceRecord
from schema.source_match import choose_stored, source_values
from schema.tables import AuditEvent, Claim, Evidence, Source
from schema.validation import check_source

STORED_DOI = "10.1016/j.jns.2022.120320"  # Hjæresen et al. 2022, in the seeds

PAPER: dict[str, Any] = {
    "kind": "PRIMARY_RESEARCH",
    "title": "CSF MIF in early relapsing multiple sclerosis (import source test)",
    "authors": ["Doe J", "Roe R"],
    "venue": "Mult Scler J",
    "year": 2023,
    "published": "2023-03-14",
    "doi": "https://doi.org/10.5555/IMPORT.SRC.1",
    "pmid": "PMID: 99000001",
    "url": "https://example.org/papers/import-src-1",
    "peerReviewed": True,
    "aiGenerated": False,
    "derivedFrom": STORED_DOI,
    "note": "a replication; the note is not stored",
}
POST: dict[str, Any] = {
    "kind": "BLOG_POST",
    "title": "What the new CSF MIF paper says (import source test)",
    "authors": ["A Blogger"],
    "url": "https://blog.example.org/csf-mif",
    "derivedFrom": "10.5555/import.src.1",  # the paper above, given by an earlier record
}
COMMENT: dict[str, Any] = {
    "kind": "COMMENT",
    "title": "[Reader comment on 'What the new CSF MIF paper says']",
    "derivedFrom": "https://blog.example.org/csf-mif",  # the post, given by an earlier record
}


def claim(n: int, source: Any, **changes: Any) -> dict[str, Any]:
    return {**BASE, "statement": f"CSF MIF is lower (source record test {n}).", "source": source,
            "sampleType": f"source record test {n}", **changes}  # fmt: skip


@pytest.fixture
async def curator(settings: Settings, seeded_db: Database) -> str:
    result = await ainvoke(["users", "add", "importer", "--role", "curator"], settings)
    assert result.exit_code == 0, result.output
    return "importer"


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.read() as session:
        return await session.scalar(sa.text(sql), params)


async def counts(db: Database) -> tuple[int, int]:
    """(sources, claims)."""
    return await scalar(db, "SELECT count(*) FROM source"), await scalar(db, "SELECT count(*) FROM claim")


async def source_by(db: Database, **where: Any) -> Source:
    async with db.read() as session:
        found = (await session.scalars(sa.select(Source).filter_by(**where))).all()
    assert len(found) == 1, (where, found)
    return found[0]


async def import_(settings: Settings, curator: str, path: Path, *options: str) -> Result:
    result = await ainvoke(["import", str(path), "--user", curator, *options], settings)
    assert "Traceback" not in result.output, result.output
    return result


async def verify_audit(settings: Settings) -> None:
    verify = await ainvoke(["audit", "verify"], settings)
    assert verify.exit_code == 0, verify.output


async def test_a_source_given_in_full_is_created_with_every_field(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    before = await counts(seeded_db)
    path = write_jsonl(tmp_path / "c.jsonl", [claim(1, PAPER)])
    result = await import_(settings, curator, path)
    assert result.exit_code == 0, result.output
    assert "imported 1 claim as DRAFT with 1 new source;" in result.stdout, result.stdout
    assert await counts(seeded_db) == (before[0] + 1, before[1] + 1)

    stored = await source_by(seeded_db, doi=STORED_DOI)
    made = await source_by(seeded_db, doi="10.5555/import.src.1")
    assert (made.kind.value, made.title, made.authors, made.venue, made.year, made.published) == (
        "PRIMARY_RESEARCH", PAPER["title"], ["Doe J", "Roe R"], "Mult Scler J", 2023, date(2023, 3, 14)
    )  # fmt: skip
    assert (made.pmid, made.url, made.peer_reviewed, made.ai_generated, made.derived_from_id) == (
        "99000001", PAPER["url"], True, False, stored.id
    )  # fmt: skip
    assert made.created_by_id is not None
    claim_source = await scalar(
        seeded_db, "SELECT source_id FROM claim WHERE sample_type = 'source record test 1'"
    )
    assert claim_source == made.id

    async with seeded_db.read() as session:
        events = (
            await session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "source.bulk_import"))
        ).all()
    assert [(e.entity_id, e.after["ids"]) for e in events] == [(made.id, [[made.id, made.id]])], (
        "the new source is audited as the import audits the sources it writes"
    )
    await verify_audit(settings)


@pytest.mark.parametrize("batch", [1, 50], ids=["a chunk per record", "one chunk"])
async def test_derived_from_and_references_name_sources_earlier_records_give(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path, batch: int
) -> None:
    quote_of_post = {
        "quote": "MIF was significantly decreased",
        "source": {**POST, "derivedFrom": "PMID 99000001"},
    }
    records = [
        claim(1, PAPER),
        claim(2, POST),
        claim(3, COMMENT, evidence=[{"quote": "MIF was significantly decreased"}, quote_of_post]),
        claim(4, "https://blog.example.org/csf-mif"),  # the post, by reference
        claim(5, "doi:10.5555/Import.Src.1"),  # the paper, by reference in another spelling
    ]
    path = write_jsonl(tmp_path / "c.jsonl", records)
    before = await counts(seeded_db)
    summary = await import_files(seeded_db, curator, [path], batch=batch)
    assert summary.committed and summary.rejected == 0, summary.rejects
    assert (summary.inserted, summary.sources) == (5, 3)
    assert await counts(seeded_db) == (before[0] + 3, before[1] + 5)

    paper = await source_by(seeded_db, doi="10.5555/import.src.1")
    post = await source_by(seeded_db, url=POST["url"])
    comment = await source_by(seeded_db, title=COMMENT["title"])
    assert post.derived_from_id == paper.id and comment.derived_from_id == post.id
    assert (comment.kind.value, comment.authors, comment.url, comment.doi) == ("COMMENT", [], None, None)
    by_test = {
        n: await scalar(
            seeded_db, "SELECT source_id FROM claim WHERE sample_type = :s", s=f"source record test {n}"
        )
        for n in range(1, 6)
    }
    assert by_test == {1: paper.id, 2: post.id, 3: comment.id, 4: post.id, 5: paper.id}
    async with seeded_db.read() as session:
        claim_3 = sa.select(Claim.id).where(Claim.sample_type == "source record test 3").scalar_subquery()
        quoted = (
            await session.scalars(
                sa.select(Evidence.source_id).where(Evidence.claim_id == claim_3).order_by(Evidence.position)
            )
        ).all()
    assert quoted == [comment.id, post.id], (
        "a quote's source given in full names the post the record before gave"
    )
    await verify_audit(settings)


async def test_a_stored_source_named_by_doi_in_another_spelling_is_reused(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    stored = await source_by(seeded_db, doi=STORED_DOI)
    given = {
        "kind": stored.kind.value, "title": stored.title, "year": stored.year, "venue": stored.venue,
        "doi": "https://doi.org/" + STORED_DOI.upper(), "pmid": None, "authors": [],  # empty: not compared
    }  # fmt: skip
    before = await counts(seeded_db)
    path = write_jsonl(
        tmp_path / "c.jsonl", [claim(1, given), claim(2, {**given, "doi": "DOI: " + STORED_DOI})]
    )
    result = await import_(settings, curator, path)
    assert result.exit_code == 0, result.output
    assert "imported 2 claims as DRAFT;" in result.stdout, "no new source"
    assert await counts(seeded_db) == (before[0], before[1] + 2)
    ids = await scalar(
        seeded_db, "SELECT source_id FROM claim WHERE sample_type = 'source record test 1' "
        "UNION SELECT source_id FROM claim WHERE sample_type = 'source record test 2'",
    )  # fmt: skip
    assert ids == stored.id
    await verify_audit(settings)


@pytest.mark.parametrize(
    "change, field, stored_words",
    [
        ({"title": "Another title entirely"}, "source.title", "has title 'MIF in the cerebrospinal fluid"),
        ({"kind": "PREPRINT"}, "source.kind", "has kind PRIMARY_RESEARCH, not PREPRINT"),
        ({"year": 2021}, "source.year", "has year 2022, not 2021"),
        ({"pmid": "12345"}, "source.pmid", "has pmid nothing, not '12345'"),
    ],
    ids=["title", "kind", "year", "pmid"],
)
async def test_a_contradiction_is_refused_at_its_field_and_nothing_is_written(
    settings: Settings,
    seeded_db: Database,
    curator: str,
    tmp_path: Path,
    change: dict[str, Any],
    field: str,
    stored_words: str,
) -> None:
    stored = await source_by(seeded_db, doi=STORED_DOI)
    wrong = {"kind": "PRIMARY_RESEARCH", "title": stored.title, "doi": STORED_DOI, **change}
    path = write_jsonl(tmp_path / "c.jsonl", [claim(1, PAPER), claim(2, wrong), claim(3, POST)])
    rejects = tmp_path / "rejects.jsonl"
    before = await counts(seeded_db)
    result = await import_(settings, curator, path, "--rejects", str(rejects))
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith(f"{path}:2: {field}: INVALID: the source with DOI {STORED_DOI} (Source "), line
    assert stored_words in line and "or leave it out, to reuse that source" in line, line
    [written] = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert (written["line"], written["field"], written["code"]) == (2, field, "INVALID")
    assert "nothing written" in result.stdout
    assert await counts(seeded_db) == before, "all or nothing: not even the sources of the good records"

    kept = await import_(settings, curator, path, "--keep-going")
    assert kept.exit_code == 1 and "imported 2 claims as DRAFT with 2 new sources" in kept.stdout, kept.stdout
    assert await counts(seeded_db) == (before[0] + 2, before[1] + 2)
    assert (await source_by(seeded_db, doi=STORED_DOI)).title == stored.title, (
        "the stored source is unchanged"
    )
    await verify_audit(settings)


async def test_a_later_record_must_agree_with_the_source_an_earlier_one_gives(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    records = [
        claim(1, PAPER),
        claim(2, {**PAPER, "title": "A typo'd title", "year": 2022, "published": None}),
    ]
    path = write_jsonl(tmp_path / "c.jsonl", records)
    before = await counts(seeded_db)
    result = await import_(settings, curator, path)
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.exit_code == 1 and [x.split(": ")[1] for x in lines] == ["source.title", "source.year"], (
        lines
    )
    assert lines[0].endswith(
        "the source with DOI 10.5555/import.src.1 (a source an earlier record gives) has title "
        f"'{PAPER['title']}', not 'A typo'd title'; give title as stored, or leave it out, to reuse that "
        "source (a claim record never changes a stored source), or give another source's identifiers"
    ), lines[0]
    assert await counts(seeded_db) == before


async def test_entity_audit_records_a_new_source_as_create_source_does(
    settings: Settings, seeded_db: Database, curator: str
) -> None:
    """The bulk import's other audit mode (an event per row, as the commands record them)."""
    async with seeded_db.read() as session:
        actor = await actor_by_name(session, curator)
    assert actor is not None
    report = await bulk_import_claims(seeded_db, actor, [claim(1, PAPER)], audit="entity")
    assert report.inserted == 1
    made = await source_by(seeded_db, doi="10.5555/import.src.1")
    async with seeded_db.read() as session:
        events = (
            await session.scalars(
                sa.select(AuditEvent.after).where(
                    AuditEvent.action == "source.create", AuditEvent.entity_id == made.id
                )
            )
        ).all()
    assert events == [source_snapshot(made)]
    await verify_audit(settings)


async def create_sources_errors(
    db: Database, user: str, source: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """(field, code, message) of what createSource's command says about a source record."""
    async with db.read() as session:
        actor = await actor_by_name(session, user)
    assert actor is not None
    with pytest.raises(StoreError) as refused:
        async with db.write(actor) as w:
            await create_source(w, SourceRecord.model_validate(source))
    return [(".".join(e.field), e.code.value, e.message) for e in refused.value.errors]


@pytest.mark.parametrize(
    "change",
    [{"year": 3000}, {"doi": "10.bad"}, {"published": "2023-01-02", "year": 2024}, {"url": "ftp://x.org/"}],
    ids=["year", "doi", "published", "url"],
)
async def test_an_invalid_source_field_gets_create_sources_own_message(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path, change: dict[str, Any]
) -> None:
    bad = {**PAPER, "derivedFrom": None, "published": None, **change}
    [(field, code, message)] = await create_sources_errors(seeded_db, curator, bad)
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [claim(1, bad), claim(2, POST, evidence=[{"quote": "It fell.", "source": bad}])],
    )
    rejects = tmp_path / "rejects.jsonl"
    before = await counts(seeded_db)
    result = await import_(settings, curator, path, "--rejects", str(rejects))
    assert result.exit_code == 1, result.output
    written = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [(r["line"], r["field"], r["code"], r["message"]) for r in written] == [
        (1, f"source.{field}", code, message),
        (2, f"evidence.0.source.{field}", code, message),
    ]
    assert await counts(seeded_db) == before


async def test_derived_from_naming_a_rejected_records_source_says_why(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl", [claim(1, {**PAPER, "year": 3000, "published": None}), claim(2, POST)]
    )
    result = await import_(settings, curator, path, "--keep-going")
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.exit_code == 1 and len(lines) == 2, lines
    assert lines[1].startswith(
        f"{path}:2: source.derivedFrom: NOT_FOUND: no source matches '10.5555/import.src.1'"
    )
    assert (
        "an earlier record of this import gives in full (a rejected record's source is not created)"
        in lines[1]
    )


async def test_rerunning_the_same_file_adds_nothing_and_dry_run_writes_nothing(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    records = [claim(1, PAPER), claim(2, POST), claim(3, COMMENT), claim(4, COMMENT), claim(5, POST)]
    path = write_jsonl(tmp_path / "c.jsonl", records)
    before = await counts(seeded_db)
    dry = await import_(settings, curator, path, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: 5 claims would be imported as DRAFT with 3 new sources; nothing written" in dry.stdout
    assert await counts(seeded_db) == before

    first = await import_(settings, curator, path)
    assert first.exit_code == 0 and "imported 5 claims as DRAFT with 3 new sources;" in first.stdout, (
        first.output
    )
    after = await counts(seeded_db)
    assert after == (before[0] + 3, before[1] + 5), "an identical source without identifiers is made once"
    again = await import_(settings, curator, path)
    assert again.exit_code == 0, again.output
    assert "imported 0 claims as DRAFT; 5 duplicates" in again.stdout, again.stdout
    assert await counts(seeded_db) == after
    # A comment without identifiers that differs in a field is another source.
    other = write_jsonl(tmp_path / "o.jsonl", [claim(6, {**COMMENT, "authors": ["Joe"]})])
    assert "with 1 new source" in (await import_(settings, curator, other)).stdout
    await verify_audit(settings)


async def test_the_documented_example_imports(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    docs = (PROJECT_ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    example = docs.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(example)["source"]["derivedFrom"] == STORED_DOI
    path = tmp_path / "example.jsonl"
    path.write_text(example, encoding="utf-8")
    result = await import_(settings, curator, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: 1 claim would be imported as DRAFT with 1 new source" in result.stdout, result.stdout


async def test_csv_keeps_the_reference_column(
    settings: Settings, seeded_db: Database, curator: str, tmp_path: Path
) -> None:
    """A source record's fields are not columns (docs/records.md): `source` holds a reference."""
    written = write_table(tmp_path / "c.csv", [claim(1, STORED_DOI)]).read_text().splitlines()
    path = tmp_path / "with-title.csv"
    path.write_text(
        "\n".join([written[0] + ",source.title", *(row + ",A title" for row in written[1:])]) + "\n"
    )
    result = await import_(settings, curator, path)
    assert result.exit_code == 1 and "unknown column 'source.title'" in result.stderr, result.output
    assert "source.title" not in COLUMNS


async def test_the_seed_loader_takes_a_source_given_in_full(seeded_db: Database, tmp_path: Path) -> None:
    document = {
        "document": "none.txt",
        "sources": [{"key": "paper", "kind": "PRIMARY_RESEARCH", "title": "A paper (seed source test)",
                     "doi": "10.5555/seed.src.1"}],
        "claims": [{**{k: v for k, v in BASE.items() if k != "evidenceType"},
                    "evidence_type": "OBSERVATIONAL", "sample_type": "seed source test",
                    "source": {"kind": "BLOG_POST", "title": "A post on the paper (seed source test)",
                               "derived_from": "paper"}}],
    }  # fmt: skip
    (tmp_path / "900_source_test.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    before = await counts(seeded_db)
    report = await load_seeds(seeded_db, tmp_path)
    assert report.created["claims"] == 1
    assert await counts(seeded_db) == (before[0] + 2, before[1] + 1)
    paper = await source_by(seeded_db, doi="10.5555/seed.src.1")
    post = await source_by(seeded_db, title="A post on the paper (seed source test)")
    assert post.derived_from_id == paper.id and post.kind.value == "BLOG_POST"
    again = await load_seeds(seeded_db, tmp_path)
    assert again.created["claims"] == 0 and again.existing["claims"] == 1
    assert await counts(seeded_db) == (before[0] + 2, before[1] + 1)


# --- the rules, without a database ------------------------------------------------------------


def values_of(**fields: Any) -> tuple[dict[str, Any], frozenset[str]]:
    checked, errors = check_source(SourceRecord.model_validate({"kind": "BLOG_POST", "title": "T", **fields}))
    assert checked is not None, errors
    return source_values(checked, None), checked.given


def stored(id_: int, **fields: Any) -> dict[str, Any]:
    return {**values_of(**fields)[0], "id": id_}


def choose(values: dict[str, Any], given: frozenset[str], **candidates: Any) -> tuple[Any, list[Any]]:
    return choose_stored(
        values, given, **{"by_doi": None, "by_pmid": None, "by_url": [], "same": None, **candidates}
    )


def test_a_url_names_the_one_source_under_it_that_agrees() -> None:
    url = "https://blog.example.org/p"
    post, reply = stored(1, url=url), stored(2, url=url, kind="COMMENT", title="Reply")
    values, given = values_of(url=url, kind="COMMENT", title="Reply")
    assert choose(values, given, by_url=[post, reply]) == (reply, [])
    values, given = values_of(url=url, title="Neither")
    found, [problem] = choose(values, given, by_url=[post, reply])
    assert found is None
    assert (problem.code, problem.field, problem.parts[1:4]) == (
        UserErrorCode.INVALID, ("url",), (Ref("Source", 1), ", ", Ref("Source", 2))
    )  # fmt: skip
    values, given = values_of(url=url)  # kind and title are required, and both say BLOG_POST "T"
    _, [problem] = choose(values, given, by_url=[post, stored(3, url=url)])
    assert problem.code is UserErrorCode.AMBIGUOUS


def test_a_doi_and_a_pmid_of_two_sources_are_refused() -> None:
    values, given = values_of(doi="10.5555/a", pmid="7")
    found, [problem] = choose(values, given, by_doi=stored(1, doi="10.5555/a"), by_pmid=stored(2, pmid="7"))
    assert found is None and problem.field == ("pmid",)
    assert choose(values, given) == (None, []), "named by neither: created"


def test_every_field_that_differs_is_reported_and_empty_ones_are_not_compared() -> None:
    full = stored(1, doi="10.5555/a", venue="V", authors=["X"], year=2020, peer_reviewed=True)
    values, given = values_of(doi="10.5555/a", venue=" ", authors=[], year=None)
    assert given == frozenset({"kind", "title", "doi"})
    assert choose(values, given, by_doi=full) == (full, [])
    values, given = values_of(doi="10.5555/a", kind="REVIEW", venue="W", peer_reviewed=False)
    found, refused = choose(values, given, by_doi=full)
    assert found is full and [e.field for e in refused] == [("kind",), ("venue",), ("peerReviewed",)]
    values, given = values_of(doi="10.5555/a", published="2020-05-01")
    assert {"published", "year"} <= given, "the year taken from the date is compared too"
