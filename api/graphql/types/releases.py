"""Data releases (Query.releases, Query.release): what CLAIMSDB_RELEASES_DIR publishes, read from
each release's manifest. The files themselves are served at /releases/<name>/<file>."""

from __future__ import annotations

from datetime import datetime

import anyio.to_thread
import strawberry

from api.graphql.types.common import GraphQLInfo
from api.releases.directory import find_release, list_releases
from schema.releases import Manifest


@strawberry.type(description="A file of a release, served at /releases/<release name>/<file name>.")
class ReleaseFile:
    name: str
    sha256: str = strawberry.field(description="SHA-256 of the file's bytes, in hex.")
    bytes: int
    rows: int | None = strawberry.field(description="Records in the file; null for a file without rows.")


@strawberry.type(description="A published, versioned snapshot of the accepted claims and their context.")
class Release:
    name: str
    created_at: datetime
    schema_version: str = strawberry.field(description="The database schema revision it was made from.")
    claim_count: int
    files: list[ReleaseFile]

    @classmethod
    def from_manifest(cls, m: Manifest) -> Release:
        return cls(
            name=m.name,
            created_at=m.created_at,
            schema_version=m.schema_version,
            claim_count=m.claim_count,
            files=[ReleaseFile(name=f.name, sha256=f.sha256, bytes=f.bytes, rows=f.rows) for f in m.files],
        )


async def resolve_releases(info: GraphQLInfo) -> list[Release]:
    root = info.context.settings.releases_dir
    if root is None:
        return []
    manifests = await anyio.to_thread.run_sync(list_releases, root)
    return [Release.from_manifest(m) for m in manifests]


async def resolve_release(info: GraphQLInfo, name: str) -> Release | None:
    root = info.context.settings.releases_dir
    if root is None:
        return None
    manifest = await anyio.to_thread.run_sync(find_release, root, name)
    return None if manifest is None else Release.from_manifest(manifest)
