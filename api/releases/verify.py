"""`claimsdb release verify DIR`: every file the manifest lists is there, with the SHA-256, size and
row count the manifest records. A release copied, mirrored or downloaded can be checked before
anyone relies on it (and `release load` checks it before loading)."""

from __future__ import annotations

import csv
from pathlib import Path

from api.releases.directory import read_manifest
from schema.flat import CLAIM_KEY
from schema.releases import Manifest, ManifestFile, is_plain_name, sha256_of


def count_rows(path: Path) -> int:
    """Records in a release file: lines of JSON Lines, claims (distinct consecutive keys) of a
    CSV, rows of a Parquet file (from its footer)."""
    if path.suffix == ".jsonl":
        with path.open("rb") as file:
            return sum(1 for line in file if line.strip())
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            count, previous = 0, None
            for row in reader:
                if row[CLAIM_KEY] != previous:
                    count, previous = count + 1, row[CLAIM_KEY]
            return count
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    raise ValueError(f"no row count for {path.name}")


def _file_problem(directory: Path, listed: ManifestFile) -> str | None:
    if not is_plain_name(listed.name):
        return f"{listed.name}: not a plain file name; the manifest is not to be trusted"
    path = directory / listed.name
    if not path.is_file():
        return f"{listed.name}: missing"
    with path.open("rb") as file:
        digest, size = sha256_of(file)
    if size != listed.bytes:
        return f"{listed.name}: {size} bytes, the manifest says {listed.bytes}"
    if digest != listed.sha256:
        return f"{listed.name}: SHA-256 {digest} differs from the manifest's {listed.sha256}"
    if listed.rows is not None:
        try:
            rows = count_rows(path)
        except (ValueError, OSError, csv.Error, UnicodeDecodeError, KeyError) as exc:
            return f"{listed.name}: cannot be read ({exc})"
        if rows != listed.rows:
            return f"{listed.name}: {rows} rows, the manifest says {listed.rows}"
    return None


def verify_release(directory: Path) -> tuple[Manifest, list[str]]:
    """The manifest, and one problem per file that does not match it (empty: the release holds)."""
    manifest = read_manifest(directory)
    problems = [p for f in manifest.files if (p := _file_problem(directory, f)) is not None]
    return manifest, problems
