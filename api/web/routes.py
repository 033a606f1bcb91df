"""The workbench's routes, mounted by api/app.py: pages under /ui/, static files under
/ui/static/, and / redirecting to /ui/. Every answer under /ui/ carries the security headers."""

from __future__ import annotations

import strawberry
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings
from api.web import pages_read, pages_write
from api.web.assets import STATIC_DIR
from api.web.workbench import Workbench

UI_PATH = "/ui"

# No inline script or style anywhere: scripts and styles come from /ui/static only. htmx talks to
# the same origin (connect-src); forms post to it (form-action); no page may be framed.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every answer, and `Cache-Control: no-store` to pages (they may
    show drafts and who is signed in); static files keep their own caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(scope.get("root_path", "") + "/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    h for h in message.get("headers", []) if h[0].lower() != b"cache-control" or static
                ]
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def workbench_routes(settings: Settings, schema: strawberry.Schema) -> list[Route | Mount]:
    """The routes to add to the app: `/` and the `/ui` mount."""
    workbench = Workbench(settings, schema)
    page = workbench.endpoint
    read, write = pages_read, pages_write
    routes = [
        Route("/", page(read.home)),
        Route("/login", page(write.login), methods=["GET", "POST"]),
        Route("/logout", page(write.logout), methods=["POST"]),
        Route("/search", page(read.search)),
        Route("/suggest", page(write.suggest)),
        Route("/claims", page(read.claims)),
        Route("/claims/new", page(write.new_claim), methods=["GET", "POST"]),
        Route("/claims/{id}", page(read.claim)),
        Route("/claims/{id}/conflicts", page(read.claim_conflicts)),
        Route("/claims/{id}/edit", page(write.edit_claim), methods=["GET", "POST"]),
        Route("/claims/{id}/submit", page(write.submit_claim), methods=["POST"]),
        Route("/claims/{id}/review", page(write.review_claim), methods=["POST"]),
        Route("/claims/{id}/flag", page(write.flag_claim), methods=["POST"]),
        Route("/flags/{id}/resolve", page(write.resolve_flag), methods=["POST"]),
        Route("/revisions/{id}/review", page(write.review_revision), methods=["POST"]),
        Route("/revisions/{id}/withdraw", page(write.withdraw_revision), methods=["POST"]),
        Route("/review", page(write.review_queue)),
        Route("/sources/{id}", page(read.source)),
        Route("/conflicts/{id}", page(read.conflict)),
        Route("/targets/{name:path}/cell", page(read.cell)),
        Route("/targets/{name:path}/conflicts", page(read.target_conflicts)),
        Route("/targets/{name:path}", page(read.target)),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="ui-static"),
    ]

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = workbench.render(
            request, "error.html", 404, title="Not found", message="There is no such page."
        )
        await response(scope, receive, send)

    ui = SecurityHeaders(Router(routes=routes, default=not_found))

    async def to_ui(request: Request) -> Response:
        return RedirectResponse(request.scope.get("root_path", "") + UI_PATH + "/", status_code=307)

    return [Route("/", to_ui), Mount(UI_PATH, app=ui)]
