"""/releases/<name>/<file>: the files of the releases in CLAIMSDB_RELEASES_DIR.

Only files a release's manifest lists are served (api/releases/directory.py decides, plain names
only, inside the directory once links are followed). A release never changes once published, so
its files may be cached for a day; the ETag is their SHA-256 as the manifest records it."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from api.http.errors import json_error
from api.releases.directory import release_file

_MEDIA_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}
CACHE_CONTROL = "public, max-age=86400"


def release_routes(root: Path) -> list[Route]:
    async def serve(request: Request) -> Response:
        name, file = request.path_params["name"], request.path_params["file"]
        path = await anyio.to_thread.run_sync(release_file, root, name, file)
        if path is None:
            return json_error(404, f"release '{name}' has no file '{file}'", "NOT_FOUND")
        media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": CACHE_CONTROL})

    return [Route("/releases/{name}/{file}", serve, methods=["GET", "HEAD"])]
