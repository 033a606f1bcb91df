"""The write rules of sources and claims: pure functions of the input records (schema.records).

Every way in applies them: the GraphQL mutations (through the store commands), the store
commands, the seed loader and the bulk import. A check returns every problem it finds at once,
each a UserError with its code, message and field path (in the record's GraphQL field names,
relative to the record), together with the cleaned values the store writes (labels trimmed and
their whitespace folded, DOIs and PMIDs in their one spelling).

What needs the database is the store's: whether a name or id exists, whether a DOI is taken,
whether the claim repeats a live one. The rule a cohort stored earlier imposes on a claim naming
it by label is here (cohort_disagreement), since both the commands and the bulk import apply it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from schema.enums import SourceKind, Stance
from schema.errors import UserError, UserErrorCode
from schema.identifiers import IdentifierError, normalize_doi, normalize_pmid
from schema.normalize import clean_label
from schema.records import (
    ClaimRecord,
    CohortRecord,
    EvidenceRecord,
    Record,
    SourceRecord,
    StatisticsRecord,
    refers_to,
)
from schema.tables import MAX_LABEL, MAX_QUOTE, MAX_STATEMENT, MAX_TITLE

MAX_EVIDENCE = 50  # quotes per claim
MAX_SHORT_LABEL = 100  # a sample type, an effect measure
MAX_URL = 2000
YEARS = (1500, 2200)

_INVALID = UserErrorCode.INVALID
R = TypeVar("R", bound=Record)


class Problems:
    """The problems found so far, in the order found."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[UserError] = []

    def add(self, message: str, *field: str, code: UserErrorCode = _INVALID) -> None:
        self.errors.append(UserError(code, message, field))

    def label(self, value: str | None, max_len: int, *field: str, required: bool) -> str | None:
        """A label as stored (schema.normalize.clean_label), or None (and a problem when it is
        required, or too long). An optional label left blank is None."""
        text = clean_label(value) if value else ""
        if not text:
            if required:
                self.add(f"{field[-1]} must not be empty", *field)
            return None
        if len(text) > max_len:
            self.add(f"{field[-1]} is {len(text)} characters; at most {max_len} are allowed", *field)
            return None
        return text


def given(reference: int | str | None) -> bool:
    """Whether a reference names something (an id, or text that is not blank)."""
    return reference is not None and (not isinstance(reference, str) or bool(reference.strip()))


# --- claims -------------------------------------------------------------------------------

# The checked values are plain (not frozen) dataclasses: a frozen one's __init__ costs twice as
# much, and every createClaim and every imported claim makes several.


@dataclass(slots=True)
class CheckedEvidence:
    quote: str
    locator: str | None
    stance: Stance
    source: int | str | None  # as given; None (or blank): the claim's source


@dataclass(slots=True)
class CheckedCohort:
    label: str
    size: int | None
    female_count: int | None
    condition: int | str | None  # as given
    treatment_status: str | None
    sample_type: str | None


@dataclass(slots=True)
class CheckedClaim:
    """A claim record's values that passed every rule, cleaned; references as given."""

    statement: str
    sample_type: str | None
    statistics: Mapping[str, Any]  # the claim's statistics columns, keyed by column
    evidence: list[CheckedEvidence]
    cohort: CheckedCohort | None
    comparator: CheckedCohort | None
    # The sources the record gives in full (its own, then its quotes'), each with its field path;
    # empty when it names them all by reference, the usual case.
    sources: list[tuple[tuple[str, ...], CheckedSource]] = dataclasses.field(default_factory=list)


def check_claim(record: ClaimRecord) -> tuple[CheckedClaim | None, list[UserError]]:
    """createClaim's rules: a statement, exactly one subject, sound statistics, 1-50 quotes of
    at most 2,000 characters, cohorts with a label and counts that add up, and createSource's
    rules for a source given in full. Returns the checked values, or None and every problem."""
    p = Problems()
    statement = p.label(record.statement, MAX_STATEMENT, "statement", required=True)
    sample_type = p.label(record.sample_type, MAX_SHORT_LABEL, "sampleType", required=False)
    statistics = _statistics(p, record.statistics)
    if given(record.target) == given(record.intervention):
        p.add("give exactly one of target and intervention as the claim's subject", "target")
    evidence = record.evidence
    if not evidence:
        p.add("a claim needs at least one quote from its source", "evidence")
    elif len(evidence) > MAX_EVIDENCE:
        p.add(f"at most {MAX_EVIDENCE} quotes per claim", "evidence")
    checked = [_evidence(p, ev, "evidence", str(index)) for index, ev in enumerate(evidence)]
    cohort = _cohort(p, record.cohort, "cohort")
    comparator = _cohort(p, record.comparator, "comparator")
    sources = _given_sources(p, record)
    if p.errors:
        return None, p.errors
    assert statement is not None
    return CheckedClaim(statement, sample_type, statistics, checked, cohort, comparator, sources), p.errors


def _given_sources(p: Problems, record: ClaimRecord) -> list[tuple[tuple[str, ...], CheckedSource]]:
    """The sources a claim record gives in full, checked by createSource's own rules (their
    problems under the field that gives them: "source", "evidence.2.source")."""
    out: list[tuple[tuple[str, ...], CheckedSource]] = []
    # Tested here before walking the paths: nearly every record names its sources by reference.
    if type(record.source) is not SourceRecord:
        for ev in record.evidence:
            if type(ev.source) is SourceRecord:
                break
        else:
            return out
    for path, source in record.sources():
        if type(source) is not SourceRecord:
            continue
        checked, errors = check_source(source)
        p.errors.extend(error.within(*path) for error in errors)
        if checked is not None:
            out.append((path, checked))
    return out


def check_statistics(stats: StatisticsRecord | None) -> tuple[Mapping[str, Any], list[UserError]]:
    """The statistics columns a record gives (all None for none), and its problems: every
    number finite, the p-value within 0..1, the interval the right way round."""
    p = Problems()
    return _statistics(p, stats), p.errors


def check_evidence(evidence: EvidenceRecord, *field: str) -> tuple[CheckedEvidence, list[UserError]]:
    """One quote's rules, its problems under `field` ("evidence")."""
    p = Problems()
    return _evidence(p, evidence, *field), p.errors


# Read-only, so every claim without statistics shares it.
_NO_STATISTICS: Mapping[str, Any] = MappingProxyType(
    {"effect_size": None, "effect_measure": None, "p_value": None, "ci_low": None, "ci_high": None}
)
_NUMBERS = (("effect_size", "effectSize"), ("p_value", "pValue"), ("ci_low", "ciLow"), ("ci_high", "ciHigh"))


def _statistics(p: Problems, stats: StatisticsRecord | None) -> Mapping[str, Any]:
    if stats is None:
        return _NO_STATISTICS
    for attribute, name in _NUMBERS:
        value = getattr(stats, attribute)
        if value is not None and not math.isfinite(value):
            p.add(f"{name} must be a finite number", "statistics", name)
    # NaN is not within 0..1 either, so a NaN p-value is reported twice, as it always was.
    if stats.p_value is not None and not 0 <= stats.p_value <= 1:
        p.add("pValue must be between 0 and 1", "statistics", "pValue")
    if stats.ci_low is not None and stats.ci_high is not None and stats.ci_low > stats.ci_high:
        p.add("ciLow must not exceed ciHigh", "statistics", "ciLow")
    measure = p.label(stats.effect_measure, MAX_SHORT_LABEL, "statistics", "effectMeasure", required=False)
    return {
        "effect_size": stats.effect_size,
        "effect_measure": measure,
        "p_value": stats.p_value,
        "ci_low": stats.ci_low,
        "ci_high": stats.ci_high,
    }


def _evidence(p: Problems, ev: EvidenceRecord, *path: str) -> CheckedEvidence:
    quote = ev.quote.strip()
    if not quote:
        p.add("quote must not be empty", *path, "quote")
    elif len(quote) > MAX_QUOTE:
        p.add(f"quote is {len(quote)} characters; at most {MAX_QUOTE} are allowed", *path, "quote")
    locator = p.label(ev.locator, MAX_LABEL, *path, "locator", required=False)
    return CheckedEvidence(quote, locator, ev.stance, ev.source)


def _cohort(p: Problems, cohort: CohortRecord | None, name: str) -> CheckedCohort | None:
    if cohort is None:
        return None
    label = p.label(cohort.label, MAX_LABEL, name, "label", required=True)
    if cohort.size is not None and cohort.size < 0:
        p.add("size must not be negative", name, "size")
    if cohort.female_count is not None:
        if cohort.female_count < 0:
            p.add("femaleCount must not be negative", name, "femaleCount")
        elif cohort.size is not None and cohort.female_count > cohort.size:
            p.add("femaleCount must not exceed size", name, "femaleCount")
    treatment = p.label(cohort.treatment_status, MAX_LABEL, name, "treatmentStatus", required=False)
    sample_type = p.label(cohort.sample_type, MAX_SHORT_LABEL, name, "sampleType", required=False)
    return CheckedCohort(
        label or "", cohort.size, cohort.female_count, cohort.condition, treatment, sample_type
    )


# A stored cohort's columns a claim naming it by label may repeat but not contradict, with the
# field path each is reported at (the column name in camelCase, as the API always has).
COHORT_AGREES = (
    ("size", "size"),
    ("female_count", "femaleCount"),
    ("condition_id", "conditionId"),
    ("treatment_status", "treatmentStatus"),
    ("sample_type", "sampleType"),
)


def cohort_disagreement(
    name: str, label: str, stored: Mapping[str, Any], wanted: Mapping[str, Any], same_organism: bool
) -> UserError | None:
    """The first way a claim's cohort `name` ("cohort", "comparator") contradicts the cohort its
    source already has under `label` (both keyed by column, `wanted` with the condition
    resolved), else None. A value left out (None) agrees with anything."""
    for column, field in COHORT_AGREES:
        value = wanted[column]
        if value is not None and stored[column] != value:
            return UserError(
                _INVALID,
                f"this source's cohort '{label}' already has {column} = {stored[column]!r}; "
                "give the same value, leave it out, or use another label",
                (name, field),
            )
    if not same_organism:
        return UserError(
            _INVALID, f"cohort '{label}' belongs to another organism than the claim", (name, "label")
        )
    return None


# --- sources ------------------------------------------------------------------------------


@dataclass(slots=True)
class CheckedSource:
    """A source record's values that passed every rule, cleaned; derived_from as given."""

    kind: SourceKind
    title: str
    authors: list[str]
    venue: str | None
    year: int | None  # the year given, else the published date's
    published: date | None
    doi: str | None
    pmid: str | None
    url: str | None
    peer_reviewed: bool
    ai_generated: bool
    derived_from: int | str | None
    # The columns the record gives a value for (not left out, null, blank or []; the year also
    # when it comes from the date): what a stored source the record names must agree with.
    given: frozenset[str] = frozenset()


def check_source(record: SourceRecord) -> tuple[CheckedSource | None, list[UserError]]:
    """createSource's rules: a title, a DOI and PMID that read as such, a plausible year that
    agrees with the date, an http(s) URL, labels within their lengths."""
    p = Problems()
    doi = pmid = None
    if record.doi and record.doi.strip():
        try:
            doi = normalize_doi(record.doi)
        except IdentifierError as exc:
            p.add(str(exc), "doi")
    if record.pmid and record.pmid.strip():
        try:
            pmid = normalize_pmid(record.pmid)
        except IdentifierError as exc:
            p.add(str(exc), "pmid")
    year, published = record.year, record.published
    if year is not None and not YEARS[0] <= year <= YEARS[1]:
        p.add(f"year {year} is outside {YEARS[0]}-{YEARS[1]}", "year")
    if published is not None and year is not None and published.year != year:
        p.add("published and year disagree", "published")
    url = (record.url or "").strip() or None
    if url is not None and (not url.lower().startswith(("http://", "https://")) or len(url) > MAX_URL):
        p.add(f"url must be an http(s) address of at most {MAX_URL} characters", "url")
    authors = [
        p.label(author, MAX_LABEL, "authors", str(index), required=True)
        for index, author in enumerate(record.authors or ())
    ]
    title = p.label(record.title, MAX_TITLE, "title", required=True)
    venue = p.label(record.venue, MAX_LABEL, "venue", required=False)
    if p.errors:
        return None, p.errors
    assert title is not None
    checked = CheckedSource(
        kind=record.kind,
        title=title,
        authors=[a for a in authors if a is not None],
        venue=venue,
        year=year if year is not None else (published.year if published else None),
        published=published,
        doi=doi,
        pmid=pmid,
        url=url,
        peer_reviewed=record.peer_reviewed,
        ai_generated=record.ai_generated,
        derived_from=record.derived_from,
    )
    checked.given = _given_columns(record, checked)
    return checked, p.errors


# A note is documentation, never stored (and a seed file's source record adds its key).
_STORED_SOURCE_FIELDS = frozenset(SourceRecord.model_fields) - {"note"}


def _given_columns(record: SourceRecord, checked: CheckedSource) -> frozenset[str]:
    """The columns a record gives a value for: fields it sets, not to null, blank or [] (an
    empty value says nothing, as a cohort's does), and the year when it comes from the date."""
    columns = set()
    for name in record.model_fields_set & _STORED_SOURCE_FIELDS:
        if name == "derived_from":
            if given(record.derived_from):
                columns.add("derived_from_id")
        elif getattr(checked, name) not in (None, []):
            columns.add(name)
    if checked.published is not None:
        columns.add("year")
    return frozenset(columns)


# --- reading records from data ------------------------------------------------------------


def parse_record(model: type[R], data: Any) -> tuple[R | None, list[UserError]]:
    """A record from data (a mapping as JSON or YAML give it, in either spelling of the field
    names), or None and what is wrong with its types, as UserErrors at the fields' paths."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors: list[UserError] = []
        seen: set[tuple[str, ...]] = set()
        for problem in exc.errors(include_url=False):
            path, field_type = _path(model, problem["loc"])
            if path in seen:
                continue  # one message per field, not one per member of a union
            seen.add(path)
            errors.append(UserError(_INVALID, _type_message(problem, path, field_type), path))
        return None, errors


def _path(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[tuple[str, ...], FieldInfo | None]:
    """The field path (GraphQL names, list positions) of a pydantic error location, and the
    field it ends at. Locations also name the member of a union that failed ("int", "str"):
    those are left out."""
    path: list[str] = []
    current: type[BaseModel] | None = model
    field: FieldInfo | None = None
    for item in loc:
        if isinstance(item, int):
            path.append(str(item))
            continue
        found = _field(current, item) if current is not None else None
        if found is None:
            continue
        name, field = found
        path.append(name)
        current = nested_record(field.annotation)
    return tuple(path), field


def _field(model: type[BaseModel], key: str) -> tuple[str, FieldInfo] | None:
    for attribute, field in model.model_fields.items():
        if key in (attribute, field.alias):
            return field.alias or attribute, field
    return None


def _members(annotation: Any) -> Iterable[Any]:
    """The types an annotation is made of (through unions and lists)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _members(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType, list):
        for argument in typing.get_args(annotation):
            yield from _members(argument)
    else:
        yield annotation


def nested_record(annotation: Any) -> type[Record] | None:
    """The record a field holds (alone, in a list, or null), if it holds one."""
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, Record):
            return member
    return None


def _type_message(problem: Any, path: tuple[str, ...], field: FieldInfo | None) -> str:
    kind: str = problem["type"]
    name = next((part for part in reversed(path) if not part.isdigit()), "record")
    if kind == "extra_forbidden":
        return f"'{problem['loc'][-1]}' is not a field here"
    if kind == "missing":
        return f"{name} is required"
    if field is not None and (refers := refers_to(field)) is not None:
        if nested_record(field.annotation) is not None:
            return f"{name} must be a name or an id, or a {refers.lower()} record (an object)"
        return f"{name} must be a name or an id"
    if kind == "enum" and field is not None:
        choices = next(
            (m for m in _members(field.annotation) if isinstance(m, type) and issubclass(m, enum.Enum)), None
        )
        if choices is not None:
            return f"{name} '{problem['input']}' is not one of {', '.join(c.value for c in choices)}"
    for prefix, wanted in _TYPE_WORDS:
        if kind.startswith(prefix):
            return f"{name} must be {wanted}"
    return f"{name}: {problem['msg']}"


_TYPE_WORDS = (
    ("int_", "a whole number"),
    ("float_", "a number"),
    ("string_", "text"),
    ("bool_", "true or false"),
    ("date_", "a date (YYYY-MM-DD)"),
    ("list_", "a list"),
    ("model_", "an object"),
    ("dict_", "an object"),
)


# Ids are positive 32-bit integers in both databases; any other int names nothing.
MAX_ID = 2**31 - 1


def is_id(value: int) -> bool:
    """Whether an int can be a row's id (a larger one would not even fit the column's type)."""
    return 1 <= value <= MAX_ID
