"""Vendored assets (api/static: GraphiQL's 3.5 MB bundle and its companions), cached for a year
and sent gzipped.

Every served path names its package's version (`graphiql@3.8.3/...`), so a file at a path never
changes: `Cache-Control: public, max-age=31536000, immutable` lets a browser (or a CDN) keep it
without asking again. A client that accepts gzip gets the file compressed once per process at the
highest level (the bundle: 3.5 MB → 0.7 MB) and kept in memory, with an ETag of its own, so
no request pays for compressing it again.
"""

from __future__ import annotations

import gzip
import os
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
MIN_COMPRESSED_BYTES = 1024
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


def accepts_gzip(headers: Headers) -> bool:
    for coding in headers.get("accept-encoding", "").split(","):
        name, _, params = coding.partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class CachedStaticFiles(StaticFiles):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # (path, mtime, size) -> the gzipped file; one entry per vendored file.
        self._gzipped: dict[tuple[str, float, int], bytes] = {}

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code not in (200, 304):
            return response
        response.headers["Cache-Control"] = IMMUTABLE
        if not isinstance(response, FileResponse) or response.status_code != 200:
            return response
        media_type = response.media_type or ""
        stat = response.stat_result
        if stat is None or not media_type.startswith(_COMPRESSIBLE) or stat.st_size < MIN_COMPRESSED_BYTES:
            return response
        request_headers = Headers(scope=scope)
        if "range" in request_headers or not accepts_gzip(request_headers):
            return response  # GZipMiddleware (layers.py) adds its Vary: Accept-Encoding
        etag = response.headers["etag"][:-1] + '-gzip"'
        headers = {
            "Cache-Control": IMMUTABLE,
            "ETag": etag,
            "Last-Modified": response.headers["last-modified"],
            "Vary": "Accept-Encoding",
        }
        if_none_match = request_headers.get("if-none-match", "")
        if etag in (tag.strip().removeprefix("W/") for tag in if_none_match.split(",")):
            return Response(status_code=304, headers=headers)
        body = await self._compressed(str(response.path), stat)
        headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=media_type, headers=headers)

    async def _compressed(self, full_path: str, stat: os.stat_result) -> bytes:
        key = (full_path, stat.st_mtime, stat.st_size)
        body = self._gzipped.get(key)
        if body is None:
            body = await anyio.to_thread.run_sync(_gzip_file, full_path)
            for stale in [k for k in self._gzipped if k[0] == full_path]:
                del self._gzipped[stale]
            self._gzipped[key] = body
        return body


def _gzip_file(path: str) -> bytes:
    with open(path, "rb") as file:
        return gzip.compress(file.read(), compresslevel=9, mtime=0)
