"""The curated seeds: faithful to their documents, complete, loaded through the store, idempotent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.settings import PROJECT_ROOT
from api.store.db import Database
from api.store.seeding import load_seeds, read_seeds
from schema.enums import ClaimStatus, Modality, SourceKind
from schema.tables import AuditEvent, Claim, Cohort, Condition, Evidence, Organism, Source, User

SEEDS = PROJECT_ROOT / "seeds"
DOCUMENTS = PROJECT_ROOT.parent / "shared" / "seed-documents"

_TYPOGRAPHIC = str.maketrans({"‘": "'", "’": "'", "′": "'", "“": '"', "”": '"', "\u00a0": " "})


def _fold(text: str) -> str:
    """Whitespace runs to one space, typographic quotes and apostrophes to ASCII."""
    return re.sub(r"\s+", " ", text.translate(_TYPOGRAPHIC)).strip()


def test_every_quote_stands_verbatim_in_its_document() -> None:
    if not DOCUMENTS.is_dir():
        pytest.skip(f"{DOCUMENTS} is not here; the quote check needs the seed documents")
    _, documents = read_seeds(SEEDS)
    assert documents, "no seed document files were found"
    checked = 0
    for path, doc in documents:
        source_text = _fold((DOCUMENTS / doc.document).read_text(encoding="utf-8"))
        for index, claim in enumerate(doc.claims):
            assert claim.evidence, f"{path.name} claims.{index} has no evidence"
            for quote in claim.evidence:
                assert _fold(quote.quote) in source_text, (
                    f"{path.name} claims.{index}: quote not found verbatim in {doc.document}: {quote.quote!r}"
                )
                checked += 1
    assert checked >= 30


def test_every_seed_document_is_represented() -> None:
    if not DOCUMENTS.is_dir():
        pytest.skip(f"{DOCUMENTS} is not here")
    _, documents = read_seeds(SEEDS)
    covered = {doc.document for _, doc in documents if doc.claims}
    expected = {p.name for p in Path(DOCUMENTS).glob("*.txt")}
    assert covered == expected, f"documents without claims: {sorted(expected - covered)}"


async def _count(db: Database, table: type) -> int:
    async with db.read() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_seeded_counts_and_statuses(seeded_db: Database) -> None:
    async with seeded_db.read() as session:
        statuses = (
            await session.execute(sa.select(Claim.status, sa.func.count()).group_by(Claim.status))
        ).all()
        without_evidence = await session.scalar(
            sa.select(sa.func.count()).select_from(Claim).where(~Claim.id.in_(sa.select(Evidence.claim_id)))
        )
        seed_user = (await session.execute(sa.select(User).where(User.name == "seed"))).scalar_one()
        creators = set((await session.scalars(sa.select(Claim.created_by_id).distinct())).all())
        create_events = await session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "claim.create", AuditEvent.actor_id == seed_user.id)
        )
    total = sum(n for _, n in statuses)
    assert total >= 30, f"only {total} seed claims"
    assert dict(statuses) == {ClaimStatus.ACCEPTED: total}, f"seed claims must all be ACCEPTED: {statuses}"
    assert without_evidence == 0, "every seed claim needs at least one quote"
    assert creators == {seed_user.id}, "seed claims are entered by the seed user"
    assert create_events == total, "every seed claim has its audited claim.create event by the seed user"


async def test_mif_cohorts_are_exact(seeded_db: Database) -> None:
    async with seeded_db.read() as session:
        paper = (
            await session.execute(sa.select(Source).where(Source.doi == "10.1016/j.jns.2022.120320"))
        ).scalar_one()
        rows = (
            await session.execute(
                sa.select(
                    Cohort.label,
                    Cohort.size,
                    Cohort.treatment_status,
                    Cohort.sample_type,
                    Organism.taxon_id,
                    Condition.name,
                )
                .join(Organism, Organism.id == Cohort.organism_id)
                .outerjoin(Condition, Condition.id == Cohort.condition_id)
                .where(Cohort.source_id == paper.id)
            )
        ).all()
    assert all(sample == "CSF" and taxon == 9606 for *_, sample, taxon, _ in rows), rows
    # The abstract gives CIS n = 26, RRMS n = 22, SPMS n = 19, HCs n = 24, and examines therapies in
    # the RRMS and SPMS cohorts: those cohorts carry no treatment status. The decrease is reported
    # for the treatment-naive patients, whose number it does not give: those cohorts have no size.
    assert {(label, size, status, condition) for label, size, status, _, _, condition in rows} == {
        ("CIS", 26, None, "clinically isolated syndrome"),
        ("RRMS", 22, None, "relapsing-remitting multiple sclerosis"),
        ("SPMS", 19, None, "secondary progressive multiple sclerosis"),
        ("healthy controls", 24, None, "healthy"),
        ("treatment-naive CIS", None, "treatment-naive", "clinically isolated syndrome"),
        ("treatment-naive RRMS", None, "treatment-naive", "relapsing-remitting multiple sclerosis"),
    }, f"the MIF study's cohorts: {rows}"


async def test_sources_keep_their_chain_and_flags(seeded_db: Database) -> None:
    async with seeded_db.read() as session:
        sources = (await session.scalars(sa.select(Source))).all()
    by_id = {s.id: s for s in sources}

    def origin(source: Source) -> Source | None:
        return by_id.get(source.derived_from_id) if source.derived_from_id else None

    blog = next(s for s in sources if s.title == "Inhibiting Migration of Macrophages")
    assert blog.kind is SourceKind.BLOG_POST
    assert origin(blog) is not None and origin(blog).doi == "10.1016/j.jns.2022.120320"
    reply = next(s for s in sources if s.title.startswith("[Reply to reader comment 2"))
    assert origin(reply) is not None and origin(reply).authors == ["Joe"], "the reply answers Joe's comment"
    assert origin(origin(reply)) is blog
    news = next(s for s in sources if s.kind is SourceKind.PRESS_RELEASE)
    assert origin(news) is not None and origin(news).year == 2015, "the news item retells the 2015 study"
    lay = next(s for s in sources if s.kind is SourceKind.LAY_SUMMARY)
    assert lay.ai_generated, "the lay summary is AI-generated"
    assert origin(lay) is not None and origin(lay).venue == "Pharmacological Research"
    review = next(s for s in sources if s.doi == "10.2174/187152710791292657")
    assert review.kind is SourceKind.REVIEW and review.year == 2010


async def test_hedges_are_kept(seeded_db: Database) -> None:
    async with seeded_db.read() as session:
        rows = (
            await session.execute(
                sa.select(Claim.modality, Evidence.quote).join(Evidence, Evidence.claim_id == Claim.id)
            )
        ).all()
    modality_of = {quote: modality for modality, quote in rows}
    rolipram = next(q for q in modality_of if "maybe makes relapsing MS worse" in q)
    assert modality_of[rolipram] is Modality.HEDGED
    link = [q for q in modality_of if "Is this the link?" in q]
    assert link and all(modality_of[q] is Modality.HYPOTHESIS for q in link)


async def test_loading_twice_adds_nothing(seeded_db: Database) -> None:
    tables = (Claim, Source, Cohort, Evidence, AuditEvent, Condition)
    before = {t.__name__: await _count(seeded_db, t) for t in tables}
    report = await load_seeds(seeded_db, SEEDS)
    after = {t.__name__: await _count(seeded_db, t) for t in tables}
    assert report.total_created == 0, f"a second load created {dict(report.created)}"
    assert after == before, "a second load must not add a row (audit events included)"
