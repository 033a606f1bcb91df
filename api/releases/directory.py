"""The published releases: subdirectories of CLAIMSDB_RELEASES_DIR, each with its manifest.json.

A directory whose manifest is missing or unreadable is not a release (it may be one being
copied in); it is skipped with a warning rather than failing the whole listing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError

from schema.releases import CRATE_METADATA, MANIFEST, Manifest, is_plain_name

_log = logging.getLogger("claimsdb.releases")


class ReleaseError(Exception):
    """A release that cannot be read or does not hold what its manifest says; the message names
    the file and what is wrong."""


def read_manifest(directory: Path) -> Manifest:
    return read_manifest_file(directory / MANIFEST)


def read_manifest_file(path: Path) -> Manifest:
    """A manifest.json (or a copy of one kept elsewhere, as an anchor)."""
    directory = path.parent
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ReleaseError(f"{path}: no manifest; is {directory} a release directory?") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ReleaseError(f"{path}: not a release manifest ({where}: {first['msg']})") from None


def list_releases(root: Path) -> list[Manifest]:
    """Every readable release under `root`, newest first (then by name)."""
    if not root.is_dir():
        return []
    found: list[Manifest] = []
    for directory in root.iterdir():
        if not directory.is_dir() or not is_plain_name(directory.name):
            continue
        try:
            manifest = read_manifest(directory)
        except (ReleaseError, OSError) as exc:
            _log.warning("skipping %s: %s", directory, exc)
            continue
        if manifest.name == directory.name:
            found.append(manifest)
        else:
            _log.warning("skipping %s: its manifest names release '%s'", directory, manifest.name)
    found.sort(key=lambda m: m.name)
    found.sort(key=lambda m: m.created_at, reverse=True)
    return found


def find_release(root: Path, name: str) -> Manifest | None:
    if not is_plain_name(name) or not (root / name).is_dir():
        return None
    try:
        manifest = read_manifest(root / name)
    except (ReleaseError, OSError):
        return None
    return manifest if manifest.name == name else None


def release_file(root: Path, name: str, file: str) -> Path | None:
    """The path of a file a published release offers, or None: only files its manifest lists
    (and the manifest and RO-Crate metadata themselves), only plain names, and only inside
    `root` once every link is followed, so no request can read anything else."""
    if not (is_plain_name(name) and is_plain_name(file)):
        return None
    manifest = find_release(root, name)
    if manifest is None or (file not in (MANIFEST, CRATE_METADATA) and manifest.file(file) is None):
        return None
    path = (root / name / file).resolve()
    if not path.is_file() or not path.is_relative_to(root.resolve()):
        return None
    return path
