"""Forms as the pages name their fields, turned into the API's inputs, and the API's userErrors
turned back into messages next to the fields. Only shapes are mapped here: whether a value is
allowed is the API's to say (a number that is not a number is the one thing caught here, because
it cannot even be sent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import ImmutableMultiDict

DIRECTIONS = ("INCREASES", "DECREASES", "NO_EFFECT", "MIXED")
MODALITIES = ("ASSERTED", "HEDGED", "HYPOTHESIS")
EVIDENCE_TYPES = (
    "RANDOMIZED_TRIAL",
    "CLINICAL_TRIAL",
    "OBSERVATIONAL",
    "CASE_REPORT",
    "ANIMAL_MODEL",
    "IN_VITRO",
    "REVIEW",
    "EXPERT_OPINION",
    "ANECDOTE",
)
STATUSES = ("DRAFT", "SUBMITTED", "ACCEPTED", "REJECTED", "RETRACTED")
STANCES = ("SUPPORTS", "DISPUTES")
PAGE_SIZE = 20

# --- claim list filters (GET query strings) ----------------------------------------------------

# query parameter -> ClaimFilter field, for the free-text ones
_NAMED_FILTERS = {
    "target": "target",
    "intervention": "intervention",
    "condition": "condition",
    "organism": "organism",
    "outcome": "outcome",
    "source": "source",
    "text": "text",
}
_LIST_FILTERS = {
    "direction": "direction",
    "modality": "modality",
    "evidence_type": "evidenceType",
    "status": "status",
}


@dataclass
class ClaimFilterForm:
    """The claim list's filter form: what was asked (to show again) and the API's filter."""

    values: dict[str, Any] = field(default_factory=dict)
    api_filter: dict[str, Any] = field(default_factory=dict)
    after: str | None = None
    before: str | None = None

    @classmethod
    def read(
        cls, params: ImmutableMultiDict[str, str], *, fixed: Mapping[str, str] | None = None
    ) -> ClaimFilterForm:
        form = cls()
        for key, api_key in _NAMED_FILTERS.items():
            value = (params.get(key) or "").strip()
            if value:
                form.values[key] = value
                form.api_filter[api_key] = value
        for key, api_key in _LIST_FILTERS.items():
            chosen = [v for v in params.getlist(key) if v]
            if chosen:
                form.values[key] = chosen
                form.api_filter[api_key] = chosen
        conflict = params.get("conflict")
        if conflict in ("yes", "no"):
            form.values["conflict"] = conflict
            form.api_filter["hasConflict"] = conflict == "yes"
        for key, value in (fixed or {}).items():
            form.api_filter[key] = value
        form.after = params.get("after") or None
        form.before = params.get("before") or None
        return form

    def page_variables(self) -> dict[str, Any]:
        variables: dict[str, Any] = {"filter": self.api_filter or None}
        if self.before:
            variables.update(last=PAGE_SIZE, before=self.before)
        else:
            variables.update(first=PAGE_SIZE, after=self.after)
        return variables


# --- the curation form ----------------------------------------------------------------------------

# form field -> (label, path of the API input field it fills)
CLAIM_FIELDS: dict[str, tuple[str, str]] = {
    "statement": ("Statement", "statement"),
    "source": ("Source", "source"),
    "target": ("Target", "target"),
    "intervention": ("Intervention", "intervention"),
    "outcome": ("Outcome", "outcome"),
    "direction": ("Direction", "direction"),
    "modality": ("Modality", "modality"),
    "evidence_type": ("Evidence type", "evidenceType"),
    "organism": ("Organism", "organism"),
    "condition": ("Condition", "condition"),
    "sample_type": ("Sample type", "sampleType"),
    "cohort_label": ("Cohort", "cohort.label"),
    "cohort_size": ("Cohort size", "cohort.size"),
    "quote": ("Quote", "evidence.0.quote"),
    "locator": ("Locator", "evidence.0.locator"),
    "stance": ("Stance", "evidence.0.stance"),
    "comment": ("Comment", "comment"),
}
_BY_PATH = {path: name for name, (_, path) in CLAIM_FIELDS.items()}
# In addEvidence the quote is at evidence.quote (one piece of evidence, not a list).
_BY_PATH.update({"evidence.quote": "quote", "evidence.locator": "locator", "evidence.stance": "stance"})
# Which fields the search typeahead helps with, and what kind of thing each names.
TYPEAHEAD: dict[str, str] = {
    "source": "SOURCE",
    "target": "TARGET",
    "intervention": "INTERVENTION",
    "outcome": "OUTCOME",
    "organism": "ORGANISM",
    "condition": "CONDITION",
}
# Fields the Edit form can change (UpdateClaimInput); the rest are fixed once a claim exists.
EDITABLE = (
    "statement",
    "outcome",
    "direction",
    "modality",
    "evidence_type",
    "organism",
    "condition",
    "sample_type",
)


@dataclass
class FieldErrors:
    """Messages by form field; `general` for those that name no field of the form."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.by_field.setdefault(name, []).append(message)

    def add_user_errors(self, errors: list[dict[str, Any]]) -> None:
        for error in errors:
            path = [p for p in (error.get("field") or []) if p != "input"]
            name = _BY_PATH.get(".".join(path))
            self.add(name, error["message"])

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _int(form: Mapping[str, Any], name: str, errors: FieldErrors) -> int | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors.add(name, f"{CLAIM_FIELDS[name][0]} must be a whole number, like 24; got '{text}'")
        return None


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The posted fields, to show the form again as it was sent."""
    return {name: _text(form, name) for name in CLAIM_FIELDS}


def create_input(form: Mapping[str, Any], errors: FieldErrors) -> dict[str, Any]:
    """CreateClaimInput from the New claim form; empty optional fields are left out."""
    data: dict[str, Any] = {
        "statement": _text(form, "statement"),
        "source": _text(form, "source"),
        "outcome": _text(form, "outcome"),
        "direction": _text(form, "direction"),
        "modality": _text(form, "modality"),
        "evidenceType": _text(form, "evidence_type"),
        "organism": _text(form, "organism"),
    }
    for name, key in (("target", "target"), ("intervention", "intervention"), ("condition", "condition")):
        if value := _text(form, name):
            data[key] = value
    if value := _text(form, "sample_type"):
        data["sampleType"] = value
    label, size = _text(form, "cohort_label"), _int(form, "cohort_size", errors)
    if label:
        data["cohort"] = {"label": label, "size": size}
    elif size is not None:
        errors.add("cohort_label", "Give the cohort a label (e.g. 'RRMS patients') to record its size")
    evidence: dict[str, Any] = {"quote": _text(form, "quote")}
    if value := _text(form, "locator"):
        evidence["locator"] = value
    if value := _text(form, "stance"):
        evidence["stance"] = value
    data["evidence"] = [evidence]
    return data


def update_input(form: Mapping[str, Any], current: Mapping[str, str]) -> dict[str, Any]:
    """The UpdateClaimInput fields the Edit form changed, compared with the claim as it was
    shown (`current`, form names); an emptied condition or sample type clears it (null)."""
    keys = {"evidence_type": "evidenceType", "sample_type": "sampleType"}
    changes: dict[str, Any] = {}
    for name in EDITABLE:
        value = _text(form, name)
        if value == (current.get(name) or ""):
            continue
        if not value and name not in ("condition", "sample_type"):
            continue  # a required field left empty keeps its value
        changes[keys.get(name, name)] = value or None
    return changes


def claim_form_values(claim: Mapping[str, Any]) -> dict[str, str]:
    """A claim from the API as the form's fields."""
    subject = claim.get("subject") or {}
    evidence = (claim.get("evidence") or [{}])[0]
    source = claim.get("source") or {}
    return {
        "statement": claim.get("statement") or "",
        "source": source.get("doi")
        or (f"PMID:{source['pmid']}" if source.get("pmid") else source.get("id", "")),
        "target": subject.get("symbol") or "",
        "intervention": subject.get("name") or "",
        "outcome": (claim.get("outcome") or {}).get("name", ""),
        "direction": claim.get("direction") or "",
        "modality": claim.get("modality") or "",
        "evidence_type": claim.get("evidenceType") or "",
        "organism": (claim.get("organism") or {}).get("scientificName", ""),
        "condition": (claim.get("condition") or {}).get("name", "") if claim.get("condition") else "",
        "sample_type": claim.get("sampleType") or "",
        "cohort_label": "",
        "cohort_size": "",
        "quote": evidence.get("quote") or "",
        "locator": evidence.get("locator") or "",
        "stance": "",
        "comment": "",
    }
