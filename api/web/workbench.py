"""What every page shares: the schema and its documents, the templates, the session, the API as
the visitor sees it, and the answers to failures (503 while the database is away, 403, 500, a
session whose token stopped working)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.graphql.internals import graphql_schema
from api.rate_limits import Budget, WriteBudgets
from api.settings import Settings
from api.store.db import Database
from api.web.assets import OWN, VENDORED
from api.web.client import Api, Failure, Forbidden, Outage, Result, SignedOut
from api.web.documents import Documents, FeatureMissing, load_documents
from api.web.features import detect
from api.web.render import environment, warm_up
from api.web.secret import SecretError, signing_key
from api.web.session import Session, SessionCodec, check_csrf

_log = logging.getLogger("claimsdb.web")
RETRY_AFTER_SECONDS = 5
ROLES = ("READER", "CURATOR", "REVIEWER", "ADMIN")


class BadForm(Exception):
    """A form post without a valid CSRF token (or none at all)."""


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        self.wait = wait


class Workbench:
    def __init__(self, settings: Settings, schema: strawberry.Schema) -> None:
        self.settings = settings
        self.schema = schema
        core = graphql_schema(schema)
        self.features = detect(core)
        self.documents: Documents = load_documents(core, self.features)
        self.templates = environment()
        self._codec: SessionCodec | None = None
        # The API's write budgets apply to the pages' writes too: the same budgets (in Redis when
        # configured) under the same keys, so a curator has one allowance for /graphql and /ui.
        # Failed sign-ins count against the address as failed authentication does on /graphql.
        rate, anonymous = settings.write_rate_per_minute, settings.anonymous_write_rate_per_minute
        self.budgets = WriteBudgets(settings.redis_url, settings.redis_key_prefix)
        self.writes = Budget("token", rate) if rate > 0 else None
        self.sign_ins = Budget("address", anonymous) if anonymous > 0 else None
        warm_up()

    def codec(self) -> SessionCodec:
        if self._codec is None:
            self._codec = SessionCodec(signing_key(self.settings), self.settings.ui_session_hours)
        return self._codec

    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "")
        values.setdefault("viewer", None)
        values.setdefault("flashes", [])
        values.setdefault("csrf", "")
        html = self.templates.get_template(template).render(
            url=lambda path="/": base + path,
            static=lambda name: f"{base}/static/{VENDORED.get(name) or OWN[name]}",
            features=self.features,
            request_path=request.url.path,
            partial=is_partial(request),
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def endpoint(
        self, handler: Callable[[Visit], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A Starlette endpoint running `handler` with the visit, and answering what goes wrong."""

        async def run(request: Request) -> Response:
            try:
                codec = self.codec()
            except SecretError as exc:
                _log.error("%s", exc)
                return self.render(request, "error.html", 500, title="Not configured", message=str(exc))
            session = codec.load(request)
            response: Response
            try:
                response = await self._visit(handler, request, session)
            except SignedOut as exc:
                session.sign_out()
                session.flash(f"You have been signed out: {exc}", "error")
                response = RedirectResponse(self._login_url(request), status_code=303)
            except Outage as exc:
                response = self.render(
                    request, "error.html", 503, title="Unavailable", message=f"{exc}. Try again shortly."
                )
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            except Forbidden as exc:
                response = self.render(request, "error.html", 403, title="Not allowed", message=str(exc))
            except FeatureMissing as exc:
                response = self.render(
                    request, "error.html", 404, title="Not available yet", message=str(exc)
                )
            except BadForm:
                response = self.render(
                    request,
                    "error.html",
                    403,
                    title="Form expired",
                    message="This form was not sent from a workbench page of this session (its CSRF "
                    "token is missing or out of date). Go back, reload the page and send it again.",
                )
            except RateLimited as exc:
                response = self.render(
                    request,
                    "error.html",
                    429,
                    title="Too many requests",
                    message=f"Too many changes or sign-in attempts; wait {exc.wait:.0f} s and try again.",
                )
                response.headers["Retry-After"] = str(max(1, round(exc.wait)))
            except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback, never shown
                if not isinstance(exc, Failure):
                    _log.exception("workbench page %s failed", request.url.path)
                response = self.render(
                    request, "error.html", 500, title="Something went wrong", message="Internal server error."
                )
            codec.save(request, response, session)
            return response

        return run

    async def _visit(
        self, handler: Callable[[Visit], Awaitable[Response]], request: Request, session: Session
    ) -> Response:
        db: Database = request.app.state.db
        api = await Api.open(self.schema, self.documents, db, self.settings, request, session.token)
        viewer = None
        if session.token is not None:
            viewer = (await api.run("Viewer")).data.get("viewer")
            if viewer is None:
                raise SignedOut("the API token is not valid any more")
        return await handler(Visit(self, request, session, api, viewer))

    @staticmethod
    def _login_url(request: Request) -> str:
        base = request.scope.get("root_path", "")
        back = request.url.path if request.method == "GET" else base + "/"
        return f"{base}/login?next={back}"


def is_partial(request: Request) -> bool:
    """An htmx request for a part of a page (never a history restore, which wants the page)."""
    return request.headers.get("hx-request") == "true" and "hx-history-restore-request" not in request.headers


@dataclass
class Visit:
    """One request to a page: who is asking, their session, and the API as they see it."""

    workbench: Workbench
    request: Request
    session: Session
    api: Api
    viewer: dict[str, Any] | None

    @property
    def features(self) -> frozenset[str]:
        return self.workbench.features

    def role_at_least(self, role: str) -> bool:
        return self.viewer is not None and ROLES.index(self.viewer["role"]) >= ROLES.index(role)

    def url(self, path: str = "/") -> str:
        return self.request.scope.get("root_path", "") + path

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        response = self.workbench.render(
            self.request,
            template,
            status,
            viewer=self.viewer,
            flashes=self.session.take_flashes(),
            csrf=self.session.csrf,
            **values,
        )
        response.headers["Vary"] = "HX-Request, Cookie"
        return response

    def redirect(self, path: str, message: str | None = None, kind: str = "info") -> Response:
        if message:
            self.session.flash(message, kind)
        return RedirectResponse(self.url(path), status_code=303)

    def sign_in_first(self) -> Response:
        self.session.flash("Sign in with your API token to continue.")
        return RedirectResponse(Workbench._login_url(self.request), status_code=303)

    async def form(self) -> FormData:
        """The posted form, after its CSRF token checks out."""
        form = await self.request.form()
        if not check_csrf(self.session, form.get("csrf")):
            raise BadForm()
        return form

    async def write(self, operation: str, **variables: Any) -> Result:
        """Run a mutation, charged to the viewer's write allowance as /graphql would charge it."""
        budget, budgets = self.workbench.writes, self.workbench.budgets
        if budget is not None and self.session.token is not None:
            # The key /graphql charges a token to (api/limits_http.py): its Authorization header.
            key = hashlib.sha256(b"Bearer " + self.session.token.encode()).hexdigest()
            if not await budgets.take(budget, key):
                raise RateLimited(max(1, (await budgets.standing(budget, key)).reset_seconds))
        return await self.api.run(operation, **variables)
