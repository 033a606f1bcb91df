"""The normalised tables of claimsdb (see ../shared/design/domain.md for what each holds).

Conventions:
- Integer surrogate keys; public IDs are Relay global IDs built from them in api/graphql.
- No ORM relationships: async code must never lazy-load (engineering.md rule 1), so related rows
  are fetched explicitly by the store's queries and DataLoaders.
- Closed vocabularies are VARCHAR + CHECK (see schema.base.str_enum); effect direction is a real
  lookup table, referenced by its code.
- Each named vocabulary keeps every name it answers to, its preferred label included, in an alias
  table whose `normalized` column is unique: one index answers every look-up, and two entities of
  one kind can never share a name.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from schema.audit import GENESIS_HASH
from schema.base import UTCDateTime, str_enum, utcnow
from schema.enums import (
    ClaimStatus,
    EvidenceType,
    Modality,
    ReviewDecision,
    RevisionStatus,
    Role,
    SourceKind,
    SourceStanding,
    Stance,
    TargetAction,
)

# Length limits a user can meet, enforced by the store with a clear message and by the database.
MAX_STATEMENT = 2000
MAX_QUOTE = 2000
MAX_LABEL = 300
MAX_TITLE = 1000

_JSON = sa.JSON()


def _created_at() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _fk(target: str, *, nullable: bool = False, index: bool = True, ondelete: str = "RESTRICT"):
    return Field(
        default=None if nullable else ...,
        sa_column_args=[sa.ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=index,
    )


# --- people -------------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True}, nullable=False)
    role: Role = Field(sa_type=str_enum(Role, "role"), nullable=False)
    orcid: str | None = Field(default=None, max_length=19)
    active: bool = Field(default=True, nullable=False)
    created_at: datetime = _created_at()


class ApiToken(SQLModel, table=True):
    """An API token, stored only as its SHA-256 (tokens are random, so a fast hash is enough)."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("app_user.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    created_at: datetime = _created_at()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Refused from then on, like a revoked token; NULL: it does not expire.
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- sources ------------------------------------------------------------------------------


class Source(SQLModel, table=True):
    __tablename__ = "source"
    __table_args__ = (
        sa.CheckConstraint("length(title) > 0", name="title_not_empty"),
        sa.CheckConstraint("doi IS NULL OR doi LIKE '10.%'", name="doi_normalised"),
        sa.CheckConstraint("doi IS NULL OR doi = lower(doi)", name="doi_lower_case"),
        sa.CheckConstraint("year IS NULL OR (year >= 1500 AND year <= 2200)", name="year_range"),
        sa.CheckConstraint("derived_from_id IS NULL OR derived_from_id <> id", name="not_own_origin"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: SourceKind = Field(sa_type=str_enum(SourceKind, "source_kind"), nullable=False, index=True)
    title: str = Field(max_length=MAX_TITLE, nullable=False)
    authors: list[str] = Field(default_factory=list, sa_type=_JSON, nullable=False)
    venue: str | None = Field(default=None, max_length=MAX_LABEL)
    year: int | None = None
    published: date | None = Field(default=None, index=True)
    doi: str | None = Field(default=None, max_length=255, sa_column_kwargs={"unique": True})
    pmid: str | None = Field(default=None, max_length=12, sa_column_kwargs={"unique": True})
    url: str | None = Field(default=None, max_length=2000, index=True)
    peer_reviewed: bool = Field(default=False, nullable=False)
    ai_generated: bool = Field(default=False, nullable=False)
    derived_from_id: int | None = _fk("source.id", nullable=True)
    created_by_id: int | None = _fk("app_user.id", nullable=True, index=False)
    created_at: datetime = _created_at()
    # What became of it since (a correction, an expression of concern, a retraction): set by
    # reviewers, inherited (the worst along the derivedFrom chain) by the claims it backs.
    standing: SourceStanding = Field(
        default=SourceStanding.CURRENT,
        sa_type=str_enum(SourceStanding, "source_standing"),
        nullable=False,
        index=True,
    )
    standing_note: str | None = Field(default=None, max_length=MAX_STATEMENT)
    standing_since: date | None = None


# --- vocabularies -------------------------------------------------------------------------


class Target(SQLModel, table=True):
    __tablename__ = "target"

    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(max_length=MAX_LABEL, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(max_length=MAX_LABEL, nullable=False)
    kind: str = Field(max_length=64, nullable=False)
    created_at: datetime = _created_at()


class Intervention(SQLModel, table=True):
    __tablename__ = "intervention"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=MAX_LABEL, sa_column_kwargs={"unique": True}, nullable=False)
    kind: str = Field(max_length=64, nullable=False)
    created_at: datetime = _created_at()


class InterventionAction(SQLModel, table=True):
    """How an intervention acts on a target: tocilizumab INHIBITS IL-6R."""

    __tablename__ = "intervention_action"
    __table_args__ = (sa.UniqueConstraint("intervention_id", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    intervention_id: int = _fk("intervention.id", ondelete="CASCADE")
    target_id: int = _fk("target.id")
    action: TargetAction = Field(sa_type=str_enum(TargetAction, "target_action"), nullable=False)
    created_at: datetime = _created_at()


class Condition(SQLModel, table=True):
    __tablename__ = "condition"
    __table_args__ = (sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=MAX_LABEL, sa_column_kwargs={"unique": True}, nullable=False)
    parent_id: int | None = _fk("condition.id", nullable=True)
    created_at: datetime = _created_at()


class ConditionLineage(SQLModel, table=True):
    """Closure of the condition hierarchy: one row per (ancestor, descendant), self included.

    "MS includes RRMS" and "one condition is an ancestor of the other" become one indexed join
    instead of a recursive query. Written only by the create-condition command.
    """

    __tablename__ = "condition_lineage"

    ancestor_id: int = Field(
        sa_column_args=[sa.ForeignKey("condition.id", ondelete="CASCADE")], primary_key=True
    )
    descendant_id: int = Field(
        sa_column_args=[sa.ForeignKey("condition.id", ondelete="CASCADE")],
        primary_key=True,
        index=True,
    )
    depth: int = Field(nullable=False)


class Organism(SQLModel, table=True):
    __tablename__ = "organism"

    id: int | None = Field(default=None, primary_key=True)
    taxon_id: int = Field(sa_column_kwargs={"unique": True}, nullable=False)
    scientific_name: str = Field(max_length=MAX_LABEL, nullable=False)
    common_name: str | None = Field(default=None, max_length=MAX_LABEL)
    created_at: datetime = _created_at()


class Outcome(SQLModel, table=True):
    __tablename__ = "outcome"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=MAX_LABEL, sa_column_kwargs={"unique": True}, nullable=False)
    kind: str = Field(max_length=64, nullable=False)
    created_at: datetime = _created_at()


class _AliasColumns(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=MAX_LABEL, nullable=False)
    # The normalised key (schema.normalize.normalize_name); unique within the vocabulary.
    normalized: str = Field(max_length=MAX_LABEL, sa_column_kwargs={"unique": True}, nullable=False)
    # True for the row that holds the entity's preferred label (symbol or name).
    preferred: bool = Field(default=False, nullable=False)


class TargetAlias(_AliasColumns, table=True):
    __tablename__ = "target_alias"
    target_id: int = _fk("target.id", ondelete="CASCADE")


class InterventionAlias(_AliasColumns, table=True):
    __tablename__ = "intervention_alias"
    intervention_id: int = _fk("intervention.id", ondelete="CASCADE")


class ConditionAlias(_AliasColumns, table=True):
    __tablename__ = "condition_alias"
    condition_id: int = _fk("condition.id", ondelete="CASCADE")


class OrganismAlias(_AliasColumns, table=True):
    __tablename__ = "organism_alias"
    organism_id: int = _fk("organism.id", ondelete="CASCADE")


class OutcomeAlias(_AliasColumns, table=True):
    __tablename__ = "outcome_alias"
    outcome_id: int = _fk("outcome.id", ondelete="CASCADE")


class _XrefColumns(SQLModel):
    id: int | None = Field(default=None, primary_key=True)
    # Canonical display form from schema.curies ("HGNC:6019"); unique within the vocabulary.
    curie: str = Field(max_length=200, sa_column_kwargs={"unique": True}, nullable=False)


class TargetXref(_XrefColumns, table=True):
    __tablename__ = "target_xref"
    target_id: int = _fk("target.id", ondelete="CASCADE")


class InterventionXref(_XrefColumns, table=True):
    __tablename__ = "intervention_xref"
    intervention_id: int = _fk("intervention.id", ondelete="CASCADE")


class ConditionXref(_XrefColumns, table=True):
    __tablename__ = "condition_xref"
    condition_id: int = _fk("condition.id", ondelete="CASCADE")


# --- study populations --------------------------------------------------------------------


class Cohort(SQLModel, table=True):
    __tablename__ = "cohort"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "label"),
        sa.CheckConstraint("size IS NULL OR size >= 0", name="size_not_negative"),
        sa.CheckConstraint(
            "female_count IS NULL OR (female_count >= 0 AND (size IS NULL OR female_count <= size))",
            name="female_count_within_size",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = _fk("source.id")
    label: str = Field(max_length=MAX_LABEL, nullable=False)
    organism_id: int = _fk("organism.id")
    condition_id: int | None = _fk("condition.id", nullable=True)
    size: int | None = None
    female_count: int | None = None
    treatment_status: str | None = Field(default=None, max_length=MAX_LABEL)
    sample_type: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=MAX_STATEMENT)
    created_at: datetime = _created_at()


# --- claims -------------------------------------------------------------------------------


class EffectDirectionRow(SQLModel, table=True):
    """The effect-direction lookup table; claims reference its code."""

    __tablename__ = "effect_direction"

    code: str = Field(primary_key=True, max_length=16)
    label: str = Field(max_length=32, nullable=False)


# Claims that still stand: a new claim may not repeat one of these (see Claim.fingerprint).
LIVE_STATUSES = (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED)
_LIVE_SQL = "status IN ('DRAFT', 'SUBMITTED', 'ACCEPTED')"


class Claim(SQLModel, table=True):
    __tablename__ = "claim"
    __table_args__ = (
        sa.CheckConstraint(
            "(subject_target_id IS NULL) <> (subject_intervention_id IS NULL)",
            name="one_subject",
        ),
        sa.CheckConstraint("length(statement) > 0", name="statement_not_empty"),
        sa.CheckConstraint("p_value IS NULL OR (p_value >= 0 AND p_value <= 1)", name="p_value_range"),
        sa.CheckConstraint("ci_low IS NULL OR ci_high IS NULL OR ci_low <= ci_high", name="ci_order"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        # The same finding from the same source may stand only once among live claims; a
        # rejected or retracted claim does not block entering it again.
        sa.Index(
            "uq_claim_live_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=sa.text(_LIVE_SQL),
            postgresql_where=sa.text(_LIVE_SQL),
        ),
        sa.Index("ix_claim_created_at_id", "created_at", "id"),
        # A conflict question's context group (api/store/queries/conflicts.py), found by its
        # context in one index range rather than among all the claims about its outcome.
        sa.Index(
            "ix_claim_context",
            "outcome_id",
            "organism_id",
            "condition_id",
            "cohort_id",
            "sample_type",
            "evidence_type",
            "subject_intervention_id",
        ),  # fmt: skip
    )

    id: int | None = Field(default=None, primary_key=True)
    statement: str = Field(max_length=MAX_STATEMENT, nullable=False)
    subject_target_id: int | None = _fk("target.id", nullable=True)
    subject_intervention_id: int | None = _fk("intervention.id", nullable=True)
    outcome_id: int = _fk("outcome.id")
    direction: str = Field(
        sa_column_args=[sa.ForeignKey("effect_direction.code")],
        max_length=16,
        nullable=False,
        index=True,
    )
    modality: Modality = Field(sa_type=str_enum(Modality, "modality"), nullable=False)
    evidence_type: EvidenceType = Field(
        sa_type=str_enum(EvidenceType, "evidence_type"), nullable=False, index=True
    )
    organism_id: int = _fk("organism.id")
    condition_id: int | None = _fk("condition.id", nullable=True)
    cohort_id: int | None = _fk("cohort.id", nullable=True)
    comparator_id: int | None = _fk("cohort.id", nullable=True)
    sample_type: str | None = Field(default=None, max_length=100)
    effect_size: float | None = None
    effect_measure: str | None = Field(default=None, max_length=100)
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    source_id: int = _fk("source.id")
    status: ClaimStatus = Field(sa_type=str_enum(ClaimStatus, "claim_status"), nullable=False, index=True)
    version: int = Field(default=1, nullable=False)
    # SHA-256 of (source, subject, outcome, direction, context): see schema.claims.fingerprint.
    fingerprint: str = Field(max_length=64, nullable=False)
    created_by_id: int | None = _fk("app_user.id", nullable=True)
    # Who last changed its content (statement, context, evidence): a reviewer may not accept
    # wording they wrote, so the accepted version has always been read by a second person.
    last_edited_by_id: int | None = _fk("app_user.id", nullable=True, index=False)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


def claim_is_live() -> sa.ColumnElement[bool]:
    """`claim.status IN ('DRAFT', 'SUBMITTED', 'ACCEPTED')` with the statuses written into the SQL.

    SQLite uses a partial index (uq_claim_live_fingerprint) only when the query repeats the
    index's WHERE term literally; with bound parameters it falls back to ix_claim_status and
    scans every live claim (444 ms per createClaim at 1,000,000 claims, bench/RESULTS.md)."""
    statuses = [status.value for status in LIVE_STATUSES]
    live = sa.bindparam("live_statuses", statuses, expanding=True, literal_execute=True, unique=True)
    return Claim.status.in_(live)


class Evidence(SQLModel, table=True):
    """A verbatim quote backing a claim, and where in its source it stands."""

    __tablename__ = "evidence"
    __table_args__ = (
        sa.CheckConstraint("length(quote) > 0", name="quote_not_empty"),
        sa.UniqueConstraint("claim_id", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = _fk("claim.id")
    position: int = Field(nullable=False)
    source_id: int = _fk("source.id")
    quote: str = Field(max_length=MAX_QUOTE, nullable=False)
    locator: str | None = Field(default=None, max_length=MAX_LABEL)
    stance: Stance = Field(sa_type=str_enum(Stance, "stance"), nullable=False)
    created_at: datetime = _created_at()


class Review(SQLModel, table=True):
    __tablename__ = "review"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = _fk("claim.id")
    reviewer_id: int | None = _fk("app_user.id", nullable=True)
    decision: ReviewDecision = Field(sa_type=str_enum(ReviewDecision, "review_decision"), nullable=False)
    comment: str | None = Field(default=None, max_length=MAX_STATEMENT)
    claim_version: int = Field(nullable=False)
    at: datetime = _created_at()


# --- audit --------------------------------------------------------------------------------


class AuditEvent(SQLModel, table=True):
    """One append-only record of a change. Each event's hash covers its content and the previous
    event's hash (schema.audit), so the log is a single chain; `previous_hash` is unique, so the
    chain cannot fork even if two writers raced past the head lock."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_entity", "entity_type", "entity_id", "id"),)

    # Assigned by the writer holding the head lock (previous id + 1), so ids are contiguous.
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _created_at()
    actor_id: int | None = _fk("app_user.id", nullable=True)
    action: str = Field(max_length=64, nullable=False, index=True)
    entity_type: str = Field(max_length=32, nullable=False)
    entity_id: int = Field(nullable=False)
    before: dict[str, Any] | None = Field(default=None, sa_type=_JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=_JSON)
    comment: str | None = Field(default=None, max_length=MAX_STATEMENT)
    request_id: str | None = Field(default=None, max_length=64)
    previous_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)


class AuditHead(SQLModel, table=True):
    """A single row naming the newest audit event. Writers lock it (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite serialises writers anyway) just before appending, which orders the chain."""

    __tablename__ = "audit_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True)
    last_event_id: int | None = None
    last_hash: str = Field(default=GENESIS_HASH, max_length=64, nullable=False)


class ClaimTarget(SQLModel, table=True):
    """Which targets a claim bears on, and with which target-level direction (schema.bearing).

    Maintained by the store on every write that can change it (a claim created or edited, an
    intervention action added), so "claims about IL-6R" and conflict questions are one indexed
    join rather than a rule re-evaluated per row. `target_direction` is NULL where the
    intervention only binds or modulates the target: such claims are listed, never opposed.
    """

    __tablename__ = "claim_target"
    __table_args__ = (sa.Index("ix_claim_target_target_claim", "target_id", "claim_id"),)

    claim_id: int = Field(sa_column_args=[sa.ForeignKey("claim.id", ondelete="CASCADE")], primary_key=True)
    target_id: int = Field(sa_column_args=[sa.ForeignKey("target.id", ondelete="CASCADE")], primary_key=True)
    via_intervention_id: int | None = _fk("intervention.id", nullable=True, index=False)
    target_direction: str | None = Field(
        default=None,
        sa_column_args=[sa.ForeignKey("effect_direction.code")],
        max_length=16,
    )
    # How the intervention acts on the target (NULL when the subject is the target itself).
    action: TargetAction | None = Field(default=None, sa_type=str_enum(TargetAction, "claim_target_action"))


class ClaimSearch(SQLModel, table=True):
    """The searchable text of a claim: its statement and its quotes, kept by the store on every
    write. SQLite indexes it with an FTS5 table kept in step by triggers; PostgreSQL with a GIN
    index on its tsvector (both made in migration 0002)."""

    __tablename__ = "claim_search"

    claim_id: int = Field(sa_column_args=[sa.ForeignKey("claim.id", ondelete="CASCADE")], primary_key=True)
    document: str = Field(sa_type=sa.Text, nullable=False)


class SearchTerm(SQLModel, table=True):
    """Every name something can be found by (a label, an alias, a CURIE, a source's title, DOI
    or PMID), with the kind and id of what it names: the typeahead search (`Query.search`) reads
    only this. Written by the database itself (triggers on the alias, cross-reference, organism
    and source tables, migration 0004), so no write path can forget it; indexed for exact and
    prefix look-ups on `key` and, by hand-made indexes, for substring and trigram matches on `term`
    (an FTS5 trigram table on SQLite, a pg_trgm GIN index on PostgreSQL)."""

    __tablename__ = "search_term"
    __table_args__ = (sa.Index("ix_search_term_key", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, nullable=False)  # schema.search kinds: TARGET, SOURCE, ...
    entity_id: int = Field(nullable=False)
    term: str = Field(max_length=MAX_TITLE, nullable=False)
    # What exact and prefix matches compare: an alias's normalised key, else the term lower-cased.
    key: str = Field(max_length=MAX_TITLE, nullable=False)


# --- curation depth -----------------------------------------------------------------------

_PENDING_SQL = "status = 'PENDING'"


class Revision(SQLModel, table=True):
    """A proposed change to an ACCEPTED claim. Readers keep seeing the accepted version until a
    reviewer other than its author accepts it; then every change applies at once, as the claim's
    next version. `changes` holds the new values and `before` the values at `base_version`,
    both in the store's terms (as audit events do); each author has at most one pending revision
    of a claim."""

    __tablename__ = "revision"
    __table_args__ = (
        sa.Index(
            "uq_revision_pending_author",
            "claim_id",
            "created_by_id",
            unique=True,
            sqlite_where=sa.text(_PENDING_SQL),
            postgresql_where=sa.text(_PENDING_SQL),
        ),
        sa.Index("ix_revision_status_created_at", "status", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = _fk("claim.id")
    status: RevisionStatus = Field(sa_type=str_enum(RevisionStatus, "revision_status"), nullable=False)
    base_version: int = Field(nullable=False)
    changes: dict[str, Any] = Field(sa_type=_JSON, nullable=False)
    before: dict[str, Any] = Field(sa_type=_JSON, nullable=False)
    comment: str | None = Field(default=None, max_length=MAX_STATEMENT)
    created_by_id: int | None = _fk("app_user.id", nullable=True, index=False)
    created_at: datetime = _created_at()
    decided_by_id: int | None = _fk("app_user.id", nullable=True, index=False)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_comment: str | None = Field(default=None, max_length=MAX_STATEMENT)


class Flag(SQLModel, table=True):
    """Anyone signed in may flag a claim for a reviewer's look; the flag's author or a reviewer
    resolves it, saying how."""

    __tablename__ = "flag"
    __table_args__ = (sa.CheckConstraint("length(comment) >= 10", name="comment_long_enough"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = _fk("claim.id")
    comment: str = Field(max_length=MAX_STATEMENT, nullable=False)
    created_by_id: int | None = _fk("app_user.id", nullable=True, index=False)
    created_at: datetime = _created_at()
    resolved_by_id: int | None = _fk("app_user.id", nullable=True, index=False)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str | None = Field(default=None, max_length=MAX_STATEMENT)


# --- maintained aggregates ------------------------------------------------------------------
#
# Counts of claim_target ⋈ claim rows that conflicts and evidence summaries would otherwise read
# claim by claim (a hot target has 200,000 claims). Written only by database triggers
# (api/store/aggregate_triggers.py, migrations 0008 and 0009) in the transaction of the write that changes
# them, so no write path can forget them; `claimsdb db check` recomputes them from the claims.
# Keyed by status (and modality) so visibility and the modality filter still apply to them.
# Key columns are NOT NULL so that the primary key (which the triggers' upserts conflict on)
# treats "no condition" as one value on both databases: 0 for an absent id, '' for an absent
# text (api/store/queries/maintained.py, none_if, turns them back into NULL).


class ClaimCell(SQLModel, table=True):
    """How many claims bear on a target with one target-level direction ('' where the
    intervention only binds or modulates it), per outcome, condition, organism, modality and
    status: what evidence summaries and conflict questions count."""

    __tablename__ = "claim_cell"
    __table_args__ = {"sqlite_with_rowid": False}  # rows stored in key order: a target's are together

    target_id: int = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=32)
    outcome_id: int = Field(primary_key=True)
    condition_id: int = Field(primary_key=True)
    organism_id: int = Field(primary_key=True)
    modality: str = Field(primary_key=True, max_length=32)
    direction: str = Field(primary_key=True, max_length=16)
    n: int = Field(nullable=False)


class ClaimSummary(SQLModel, table=True):
    """claim_cell without its organism and modality: an evidence summary's own cells, per status
    (api/store/queries/summary.py reads it when the summary is filtered by neither)."""

    __tablename__ = "claim_summary"
    # Migration 0010 also covers it by ix_claim_summary_order (target, status, n DESC, outcome,
    # condition, direction): a summary's cells in the order it answers them, read without a sort.
    # Made by hand there (api/store/migrations.py HAND_MADE): Alembic cannot compare a
    # descending index column with its model.
    __table_args__ = {"sqlite_with_rowid": False}

    target_id: int = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=32)
    outcome_id: int = Field(primary_key=True)
    condition_id: int = Field(primary_key=True)
    direction: str = Field(primary_key=True, max_length=16)
    n: int = Field(nullable=False)


class ClaimQuestion(SQLModel, table=True):
    """A conflict question's direction counts (never '': only claims with a target-level
    direction), per status and modality (api/store/queries/conflicts.py counts questions here)."""

    __tablename__ = "claim_question"
    __table_args__ = {"sqlite_with_rowid": False}

    target_id: int = Field(primary_key=True)
    outcome_id: int = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=32)
    modality: str = Field(primary_key=True, max_length=32)
    direction: str = Field(primary_key=True, max_length=16)
    n: int = Field(nullable=False)


class ClaimGroup(SQLModel, table=True):
    """A conflict question's context group (api/store/queries/conflicts.py): the claims bearing
    on a target with one target-level direction (never '') and the same context, per modality and
    status, with their number and smallest claim id."""

    __tablename__ = "claim_group"
    __table_args__ = (
        # A question's groups in the order of their first claims: the first DIRECT pairs of a
        # question are found by walking it (api/store/queries/conflicts.py, _first_direct_pairs).
        sa.Index("ix_claim_group_first", "target_id", "outcome_id", "status", "first_id"),
        {"sqlite_with_rowid": False},
    )

    target_id: int = Field(primary_key=True)
    outcome_id: int = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=32)
    direction: str = Field(primary_key=True, max_length=16)
    organism_id: int = Field(primary_key=True)
    condition_id: int = Field(primary_key=True)
    cohort_id: int = Field(primary_key=True)
    sample_type: str = Field(primary_key=True, max_length=100)
    evidence_type: str = Field(primary_key=True, max_length=32)
    intervention_id: int = Field(primary_key=True)
    modality: str = Field(primary_key=True, max_length=32)
    n: int = Field(nullable=False)
    first_id: int = Field(nullable=False)
