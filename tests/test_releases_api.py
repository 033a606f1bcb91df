"""Releases over the API: Query.releases / release(name:) from CLAIMSDB_RELEASES_DIR, and their
files at /releases/<name>/<file>, with nothing else reachable through that path."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_graphql_http import body, client_for

from api.settings import Settings
from api.store.db import Database
from schema.releases import MANIFEST, Manifest, ManifestFile

RELEASES = "{ releases { name createdAt schemaVersion claimCount files { name sha256 bytes rows } } }"


def _publish(root: Path, name: str, when: datetime, data: bytes = b'{"statement": "x"}\n') -> Manifest:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "claims.jsonl").write_bytes(data)
    (directory / "unlisted.txt").write_text("not in the manifest")
    manifest = Manifest(
        name=name,
        created_at=when,
        schema_version="0006",
        claim_count=1,
        statuses=["ACCEPTED"],
        files=[
            ManifestFile(
                name="claims.jsonl",
                sha256=hashlib.sha256(data).hexdigest(),
                bytes=len(data),
                rows=1,
                media_type="application/x-ndjson",
            )
        ],
    )
    (directory / MANIFEST).write_text(manifest.model_dump_json())
    return manifest


@pytest.fixture
def releases_root(tmp_path: Path) -> Path:
    root = tmp_path / "releases"
    _publish(root, "2026-11", datetime(2026, 11, 30, tzinfo=UTC))
    _publish(root, "2026-12", datetime(2026, 12, 1, tzinfo=UTC), b'{"a": 1}\n{"b": 2}\n')
    (root / "not-a-release").mkdir()  # no manifest: skipped
    (tmp_path / "secret.txt").write_text("outside the releases directory")
    return root


async def test_releases_are_listed_newest_first(
    settings: Settings, db: Database, releases_root: Path
) -> None:
    configured = settings.model_copy(update={"releases_dir": releases_root})
    async with client_for(configured, db) as client:
        data = body(await client.post("/graphql", json={"query": RELEASES}))["data"]
        assert [r["name"] for r in data["releases"]] == ["2026-12", "2026-11"]
        newest = data["releases"][0]
        assert newest["schemaVersion"] == "0006" and newest["claimCount"] == 1
        assert newest["files"] == [
            {
                "name": "claims.jsonl",
                "sha256": hashlib.sha256(b'{"a": 1}\n{"b": 2}\n').hexdigest(),
                "bytes": 18,
                "rows": 1,
            }
        ]
        one = '{ release(name: "2026-11") { name createdAt } missing: release(name: "../2026-11") { name } }'
        data = body(await client.post("/graphql", json={"query": one}))["data"]
        assert data["release"] == {"name": "2026-11", "createdAt": "2026-11-30T00:00:00+00:00"}
        assert data["missing"] is None


async def test_no_releases_without_the_setting(settings: Settings, db: Database) -> None:
    async with client_for(settings, db) as client:
        data = body(await client.post("/graphql", json={"query": RELEASES}))["data"]
        assert data == {"releases": []}
        assert (await client.get("/releases/2026-11/claims.jsonl")).status_code == 404


async def test_release_files_are_served(settings: Settings, db: Database, releases_root: Path) -> None:
    configured = settings.model_copy(update={"releases_dir": releases_root})
    async with client_for(configured, db) as client:
        response = await client.get("/releases/2026-12/claims.jsonl")
        assert response.status_code == 200
        assert response.content == b'{"a": 1}\n{"b": 2}\n'
        assert response.headers["content-type"] == "application/x-ndjson"
        manifest = await client.get("/releases/2026-12/manifest.json")
        assert manifest.status_code == 200 and manifest.json()["name"] == "2026-12"


@pytest.mark.parametrize(
    "path",
    [
        "/releases/2026-12/unlisted.txt",  # in the directory, not in the manifest
        "/releases/2026-12/../secret.txt",
        "/releases/2026-12/..%2F..%2Fsecret.txt",
        "/releases/..%2Fsecret.txt/claims.jsonl",
        "/releases/%2E%2E/secret.txt",
        "/releases/2026-12/%2E%2E",
        "/releases/not-a-release/claims.jsonl",
        "/releases/2026-12/.hidden",
        "/releases/2026-12/claims.jsonl%00.txt",
    ],
)
async def test_no_path_leads_outside_a_release(
    settings: Settings, db: Database, releases_root: Path, path: str
) -> None:
    (releases_root / "2026-12" / ".hidden").write_text("hidden")
    configured = settings.model_copy(update={"releases_dir": releases_root})
    async with client_for(configured, db) as client:
        response = await client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert b"outside the releases" not in response.content and b"hidden" != response.content


async def test_a_link_out_of_the_releases_directory_is_not_followed(
    settings: Settings, db: Database, releases_root: Path
) -> None:
    manifest = Manifest.model_validate_json((releases_root / "2026-12" / MANIFEST).read_text())
    target = releases_root / "2026-12" / "claims.jsonl"
    target.unlink()
    target.symlink_to(releases_root.parent / "secret.txt")  # listed name, pointing outside
    assert manifest.file("claims.jsonl") is not None
    configured = settings.model_copy(update={"releases_dir": releases_root})
    async with client_for(configured, db) as client:
        assert (await client.get("/releases/2026-12/claims.jsonl")).status_code == 404
