"""The database itself refuses rows that break the domain's rules, whatever writes them.

Raw inserts, bypassing the store's validation, on both backends. Each refused row differs from
a row the database accepts in one field only, and each test checks the error names the
constraint it expects, so a test cannot pass on an unrelated failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from api.store.db import Database
from schema.claims import claim_fingerprint
from schema.enums import ClaimStatus, EvidenceType, Modality, SourceKind
from schema.tables import (
    AuditHead,
    Claim,
    Cohort,
    Intervention,
    Organism,
    Outcome,
    Source,
    Target,
    TargetAlias,
)

NOT_NULL = {"sqlite": "NOT NULL constraint failed", "postgresql": "violates not-null constraint"}
FOREIGN_KEY = {"sqlite": "FOREIGN KEY constraint failed", "postgresql": "violates foreign key"}


@dataclass(frozen=True)
class Parents:
    organism_id: int
    outcome_id: int
    target_id: int
    source_id: int


async def _insert(db: Database, table: type[SQLModel], **values: Any) -> int:
    """Insert one row in its own committed transaction; its primary key."""
    async with AsyncSession(db.engine) as session, session.begin():
        result = await session.execute(sa.insert(table).values(**values))
        return int(result.inserted_primary_key[0])


async def _refused(db: Database, table: type[SQLModel], **values: Any) -> str:
    """Insert a row the database must refuse; the error message, lower case."""
    async with AsyncSession(db.engine) as session:
        with pytest.raises(IntegrityError) as caught:
            async with session.begin():
                await session.execute(sa.insert(table).values(**values))
    return str(caught.value.orig).lower()


def _names(message: str, backend: str, expected: dict[str, str] | str) -> None:
    fragment = expected if isinstance(expected, str) else expected[backend]
    assert fragment.lower() in message, f"expected a violation of {fragment!r}, got: {message}"


async def _parents(db: Database) -> Parents:
    return Parents(
        organism_id=await _insert(
            db, Organism, taxon_id=9606, scientific_name="Homo sapiens", common_name="human"
        ),
        outcome_id=await _insert(db, Outcome, name="relapse rate", kind="clinical"),
        target_id=await _insert(db, Target, symbol="IL6R", name="interleukin 6 receptor", kind="gene"),
        source_id=await _insert(
            db,
            Source,
            kind=SourceKind.PRIMARY_RESEARCH,
            title="A trial",
            doi="10.1000/one",
            pmid="1",
        ),
    )


def _claim(parents: Parents, **changes: Any) -> dict[str, Any]:
    context = {
        "source_id": parents.source_id,
        "subject_target_id": parents.target_id,
        "subject_intervention_id": None,
        "outcome_id": parents.outcome_id,
        "direction": "INCREASES",
        "organism_id": parents.organism_id,
        "condition_id": None,
        "cohort_id": None,
        "comparator_id": None,
        "sample_type": None,
    }
    values = {
        **context,
        "statement": "IL-6R signalling increases relapse rate",
        "modality": Modality.ASSERTED,
        "evidence_type": EvidenceType.OBSERVATIONAL,
        "status": ClaimStatus.DRAFT,
        "fingerprint": claim_fingerprint(**context),
    }
    return {**values, **changes}


@pytest.fixture
async def parents(db: Database) -> Parents:
    return await _parents(db)


# --- sources ------------------------------------------------------------------------------


async def test_duplicate_doi_is_refused(db: Database, backend: str, parents: Parents) -> None:
    await _insert(db, Source, kind=SourceKind.REVIEW, title="Another", doi="10.1000/two")
    message = await _refused(db, Source, kind=SourceKind.REVIEW, title="Copy", doi="10.1000/one")
    _names(
        message, backend, {"sqlite": "unique constraint failed: source.doi", "postgresql": "uq_source_doi"}
    )


async def test_duplicate_pmid_is_refused(db: Database, backend: str, parents: Parents) -> None:
    await _insert(db, Source, kind=SourceKind.REVIEW, title="Another", pmid="2")
    message = await _refused(db, Source, kind=SourceKind.REVIEW, title="Copy", pmid="1")
    _names(
        message, backend, {"sqlite": "unique constraint failed: source.pmid", "postgresql": "uq_source_pmid"}
    )


async def test_sources_without_doi_or_pmid_do_not_clash(db: Database) -> None:
    for title in ("first", "second"):
        await _insert(db, Source, kind=SourceKind.BLOG_POST, title=title, doi=None, pmid=None)


async def test_non_normalised_doi_is_refused(db: Database, backend: str) -> None:
    message = await _refused(db, Source, kind=SourceKind.REVIEW, title="x", doi="10.1000/UPPER")
    _names(message, backend, "ck_source_doi_lower_case")
    message = await _refused(db, Source, kind=SourceKind.REVIEW, title="x", doi="doi:10.1000/a")
    _names(message, backend, "ck_source_doi_normalised")


# --- aliases ------------------------------------------------------------------------------


async def test_alias_clash_is_refused(db: Database, backend: str, parents: Parents) -> None:
    other = await _insert(db, Target, symbol="IL6", name="interleukin 6", kind="gene")
    await _insert(db, TargetAlias, target_id=parents.target_id, alias="IL-6R", normalized="il6r")
    await _insert(db, TargetAlias, target_id=other, alias="IL-6", normalized="il6")
    message = await _refused(db, TargetAlias, target_id=other, alias="IL6 R", normalized="il6r")
    _names(
        message,
        backend,
        {
            "sqlite": "unique constraint failed: target_alias.normalized",
            "postgresql": "uq_target_alias_normalized",
        },
    )


# --- claims -------------------------------------------------------------------------------


async def test_valid_claim_is_accepted(db: Database, parents: Parents) -> None:
    """The baseline the refused claims below differ from."""
    assert await _insert(db, Claim, **_claim(parents)) > 0


async def test_claim_without_source_is_refused(db: Database, backend: str, parents: Parents) -> None:
    message = await _refused(db, Claim, **_claim(parents, source_id=None))
    _names(message, backend, NOT_NULL)
    assert "source_id" in message, message


async def test_claim_with_both_subjects_is_refused(db: Database, backend: str, parents: Parents) -> None:
    # A real intervention, so only the one-subject rule can refuse the row.
    intervention = await _insert(db, Intervention, name="tocilizumab", kind="antibody")
    message = await _refused(db, Claim, **_claim(parents, subject_intervention_id=intervention))
    _names(message, backend, "ck_claim_one_subject")


async def test_claim_with_no_subject_is_refused(db: Database, backend: str, parents: Parents) -> None:
    message = await _refused(db, Claim, **_claim(parents, subject_target_id=None))
    _names(message, backend, "ck_claim_one_subject")


@pytest.mark.parametrize("p_value", [1.5, -0.01])
async def test_p_value_out_of_range_is_refused(
    db: Database, backend: str, parents: Parents, p_value: float
) -> None:
    message = await _refused(db, Claim, **_claim(parents, p_value=p_value))
    _names(message, backend, "ck_claim_p_value_range")


async def test_p_value_bounds_are_allowed(db: Database, parents: Parents) -> None:
    await _insert(db, Claim, **_claim(parents, p_value=1.0))
    await _insert(db, Claim, **_claim(parents, p_value=0.0, fingerprint="f" * 64))


async def test_unknown_effect_direction_is_refused(db: Database, backend: str, parents: Parents) -> None:
    message = await _refused(db, Claim, **_claim(parents, direction="SIDEWAYS"))
    _names(message, backend, FOREIGN_KEY)
    if backend == "postgresql":
        _names(message, backend, "fk_claim_direction_effect_direction")


async def test_second_live_claim_with_the_same_fingerprint_is_refused(
    db: Database, backend: str, parents: Parents
) -> None:
    await _insert(db, Claim, **_claim(parents, status=ClaimStatus.ACCEPTED))
    for status in (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED):
        message = await _refused(db, Claim, **_claim(parents, status=status, statement=f"reworded, {status}"))
        _names(
            message,
            backend,
            {
                "sqlite": "unique constraint failed: claim.fingerprint",
                "postgresql": "uq_claim_live_fingerprint",
            },
        )


async def test_dead_claims_do_not_block_the_fingerprint(db: Database, parents: Parents) -> None:
    await _insert(db, Claim, **_claim(parents, status=ClaimStatus.REJECTED))
    await _insert(db, Claim, **_claim(parents, status=ClaimStatus.RETRACTED))
    await _insert(db, Claim, **_claim(parents, status=ClaimStatus.REJECTED))
    await _insert(db, Claim, **_claim(parents, status=ClaimStatus.DRAFT))
    async with AsyncSession(db.engine) as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(Claim))
    assert count == 4


# --- cohorts ------------------------------------------------------------------------------


def _cohort(parents: Parents, **changes: Any) -> dict[str, Any]:
    values = {
        "source_id": parents.source_id,
        "label": "patients",
        "organism_id": parents.organism_id,
        "size": 40,
        "female_count": 30,
    }
    return {**values, **changes}


async def test_valid_cohort_is_accepted(db: Database, parents: Parents) -> None:
    await _insert(db, Cohort, **_cohort(parents))
    await _insert(db, Cohort, **_cohort(parents, label="all female", female_count=40))
    await _insert(db, Cohort, **_cohort(parents, label="unknown size", size=None))


async def test_negative_cohort_size_is_refused(db: Database, backend: str, parents: Parents) -> None:
    message = await _refused(db, Cohort, **_cohort(parents, size=-1, female_count=None))
    _names(message, backend, "ck_cohort_size_not_negative")


async def test_more_women_than_people_is_refused(db: Database, backend: str, parents: Parents) -> None:
    message = await _refused(db, Cohort, **_cohort(parents, female_count=41))
    _names(message, backend, "ck_cohort_female_count_within_size")


# --- audit --------------------------------------------------------------------------------


async def test_audit_head_keeps_a_single_row(db: Database, backend: str) -> None:
    message = await _refused(db, AuditHead, id=2, last_event_id=None, last_hash="1" * 64)
    _names(message, backend, "ck_audit_head_single_row")
    message = await _refused(db, AuditHead, id=1, last_event_id=None, last_hash="1" * 64)
    _names(
        message,
        backend,
        {"sqlite": "unique constraint failed: audit_head.id", "postgresql": "pk_audit_head"},
    )
    async with AsyncSession(db.engine) as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(AuditHead))
    assert count == 1
