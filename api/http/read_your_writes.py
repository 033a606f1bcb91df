"""Read-your-writes across workers: the client carries the primary's WAL position of its last
write (api/store/replicas.py explains the choice).

`ReadYourWrites` (installed only when CLAIMSDB_READ_DATABASE_URLS is set) gives each request a
ReadRoute in its ASGI scope, holding the position the client sent: the `claimsdb_lsn` cookie
(browsers, the workbench, any client with a cookie jar) or the `X-Claimsdb-Lsn` header (clients
that keep the value themselves), the later of the two when both come. After a request that
wrote, the answer carries the new position the same two ways. Nothing is kept in the worker, so
the next request may go to any worker on any host.
"""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.store.replicas import ReadRoute, format_lsn, parse_lsn

ROUTE_KEY = "claimsdb.read_route"
LSN_COOKIE = "claimsdb_lsn"
LSN_HEADER = "X-Claimsdb-Lsn"
# How long a client keeps reading at least its own write. Replicas normally replay within
# milliseconds; past this the client may read a replica that is even further behind.
LSN_COOKIE_SECONDS = 300


def route_for(scope: Scope) -> ReadRoute | None:
    """The request's ReadRoute, or None when reads are not routed (no replicas configured)."""
    return scope.get(ROUTE_KEY)


def client_lsn(scope: Scope) -> int | None:
    """The latest WAL position the request carries (cookie or header), None without a valid one."""
    found: list[int] = []
    for key, value in scope.get("headers") or ():
        name = key.lower()
        if name == LSN_HEADER.lower().encode():
            lsn = parse_lsn(value.decode("latin-1"))
        elif name == b"cookie":
            lsn = parse_lsn(cookie_parser(value.decode("latin-1")).get(LSN_COOKIE))
        else:
            continue
        if lsn is not None:
            found.append(lsn)
    return max(found, default=None)


def _position_headers(scope: Scope, lsn: int) -> list[tuple[bytes, bytes]]:
    value = format_lsn(lsn)
    cookie = f"{LSN_COOKIE}={value}; Max-Age={LSN_COOKIE_SECONDS}; Path=/; HttpOnly; SameSite=Lax"
    if scope.get("scheme") == "https":
        cookie += "; Secure"
    return [(LSN_HEADER.lower().encode(), value.encode()), (b"set-cookie", cookie.encode())]


class ReadYourWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = ReadRoute(min_lsn=client_lsn(scope))
        scope[ROUTE_KEY] = route

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and route.wrote_lsn is not None:
                headers = [*(message.get("headers") or ()), *_position_headers(scope, route.wrote_lsn)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
