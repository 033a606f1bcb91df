"""A data release: the manifest that describes it, and the names a release and its files may have.

A release is a directory: its data files (claims.jsonl, claims.csv, claims.parquet,
sources.jsonl, vocabulary.jsonl), `manifest.json` (this module's Manifest) and
`ro-crate-metadata.json`. The manifest is what the API lists, what `release verify` checks the
files against, and what `audit verify --anchor` reads the audit chain's head from.

Names are checked here, once, for everyone: a release name or file name becomes a path on disk
and part of a URL (/releases/<name>/<file>), so only plain names are allowed (no separators, no
"..", nothing hidden).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import IO

from pydantic import BaseModel, ConfigDict, Field

MANIFEST = "manifest.json"
CRATE_METADATA = "ro-crate-metadata.json"
# The manifest's own format; bump it when a field changes meaning.
MANIFEST_FORMAT = "claimsdb-release/1"

CLAIMS_JSONL = "claims.jsonl"
CLAIMS_CSV = "claims.csv"
CLAIMS_PARQUET = "claims.parquet"
SOURCES_JSONL = "sources.jsonl"
VOCABULARY_JSONL = "vocabulary.jsonl"
DATA_FILES = (CLAIMS_JSONL, CLAIMS_CSV, CLAIMS_PARQUET, SOURCES_JSONL, VOCABULARY_JSONL)

# Letters, digits, dot, dash and underscore; starting with a letter or digit (so never "." or
# ".." or a hidden file); at most 100 characters.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def release_name_problem(name: str) -> str | None:
    """Why `name` cannot name a release (or a file in one); None when it can."""
    if not _PLAIN_NAME.fullmatch(name) or ".." in name:
        return (
            f"'{name}' is not a release name: use 1-100 letters, digits, '.', '-' or '_', starting "
            "with a letter or digit (e.g. 2026-12 or v1.2)"
        )
    return None


def is_plain_name(name: str) -> bool:
    return release_name_problem(name) is None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestFile(_Model):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)
    rows: int | None = Field(default=None, ge=0)
    """Records in the file (claims, sources, vocabulary entries); None for a file without rows."""
    media_type: str


class AuditAnchor(_Model):
    """The audit chain's last event at the snapshot: publishing it pins the history before it."""

    event_id: int
    hash: str


class Manifest(_Model):
    format: str = MANIFEST_FORMAT
    name: str
    created_at: datetime
    schema_version: str
    """The database schema's migration revision the release was made from."""
    git_revision: str | None = None
    claim_count: int = Field(ge=0)
    statuses: list[str]
    """The claim statuses the release holds (ACCEPTED by default)."""
    audit_head: AuditAnchor | None = None
    """None when the audit log was empty."""
    files: list[ManifestFile]

    def file(self, name: str) -> ManifestFile | None:
        return next((f for f in self.files if f.name == name), None)


def sha256_of(stream: IO[bytes], chunk: int = 1 << 20) -> tuple[str, int]:
    """The SHA-256 (hex) and length of everything left in `stream`, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(chunk):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size
