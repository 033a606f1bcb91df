"""The pages that change things: sign-in, curation (new claim, edit, submit, typeahead), the
review queue and its decisions, flags and revisions. Every change is a mutation of the API; its
userErrors are shown next to the fields they name, and nothing here decides what is allowed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response

from api.web.forms import (
    CLAIM_FIELDS,
    DIRECTIONS,
    EDITABLE,
    EVIDENCE_TYPES,
    MODALITIES,
    STANCES,
    TYPEAHEAD,
    FieldErrors,
    claim_form_values,
    create_input,
    form_values,
    update_input,
)
from api.web.workbench import RateLimited, Visit

SUGGESTIONS = 8
QUEUE_PAGE_SIZE = 20


def _client_address(visit: Visit) -> str:
    client = visit.request.client
    return client.host if client else "unknown"


def _safe_next(visit: Visit, target: str | None) -> str:
    """Where to go after signing in: a path of the workbench, never another site."""
    base = visit.url("")
    if not target:
        return base + "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(base + "/") or "\\" in target:
        return base + "/"
    return target


# --- sign-in ----------------------------------------------------------------------------------------


async def login(visit: Visit) -> Response:
    next_path = _safe_next(visit, visit.request.query_params.get("next"))
    if visit.request.method == "GET":
        return visit.render("login.html", title="Sign in", next=next_path, error=None)
    form = await visit.form()
    next_path = _safe_next(visit, str(form.get("next") or ""))
    token = str(form.get("token") or "").strip()
    budget, budgets = visit.workbench.sign_ins, visit.workbench.budgets
    address = _client_address(visit)
    if budget is not None and not await budgets.has_room(budget, address):
        raise RateLimited(max(1, (await budgets.standing(budget, address)).reset_seconds))
    error = None
    if not token:
        error = "Enter your API token (claimsdb users add NAME --role curator prints one)."
    else:
        from api.web.client import Api, SignedOut

        try:
            probe = await Api.open(
                visit.workbench.schema,
                visit.workbench.documents,
                visit.request.app.state.db,
                visit.workbench.settings,
                visit.request,
                token,
            )
            viewer = (await probe.run("Viewer")).data.get("viewer")
        except SignedOut:
            viewer = None
        if viewer is None:
            error = "This API token is not valid (unknown, revoked, or its user deactivated)."
            if budget is not None:
                await budgets.take(budget, address)
        else:
            visit.session.sign_in(token)
            return visit.redirect(next_path.removeprefix(visit.url("")), f"Signed in as {viewer['name']}.")
    return visit.render("login.html", 401, title="Sign in", next=next_path, error=error)


async def logout(visit: Visit) -> Response:
    await visit.form()
    visit.session.sign_out()
    return visit.redirect("/", "Signed out.")


# --- typeahead ----------------------------------------------------------------------------------------


async def suggest(visit: Visit) -> Response:
    """Names for a curation field from Query.search (htmx swaps them under the field)."""
    field = visit.request.query_params.get("field", "")
    kind = TYPEAHEAD.get(field)
    text = (visit.request.query_params.get(field) or "").strip() if kind else ""
    hits: list[dict[str, Any]] = []
    if text:
        result = await visit.api.run("Search", text=text, kinds=[kind], first=SUGGESTIONS)
        hits = [{**hit, "fill": _fill_value(hit)} for hit in result.data.get("search") or []]
    return visit.render(
        "_suggest.html", field=field, label=CLAIM_FIELDS.get(field, ("", ""))[0], hits=hits, text=text
    )


def _fill_value(hit: dict[str, Any]) -> str:
    """What a chosen suggestion writes into its field: a name the API resolves exactly."""
    node = hit["node"]
    if hit["kind"] == "SOURCE":
        return node.get("doi") or (node.get("pmid") and str(node["pmid"])) or node["id"]
    return hit["label"]


# --- new claim, edit, submit ----------------------------------------------------------------------------


def _curate_values(visit: Visit, **values: Any) -> dict[str, Any]:
    return {
        "fields": CLAIM_FIELDS,
        "typeahead": TYPEAHEAD,
        "directions": DIRECTIONS,
        "modalities": MODALITIES,
        "evidence_types": EVIDENCE_TYPES,
        "stances": STANCES,
        **values,
    }


async def new_claim(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    if visit.request.method == "GET":
        values = dict.fromkeys(CLAIM_FIELDS, "")
        values.update(organism="Homo sapiens", modality="ASSERTED")
        return visit.render(
            "curate.html",
            **_curate_values(visit, title="New claim", values=values, errors=FieldErrors(), claim=None),
        )
    form = await visit.form()
    errors = FieldErrors()
    data = create_input(form, errors)
    submit = form.get("action") == "submit"
    if not errors:
        if submit:
            data["submit"] = True
        result = await visit.write("CreateClaim", input=data)
        payload = result.data.get("createClaim") or {}
        for message in result.messages:
            errors.add(None, message)
        errors.add_user_errors(payload.get("userErrors") or [])
        created = payload.get("claim")
        if created and not errors:
            said = "submitted for review" if created["status"] == "SUBMITTED" else "saved as a draft"
            return visit.redirect(f"/claims/{created['id']}", f"Claim {said}.")
    return visit.render(
        "curate.html",
        422,
        **_curate_values(visit, title="New claim", values=form_values(form), errors=errors, claim=None),
    )


async def edit_claim(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    claim_id = visit.request.path_params["id"]
    loaded = await visit.api.run("EditClaim", id=claim_id)
    claim = loaded.data.get("node")
    if not claim or claim["__typename"] != "Claim":
        return visit.render(
            "error.html", 404, title="Not found", message="There is no claim with this ID that you may see."
        )
    current = claim_form_values(claim)
    if visit.request.method == "GET":
        return visit.render(
            "curate.html",
            **_curate_values(visit, title="Edit claim", values=current, errors=FieldErrors(), claim=claim),
        )
    form = await visit.form()
    errors = FieldErrors()
    expected = str(form.get("version") or "")
    if not expected.isdigit():
        errors.add(None, "The form lost the version it was opened at; reload the page.")
    changes = update_input(form, current)
    quote = str(form.get("quote_new") or "").strip()
    submit = form.get("action") == "submit"
    outcome_message = None
    version = int(expected) if expected.isdigit() else 0
    if not errors and changes:
        comment = str(form.get("comment") or "").strip() or None
        result = await visit.write(
            "UpdateClaim", input={"id": claim_id, "expectedVersion": version, **changes, "comment": comment}
        )
        payload = result.data.get("updateClaim") or {}
        for message in result.messages:
            errors.add(None, message)
        errors.add_user_errors(payload.get("userErrors") or [])
        if payload.get("revision"):
            outcome_message = (
                "Your change is waiting for a reviewer; readers see the accepted version until then."
            )
        elif payload.get("claim"):
            version = payload["claim"]["version"]
            outcome_message = "Changes saved."
    if not errors and quote:
        evidence = {"quote": quote}
        if locator := str(form.get("locator_new") or "").strip():
            evidence["locator"] = locator
        result = await visit.write(
            "AddEvidence", input={"claim": claim_id, "expectedVersion": version, "evidence": evidence}
        )
        payload = result.data.get("addEvidence") or {}
        for message in result.messages:
            errors.add(None, message)
        for error in payload.get("userErrors") or []:
            path = ".".join(p for p in error.get("field") or [] if p != "input")
            errors.add(
                {"evidence.quote": "quote_new", "evidence.locator": "locator_new"}.get(path), error["message"]
            )
        if payload.get("claim") and not payload.get("revision"):
            version = payload["claim"]["version"]
        outcome_message = outcome_message or "Quote added."
    if not errors and submit:
        result = await visit.write("SubmitClaim", input={"id": claim_id, "expectedVersion": version})
        payload = result.data.get("submitClaim") or {}
        for message in result.messages:
            errors.add(None, message)
        errors.add_user_errors(payload.get("userErrors") or [])
        outcome_message = "Claim submitted for review."
    if not errors:
        return visit.redirect(f"/claims/{claim_id}", outcome_message or "Nothing was changed.")
    values = {**current, **{k: str(form.get(k) or "").strip() for k in EDITABLE}}
    values.update(
        comment=str(form.get("comment") or ""),
        quote_new=quote,
        locator_new=str(form.get("locator_new") or ""),
    )
    return visit.render(
        "curate.html",
        422,
        **_curate_values(visit, title="Edit claim", values=values, errors=errors, claim=claim),
    )


async def submit_claim(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    form = await visit.form()
    claim_id = visit.request.path_params["id"]
    version = str(form.get("version") or "")
    result = await visit.write(
        "SubmitClaim", input={"id": claim_id, "expectedVersion": int(version) if version.isdigit() else 0}
    )
    problems = result.messages + [
        e["message"] for e in (result.data.get("submitClaim") or {}).get("userErrors") or []
    ]
    if problems:
        return visit.redirect(f"/claims/{claim_id}", " ".join(problems), "error")
    return visit.redirect(f"/claims/{claim_id}", "Claim submitted for review.")


# --- the review queue -------------------------------------------------------------------------------------


async def review_queue(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    after = visit.request.query_params.get("after") or None
    target = (visit.request.query_params.get("target") or "").strip()
    if "review_queue" in visit.features:
        queue_filter = {"target": target} if target else None
        result = await visit.api.run("ReviewQueue", filter=queue_filter, first=QUEUE_PAGE_SIZE, after=after)
        queue = result.data.get("reviewQueue")
    else:
        result = await visit.api.run("ReviewQueueClaims", first=QUEUE_PAGE_SIZE, after=after)
        queue = result.data.get("claims")
        if queue is not None:
            queue = {**queue, "nodes": [{**n, "__typename": "Claim"} for n in queue["nodes"]]}
    return visit.render(
        "review.html",
        title="Review queue",
        queue=queue,
        target=target,
        errors=result.messages,
        is_reviewer=visit.role_at_least("REVIEWER"),
    )


async def review_claim(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    form = await visit.form()
    claim_id = visit.request.path_params["id"]
    decision = str(form.get("decision") or "")
    version = str(form.get("version") or "")
    comment = str(form.get("comment") or "").strip() or None
    result = await visit.write(
        "ReviewClaim",
        input={
            "id": claim_id,
            "expectedVersion": int(version) if version.isdigit() else 0,
            "decision": decision,
            "comment": comment,
        },
    )
    problems = result.messages + [
        e["message"] for e in (result.data.get("reviewClaim") or {}).get("userErrors") or []
    ]
    back = str(form.get("back") or "/review")
    back = back if back in ("/review", f"/claims/{claim_id}") else "/review"
    if problems:
        return visit.redirect(back, " ".join(problems), "error")
    word = {"ACCEPT": "accepted", "REJECT": "rejected", "REQUEST_CHANGES": "sent back for changes"}.get(
        decision, "decided"
    )
    return visit.redirect(back, f"Claim {word}.")


async def review_revision(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    form = await visit.form()
    revision_id = visit.request.path_params["id"]
    decision = str(form.get("decision") or "")
    comment = str(form.get("comment") or "").strip() or None
    result = await visit.write(
        "ReviewRevision", input={"id": revision_id, "decision": decision, "comment": comment}
    )
    payload = result.data.get("reviewRevision") or {}
    problems = result.messages + [e["message"] for e in payload.get("userErrors") or []]
    back = str(form.get("back") or "/review")
    if not back.startswith("/claims/"):
        back = "/review"
    if problems:
        return visit.redirect(back, " ".join(problems), "error")
    return visit.redirect(back, "Revision accepted." if decision == "ACCEPT" else "Revision rejected.")


async def withdraw_revision(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    form = await visit.form()
    result = await visit.write("WithdrawRevision", input={"id": visit.request.path_params["id"]})
    payload = result.data.get("withdrawRevision") or {}
    problems = result.messages + [e["message"] for e in payload.get("userErrors") or []]
    back = str(form.get("back") or "/review")
    if not back.startswith("/claims/"):
        back = "/review"
    if problems:
        return visit.redirect(back, " ".join(problems), "error")
    return visit.redirect(back, "Revision withdrawn.")


# --- flags ------------------------------------------------------------------------------------------------


async def flag_claim(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    form = await visit.form()
    claim_id = visit.request.path_params["id"]
    result = await visit.write(
        "FlagClaim", input={"claim": claim_id, "comment": str(form.get("comment") or "").strip()}
    )
    payload = result.data.get("flagClaim") or {}
    problems = result.messages + [e["message"] for e in payload.get("userErrors") or []]
    if problems:
        return visit.redirect(f"/claims/{claim_id}", " ".join(problems), "error")
    return visit.redirect(f"/claims/{claim_id}", "Flag raised; a reviewer will look at it.")


async def resolve_flag(visit: Visit) -> Response:
    if visit.viewer is None:
        return visit.sign_in_first()
    form = await visit.form()
    claim_id = str(form.get("claim") or "")
    result = await visit.write(
        "ResolveFlag",
        input={"id": visit.request.path_params["id"], "comment": str(form.get("comment") or "").strip()},
    )
    payload = result.data.get("resolveFlag") or {}
    problems = result.messages + [e["message"] for e in payload.get("userErrors") or []]
    back = f"/claims/{claim_id}" if claim_id else "/"
    if problems:
        return visit.redirect(back, " ".join(problems), "error")
    return visit.redirect(back, "Flag resolved.")
