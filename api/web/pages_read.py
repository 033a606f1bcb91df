"""The pages that read: home, target, evidence cell, conflict, claim list, claim, source, search.
Each runs its documents (api/web/graphql) and renders; anything the API refuses is shown."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from starlette.responses import Response

from api.web.forms import (
    DIRECTIONS,
    EVIDENCE_TYPES,
    MODALITIES,
    PAGE_SIZE,
    STATUSES,
    ClaimFilterForm,
)
from api.web.workbench import Visit

CELL_PAGE_SIZE = 20
SEARCH_LIMIT = 50
# Where a search hit leads: its own page, or the claims list filtered by it.
_LIST_FILTER_OF_KIND = {
    "INTERVENTION": "intervention",
    "CONDITION": "condition",
    "OUTCOME": "outcome",
    "ORGANISM": "organism",
}


def _not_found(visit: Visit, what: str) -> Response:
    return visit.render("error.html", 404, title="Not found", message=what)


def _filter_choices(visit: Visit) -> dict[str, Any]:
    return {
        "directions": DIRECTIONS,
        "modalities": MODALITIES,
        "evidence_types": EVIDENCE_TYPES,
        # Readers see accepted claims only, so the status filter is for the signed-in.
        "statuses": STATUSES if visit.viewer else (),
    }


async def _claim_list(visit: Visit, form: ClaimFilterForm) -> dict[str, Any]:
    """A page of claims in two operations: their lines (which the API answers through its
    compiled read path, four times cheaper than its resolvers), then the marks of those claims
    (source standing, open flags), which only the resolvers build."""
    result = await visit.api.run("ClaimList", **form.page_variables())
    claims = result.data.get("claims")
    if claims and claims["nodes"]:
        marked = await visit.api.run("ClaimMarks", ids=[c["id"] for c in claims["nodes"]])
        marks = {m["id"]: m for m in marked.data.get("nodes") or [] if m}
        # A claim gone between the two reads (withdrawn, retracted) keeps unmarked lines.
        unmarked = {"sourceStanding": None, "openFlagCount": 0}
        claims["nodes"] = [{**unmarked, **c, **marks.get(c["id"], {})} for c in claims["nodes"]]
    return {"claims": claims, "list_errors": result.messages, "filters": form.values}


async def home(visit: Visit) -> Response:
    result = await visit.api.run("Home")
    return visit.render("home.html", title="Workbench", data=result.data)


def _summary_grid(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary's cells as rows (outcome, condition) with a count per direction, in the
    order the API gave them."""
    rows: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
    for cell in cells:
        condition = cell["condition"]
        key = (cell["outcome"]["id"], condition["id"] if condition else "")
        row = rows.setdefault(key, {"outcome": cell["outcome"], "condition": condition, "counts": {}})
        row["counts"][cell["direction"]] = cell["count"]
    return sorted(
        rows.values(), key=lambda r: (r["outcome"]["name"].lower(), (r["condition"] or {}).get("name", ""))
    )


async def target(visit: Visit) -> Response:
    name = visit.request.path_params["name"]
    form = ClaimFilterForm.read(visit.request.query_params, fixed={"target": name})
    listing = await _claim_list(visit, form)
    if visit.request.headers.get("hx-target") == "claims":
        return visit.render(
            "_claims.html", base_path=visit.request.url.path, **listing, **_filter_choices(visit)
        )
    result = await visit.api.run("TargetPage", symbol=name)
    found = result.data.get("target")
    if found is None:
        return _not_found(visit, f"No target is called '{name}'. Try the search.")
    summary = result.data["evidenceSummary"]
    return visit.render(
        "target.html",
        title=found["symbol"],
        target=found,
        summary=summary,
        grid=_summary_grid(summary["cells"]),
        base_path=visit.request.url.path,
        **listing,
        **_filter_choices(visit),
    )


async def target_conflicts(visit: Visit) -> Response:
    """A target's conflicts with their pairs side by side: a page, or the target page's section."""
    name = visit.request.path_params["name"]
    result = await visit.api.run("TargetConflicts", symbol=name)
    found = result.data.get("target")
    if found is None:
        return _not_found(visit, f"No target is called '{name}'. Try the search.")
    if visit.request.headers.get("hx-target") == "conflicts":
        return visit.render("_conflicts.html", target=found, with_pairs=True)
    return visit.render("target_conflicts.html", title=f"Conflicts: {found['symbol']}", target=found)


async def cell(visit: Visit) -> Response:
    """The claims counted in one cell of a target's evidence summary."""
    name = visit.request.path_params["name"]
    params = visit.request.query_params
    outcome, condition, direction = (
        params.get("outcome", ""),
        params.get("condition", ""),
        params.get("direction", ""),
    )
    if not outcome or direction not in DIRECTIONS:
        return _not_found(visit, "A cell is named by its outcome, condition and direction.")
    summary_filter: dict[str, Any] = {"outcome": outcome}
    if condition:
        summary_filter["condition"] = condition
    result = await visit.api.run(
        "EvidenceCell",
        symbol=name,
        filter=summary_filter,
        first=CELL_PAGE_SIZE,
        after=params.get("after") or None,
    )
    summary = result.data.get("evidenceSummary")
    if result.errors or not summary or summary["target"] is None:
        return _not_found(visit, "; ".join(result.messages) or f"No target is called '{name}'.")
    chosen = next(
        (
            c
            for c in summary["cells"]
            if c["direction"] == direction
            and c["outcome"]["name"] == outcome
            and ((c["condition"] or {}).get("name") or "") == condition
        ),
        None,
    )
    values = {"target": summary["target"], "outcome": outcome, "condition": condition, "direction": direction}
    if visit.request.headers.get("hx-target") == "cell-claims":
        return visit.render("_cell.html", cell=chosen, **values)
    return visit.render("cell.html", title=f"{summary['target']['symbol']}: {outcome}", cell=chosen, **values)


async def conflict(visit: Visit) -> Response:
    params = visit.request.query_params
    result = await visit.api.run(
        "ConflictPage", id=visit.request.path_params["id"], first=5, after=params.get("after") or None
    )
    node = result.data.get("node")
    if not node or node["__typename"] != "Conflict":
        return _not_found(visit, "There is no such conflict (any more).")
    return visit.render("conflict.html", title=f"Conflict: {node['target']['symbol']}", conflict=node)


async def claims(visit: Visit) -> Response:
    form = ClaimFilterForm.read(visit.request.query_params)
    listing = await _claim_list(visit, form)
    template = "_claims.html" if visit.request.headers.get("hx-target") == "claims" else "claims.html"
    return visit.render(
        template, title="Claims", base_path=visit.request.url.path, **listing, **_filter_choices(visit)
    )


async def claim(visit: Visit) -> Response:
    result = await visit.api.run("ClaimPage", id=visit.request.path_params["id"])
    node = result.data.get("node")
    if not node or node["__typename"] != "Claim":
        return _not_found(visit, "There is no claim with this ID that you may see.")
    revisions = (node.get("revisions") or {}).get("nodes", [])
    return visit.render(
        "claim.html",
        title="Claim",
        claim=node,
        chain=_chain(node["source"]),
        pending=[r for r in revisions if r["revisionStatus"] == "PENDING"],
        decided=[r for r in revisions if r["revisionStatus"] != "PENDING"],
        is_author=visit.viewer is not None and (node["createdBy"] or {}).get("id") == visit.viewer["id"],
    )


async def claim_conflicts(visit: Visit) -> Response:
    """The claims that oppose one claim: a page, or the claim page's section (htmx)."""
    result = await visit.api.run("ClaimConflicts", id=visit.request.path_params["id"])
    node = result.data.get("node")
    if not node or node["__typename"] != "Claim":
        return _not_found(visit, "There is no claim with this ID that you may see.")
    if visit.request.headers.get("hx-target") == "opposing":
        return visit.render("_opposing.html", claim=node, loaded=True)
    return visit.render("claim_conflicts.html", title="Opposing claims", claim=node)


def _chain(source: dict[str, Any]) -> list[dict[str, Any]]:
    """The source and each one it retells, up to the root (as far as the document reaches)."""
    chain = []
    current: dict[str, Any] | None = source
    while current is not None and "title" in current:
        chain.append(current)
        current = current.get("derivedFrom")
    if current is not None:  # the chain goes on beyond what one page asks for
        chain.append({"more": current["id"]})
    return chain


async def source(visit: Visit) -> Response:
    result = await visit.api.run("SourcePage", id=visit.request.path_params["id"])
    node = result.data.get("node")
    if not node or node["__typename"] != "Source":
        return _not_found(visit, "There is no such source.")
    return visit.render("source.html", title=node["title"], source=node, chain=_chain(node))


async def search(visit: Visit) -> Response:
    text = (visit.request.query_params.get("q") or "").strip()
    hits: list[dict[str, Any]] = []
    errors: list[str] = []
    if text:
        result = await visit.api.run("Search", text=text, first=SEARCH_LIMIT)
        hits, errors = result.data.get("search") or [], result.messages
    groups: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for kind in ("TARGET", "INTERVENTION", "CONDITION", "OUTCOME", "ORGANISM", "SOURCE", "CLAIM"):
        found = [h for h in hits if h["kind"] == kind]
        if found:
            groups[kind] = found
    return visit.render(
        "search.html",
        title=f"Search: {text}" if text else "Search",
        q=text,
        groups=groups,
        total=len(hits),
        errors=errors,
        list_filter=_LIST_FILTER_OF_KIND,
        page_size=PAGE_SIZE,
    )
