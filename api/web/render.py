"""Jinja2 for the pages: every value is escaped (autoescape on for every template, and no
template marks database text safe), undefined names fail loudly, and the filters below only
format what the API returned (no rule of the domain is decided here)."""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_DOI = "https://doi.org/"
_PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"
_RESOLVER = "https://bioregistry.io/"


def words(value: object) -> str:
    """An enum name as words: NO_EFFECT -> "no effect", RANDOMIZED_TRIAL -> "randomized trial"."""
    if value is None:
        return ""
    return str(value).replace("_", " ").lower()


@cache
def _bioregistry() -> Any:
    import bioregistry  # takes a few seconds to load its registry: warmed up in a thread

    return bioregistry


def warm_up() -> None:
    """Load the registry in the background, so the first target page does not wait for it."""
    threading.Thread(target=_bioregistry, name="bioregistry-warm-up", daemon=True).start()


@cache
def xref_url(curie: str) -> str:
    """The registry's own page for a CURIE (HGNC:6019 -> genenames.org), else the Bioregistry
    resolver, which knows every prefix the API accepts."""
    try:
        iri = _bioregistry().get_iri(curie)
    except Exception:  # noqa: BLE001 - an unusual CURIE gets the resolver link instead
        iri = None
    return iri or _RESOLVER + quote(curie, safe=":")


def doi_url(doi: str) -> str:
    return _DOI + quote(doi, safe="/:;()")


def pmid_url(pmid: str) -> str:
    return _PUBMED + quote(pmid, safe="") + "/"


def web_url(value: str | None) -> bool:
    """Whether a URL from the database may be a link: http(s) only (never javascript: and the like)."""
    return bool(value) and urlsplit(str(value)).scheme.lower() in ("http", "https")


def when(value: str | None) -> str:
    """An ISO timestamp from the API as "2024-06-01 12:03 UTC"."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    zone = moment.tzname() or ""
    return moment.strftime("%Y-%m-%d %H:%M") + (" " + ("UTC" if zone in ("UTC", "UTC+00:00") else zone))


def subject_name(subject: dict[str, Any] | None) -> str:
    if not subject:
        return ""
    return str(subject.get("symbol") or subject.get("name") or "")


def organism_name(organism: dict[str, Any] | None) -> str:
    if not organism:
        return ""
    common = organism.get("commonName")
    scientific = organism.get("scientificName", "")
    return f"{scientific} ({common})" if common and common != scientific else scientific


# Audit actions (api/store/commands) as a timeline says them; others read as their last part.
_EVENT_WORDS = {
    "claim.create": "Created",
    "claim.bulk_import": "Imported",
    "claim.update": "Edited",
    "claim.add_evidence": "Evidence added",
    "claim.submit": "Submitted for review",
    "claim.review.accept": "Accepted",
    "claim.review.reject": "Rejected",
    "claim.retract": "Retracted",
    "claim.revision.propose": "Revision proposed",
    "claim.revision.accept": "Revision accepted",
    "claim.revision.reject": "Revision rejected",
    "claim.revision.withdraw": "Revision withdrawn",
    "claim.source_standing": "Source standing changed",
}


def event_words(action: str) -> str:
    return _EVENT_WORDS.get(action) or words(action.rpartition(".")[2]).capitalize()


def change_value(value: Any) -> str:
    """A FieldChange's before/after as text: references by name, enums as words, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        if "name" in value:
            return str(value["name"]) if value["name"] is not None else _unnamed(value.get("id"))
        return ", ".join(f"{words(k)}: {change_value(v)}" for k, v in value.items() if v is not None) or "—"
    if isinstance(value, list):
        return "; ".join(change_value(v) for v in value) or "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.isupper() and " " not in value:
        return words(value)
    return str(value)


def _unnamed(global_id: Any) -> str:
    """A reference the API gives no name for (a revision, a flag): its type and number."""
    from api.graphql.ids import from_global_id

    parsed = from_global_id(str(global_id or ""))
    return f"{words(parsed[0])} {parsed[1]}" if parsed else "—"


def query_string(values: dict[str, Any], **changes: Any) -> str:
    """`values` with `changes` applied, as "?a=1&b=2" (lists repeat their key; None drops)."""
    merged = {**values, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, str(item)))
    return "?" + urlencode(pairs) if pairs else ""


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        words=words,
        xref_url=xref_url,
        doi_url=doi_url,
        pmid_url=pmid_url,
        when=when,
        subject_name=subject_name,
        organism_name=organism_name,
        change_value=change_value,
        event_words=event_words,
        web_url=web_url,
        path=lambda value: quote(str(value), safe=""),
    )
    env.globals.update(query_string=query_string)
    return env
