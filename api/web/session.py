"""The workbench's session: a signed cookie holding the visitor's API token, a CSRF token and the
messages to show on the next page.

The cookie is HttpOnly (no script reads the token), SameSite=Strict (no other site's page sends
it), Secure when the page came over HTTPS, scoped to /ui, and signed with the site's key
(secret.py; itsdangerous), so it cannot be forged or altered. It expires `ui_session_hours` after
sign-in whatever happens in between. The token is checked against the database on every request
(api/graphql/context.py), so a revoked token ends the session at once.

Every form that changes something carries the session's CSRF token; `check_csrf` compares it in
constant time. Read-only GET forms (search, filters) carry none: their URLs are meant to be
shared, and a token in a URL would leak.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "claimsdb_ui"
_SALT = "claimsdb.web.session"


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None
    signed_in_at: float | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)
    changed: bool = True  # whether the cookie must be (re)written

    def flash(self, message: str, kind: str = "info") -> None:
        self.flashes.append((kind, message))
        self.changed = True

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        if taken:
            self.changed = True
        return taken

    def sign_in(self, token: str) -> None:
        """A new session for `token`, with a new CSRF token (none from before sign-in survives)."""
        self.token = token
        self.signed_in_at = time.time()
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def sign_out(self) -> None:
        self.token = None
        self.signed_in_at = None
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True


class SessionCodec:
    def __init__(self, key: str, hours: float) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt=_SALT)
        self.max_age = int(hours * 3600)

    def load(self, request: Request) -> Session:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return Session()
        try:
            data: Any = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # forged, altered, signed with another key, or expired
            return Session()
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return Session()
        session = Session(csrf=data["c"], changed=False)
        token, since = data.get("t"), data.get("s")
        if isinstance(token, str) and isinstance(since, int | float) and time.time() - since < self.max_age:
            session.token, session.signed_in_at = token, float(since)
        elif token is not None:  # the sign-in is older than a session may live
            session.changed = True
        flashes = data.get("f")
        if isinstance(flashes, list):
            session.flashes = [(str(k), str(m)) for k, m in flashes if isinstance(m, str)][:5]
        return session

    def save(self, request: Request, response: Response, session: Session) -> None:
        if not session.changed:
            return
        data: dict[str, Any] = {"c": session.csrf}
        if session.token is not None:
            data["t"], data["s"] = session.token, session.signed_in_at
        if session.flashes:
            data["f"] = session.flashes
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(data),
            max_age=self.max_age,
            path=request.scope.get("root_path") or "/ui",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )


def check_csrf(session: Session, submitted: object) -> bool:
    return isinstance(submitted, str) and hmac.compare_digest(submitted.encode(), session.csrf.encode())
