"""`claimsdb release create NAME --out DIR`: every file of a release from ONE snapshot of the
database (Database.snapshot: REPEATABLE READ on PostgreSQL, one read transaction on SQLite), so
the claims, their sources, the vocabulary, the counts and the audit head all describe the same
moment; writes arriving meanwhile are in the next release, not half in this one.

The directory is written beside DIR under a temporary name and renamed into place at the end:
a failed or interrupted release leaves no directory that looks like a release."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from api.exports import MEDIA_TYPES, write_claims, write_jsonl
from api.releases.crate import crate_metadata
from api.releases.directory import ReleaseError
from api.settings import PROJECT_ROOT
from api.store.db import Database
from api.store.export import (
    audit_head,
    count_claims,
    schema_revision,
    source_records,
    vocabulary_records,
)
from schema.base import utcnow
from schema.enums import ClaimStatus
from schema.releases import (
    CLAIMS_CSV,
    CLAIMS_JSONL,
    CLAIMS_PARQUET,
    CRATE_METADATA,
    MANIFEST,
    SOURCES_JSONL,
    VOCABULARY_JSONL,
    AuditAnchor,
    Manifest,
    ManifestFile,
    release_name_problem,
    sha256_of,
)

_CLAIM_FILES = ((CLAIMS_JSONL, "jsonl"), (CLAIMS_CSV, "csv"), (CLAIMS_PARQUET, "parquet"))


def git_revision(root: Path = PROJECT_ROOT) -> str | None:
    """The commit the code runs from, when it runs from a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and len(revision) == 40 else None


def _described(path: Path, rows: int | None, media_type: str) -> ManifestFile:
    with path.open("rb") as file:
        digest, size = sha256_of(file)
    return ManifestFile(name=path.name, sha256=digest, bytes=size, rows=rows, media_type=media_type)


async def _one_chunk(records: list[dict[str, Any]]) -> AsyncIterator[list[dict[str, Any]]]:
    yield records


async def create_release(
    db: Database,
    name: str,
    out: Path,
    *,
    statuses: Sequence[ClaimStatus] = (ClaimStatus.ACCEPTED,),
    revision: str | None = None,
) -> Manifest:
    problem = release_name_problem(name)
    if problem is not None:
        raise ReleaseError(problem)
    partial = _prepare(out)
    try:
        manifest = await _write(db, name, partial, statuses, revision)
        _move_into_place(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return manifest


def _prepare(out: Path) -> Path:
    """The temporary directory the release is written in, beside `out` (which must be new or empty)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(f"{out} already exists and is not an empty directory; choose another --out")
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def _move_into_place(partial: Path, out: Path) -> None:
    if out.exists():
        out.rmdir()  # empty, as _prepare checked
    partial.rename(out)


async def _write(
    db: Database, name: str, directory: Path, statuses: Sequence[ClaimStatus], revision: str | None
) -> Manifest:
    files: list[ManifestFile] = []
    async with db.snapshot() as session:
        created_at = utcnow()
        head = await audit_head(session)
        claim_count = await count_claims(session, statuses)
        for file_name, fmt in _CLAIM_FILES:
            path = directory / file_name
            with path.open("wb") as file:
                written = await write_claims(fmt, session, statuses, file)
            files.append(_described(path, written, MEDIA_TYPES[fmt]))
        path = directory / SOURCES_JSONL
        with path.open("wb") as file:
            written = await write_jsonl(source_records(session), file)
        files.append(_described(path, written, MEDIA_TYPES["jsonl"]))
        vocabulary = await vocabulary_records(session)
        path = directory / VOCABULARY_JSONL
        with path.open("wb") as file:
            written = await write_jsonl(_one_chunk(vocabulary), file)
        files.append(_described(path, written, MEDIA_TYPES["jsonl"]))
        schema_version = await schema_revision(session)
    manifest = Manifest(
        name=name,
        created_at=created_at,
        schema_version=schema_version,
        git_revision=revision,
        claim_count=claim_count,
        statuses=[s.value for s in statuses],
        audit_head=AuditAnchor(event_id=head[0], hash=head[1]) if head else None,
        files=files,
    )
    manifest_bytes = orjson.dumps(manifest.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"
    (directory / MANIFEST).write_bytes(manifest_bytes)
    crate = crate_metadata(manifest, len(manifest_bytes))
    (directory / CRATE_METADATA).write_bytes(orjson.dumps(crate, option=orjson.OPT_INDENT_2) + b"\n")
    return manifest
