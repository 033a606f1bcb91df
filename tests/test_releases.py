"""Releases end to end: `release create` from one snapshot (files, manifest, RO-Crate), `release
verify` (a tampered file fails, named), `release load` into an EMPTY database only, and the round
trip: a mirror loaded from a release answers the public queries as the original does, apart from
global IDs. Plus `audit verify --anchor` against the head a release published."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from graphql_client import gql
from test_cli import ainvoke, assert_one_line_error

from api.releases.create import create_release
from api.releases.directory import ReleaseError
from api.releases.load import load_release
from api.releases.verify import verify_release
from api.settings import Settings
from api.store import migrations
from api.store.db import Database
from schema.releases import CRATE_METADATA, DATA_FILES, MANIFEST, Manifest
from schema.tables import AuditEvent

_CONTEXT = """
  statement direction modality evidenceType sampleType status sourceStanding
  subject { __typename ... on Target { symbol } ... on Intervention { name } }
  targets { symbol } outcome { name } organism { scientificName } condition { name }
  cohort { label size femaleCount sampleType treatmentStatus condition { name } }
  comparator { label size }
  statistics { effectSize effectMeasure pValue ciLow ciHigh }
  source { title doi pmid url kind year peerReviewed aiGenerated derivedFrom { title } }
  evidence { quote locator stance source { title } }
"""
QUERIES = {
    target: (
        f'{{ claims(filter: {{target: "{target}"}}, first: 100) {{ totalCount nodes {{ {_CONTEXT} }} }} }}'
    )
    for target in ("IL-6R", "MIF", "LIF")
}
QUERIES["conflicts"] = """{ conflicts(first: 20) { totalCount nodes { kind target { symbol } outcome { name }
  directionCounts { direction count }
  pairs(first: 20) { totalCount nodes { kind differences { aspect left right }
    left { statement } right { statement } } } } } }"""
QUERIES.update(
    {
        f"summary {target}": f"""{{ evidenceSummary(target: "{target}") {{ total target {{ symbol }}
          cells {{ direction count condition {{ name }} outcome {{ name }}
            claims(first: 20) {{ nodes {{ statement }} }} }} }} }}"""
        for target in ("IL-6R", "MIF", "LIF")
    }
)
_IDS = {"id", "cursor", "startCursor", "endCursor"}


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in _IDS}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


async def _answers(db: Database, settings: Settings) -> dict[str, Any]:
    return {name: _without_ids(await gql(db, settings, query)) for name, query in QUERIES.items()}


async def test_round_trip_through_a_release(
    settings: Settings, seeded_db: Database, empty_settings: Settings, tmp_path: Path
) -> None:
    release = tmp_path / "2026-12"
    manifest = await create_release(seeded_db, "2026-12", release, revision=None)
    assert manifest.claim_count > 0
    assert sorted(f.name for f in manifest.files) == sorted(DATA_FILES)
    assert verify_release(release)[1] == []

    await asyncio.to_thread(migrations.upgrade, empty_settings)  # a new, empty database
    mirror = Database(empty_settings)
    try:
        report = await load_release(mirror, release)
        assert report.claims == manifest.claim_count
        original, copied = await _answers(seeded_db, settings), await _answers(mirror, empty_settings)
        for name in QUERIES:
            assert copied[name] == original[name], name
        assert (
            original["IL-6R"]["claims"]["totalCount"] > 0
            and original["conflicts"]["conflicts"]["totalCount"] > 0
        )

        with pytest.raises(ReleaseError, match="empty database only"):
            await load_release(mirror, release)
    finally:
        await mirror.dispose()


async def test_manifest_and_crate(seeded_db: Database, tmp_path: Path) -> None:
    release = tmp_path / "r1"
    manifest = await create_release(seeded_db, "r1", release, revision="0" * 40)
    stored = Manifest.model_validate_json((release / MANIFEST).read_text())
    assert stored == manifest and stored.git_revision == "0" * 40 and stored.schema_version
    async with seeded_db.read() as session:
        last = (
            await session.execute(sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()))
        ).first()
    assert stored.audit_head is not None and (stored.audit_head.event_id, stored.audit_head.hash) == tuple(
        last
    )
    claims = stored.file("claims.jsonl")
    assert claims is not None and claims.rows == stored.claim_count

    from rocrate.rocrate import ROCrate

    crate = ROCrate(str(release))
    assert crate.root_dataset["name"] == "claimsdb release r1"
    parts = {e.id for e in crate.root_dataset["hasPart"]}
    assert parts >= set(DATA_FILES)
    raw = json.loads((release / CRATE_METADATA).read_text())
    assert raw["@context"] == "https://w3id.org/ro/crate/1.1/context"
    descriptor = next(e for e in raw["@graph"] if e["@id"] == CRATE_METADATA)
    assert descriptor["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    assert descriptor["about"] == {"@id": "./"}


async def test_cli_verify_names_a_tampered_file(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    release = tmp_path / "r2"
    result = await ainvoke(["release", "create", "r2", "--out", str(release)], settings)
    assert result.exit_code == 0, result.output
    ok = await ainvoke(["release", "verify", str(release)], settings)
    assert ok.exit_code == 0, ok.output
    with (release / "sources.jsonl").open("ab") as file:
        file.write(b'{"id": 999999, "kind": "BLOG_POST", "title": "inserted"}\n')
    bad = await ainvoke(["release", "verify", str(release)], settings)
    assert_one_line_error(bad, "sources.jsonl")
    # The same file, same size, one byte changed: the hash says so.
    (release / "sources.jsonl").unlink()
    data = bytearray((release / "claims.jsonl").read_bytes())
    data[10] ^= 0x01
    (release / "claims.jsonl").write_bytes(bytes(data))
    bad = await ainvoke(["release", "verify", str(release)], settings)
    assert bad.exit_code == 1 and "claims.jsonl" in bad.stderr and "sources.jsonl: missing" in bad.stderr


async def test_load_refuses_a_tampered_release_and_a_non_empty_database(
    settings: Settings, seeded_db: Database, tmp_path: Path
) -> None:
    release = tmp_path / "r3"
    await create_release(seeded_db, "r3", release)
    result = await ainvoke(["release", "load", str(release)], settings)
    assert_one_line_error(result, "empty database only")
    (release / "claims.csv").write_text("claim_key\n")
    result = await ainvoke(["release", "load", str(release)], settings)
    assert_one_line_error(result, "does not verify", "claims.csv")


async def test_create_refuses_bad_names_and_used_directories(seeded_db: Database, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="not a release name"):
        await create_release(seeded_db, "../x", tmp_path / "x")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not an empty directory"):
        await create_release(seeded_db, "r4", used)
    assert (used / "keep.txt").read_text() == "mine"


async def test_audit_anchor(settings: Settings, seeded_db: Database, tmp_path: Path) -> None:
    release = tmp_path / "r5"
    manifest = await create_release(seeded_db, "r5", release)
    assert manifest.audit_head is not None
    result = await ainvoke(["audit", "verify", "--anchor", str(release / MANIFEST)], settings)
    assert result.exit_code == 0, result.output

    # Someone with write access rewrites the anchored event and recomputes every hash after it:
    # the chain verifies, the published head does not.
    forged = json.loads((release / MANIFEST).read_text())
    forged["audit_head"]["hash"] = "f" * 64
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    result = await ainvoke(["audit", "verify", "--anchor", str(tmp_path / "forged.json")], settings)
    assert_one_line_error(result, f"audit event {manifest.audit_head.event_id}", "rewritten")

    forged["audit_head"]["event_id"] = manifest.audit_head.event_id + 10_000
    (tmp_path / "later.json").write_text(json.dumps(forged))
    result = await ainvoke(["audit", "verify", "--anchor", str(tmp_path / "later.json")], settings)
    assert_one_line_error(result, "is not in the log")
