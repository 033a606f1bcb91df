"""HTTP caching of GraphQL answers.

A GET query of an anonymous reader that succeeded (status 200, no errors) is the same for every
anonymous reader until the data changes: it gets a weak ETag (the body may be gzipped on the
way out) and `Cache-Control: public, max-age=N` (CLAIMSDB_HTTP_CACHE_MAX_AGE; 0 means `public,
no-cache`: cache, but ask every time), and a request whose `If-None-Match` names that ETag is
answered 304 without a body. `Vary: Accept, Authorization` keeps a shared cache from handing an
anonymous answer to a client with a token, or one media type to a client asking for the other.

Everything else is never stored by a shared cache: an answer to a request with a token (drafts
and other private claims) is `private, no-store`, and POST answers (mutations, and queries
sent as POST) and answers with errors are `no-store`.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

NO_STORE = "no-store"
PRIVATE = "private, no-store"
_KEPT_ON_304 = ("etag", "cache-control", "vary")


def etag_for(media_type: str, body: bytes) -> str:
    digest = hashlib.blake2b(media_type.encode() + b"\n", digest_size=16)
    digest.update(body)
    return f'W/"{digest.hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2), as If-None-Match uses."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def public_cache_control(max_age: int) -> str:
    return f"public, max-age={max_age}" if max_age > 0 else "public, no-cache"


def apply_cache_policy(request: Request, response: Response, *, cacheable: bool, max_age: int) -> Response:
    """Cache headers on a GraphQL answer (see the module docstring); a 304 when the client has it."""
    response.headers.add_vary_header("Accept")
    response.headers.add_vary_header("Authorization")
    if "authorization" in request.headers:
        response.headers["Cache-Control"] = PRIVATE
        return response
    if request.method != "GET" or not cacheable:
        response.headers["Cache-Control"] = NO_STORE
        return response
    media_type = response.headers.get("content-type", "")
    etag = etag_for(media_type, bytes(response.body))
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = public_cache_control(max_age)
    if etag_matches(request.headers.get("if-none-match"), etag):
        kept = {
            name: response.headers[name]
            for name in ("etag", "cache-control", "vary")
            if name in response.headers
        }
        return Response(status_code=304, headers=kept)
    return response
