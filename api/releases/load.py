"""`claimsdb release load DIR`: fill an EMPTY database from a release, so that a mirror answers the
public queries as the original does.

Refused unless the release verifies (every hash and count) and the database holds no claims,
sources or vocabulary: loading into a database that has data of its own would mix the two, and
names in the release could then mean other rows. Everything goes in through the same doors as
any other data: the vocabulary through the vocabulary commands (as the seeds do), sources and
claims through the bulk import (api/store/bulk.py) and its validator, in one transaction, audited
(one event per chunk with a digest of its claims), entered as the `release` user. The release's
claims keep the status the release gives them (ACCEPTED): they were reviewed where they came
from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from api.releases.directory import ReleaseError
from api.releases.verify import verify_release
from api.store.bulk import DEFAULT_BATCH, batches, bulk_import
from api.store.commands.users import system_user
from api.store.db import Database
from api.store.export import holds_data
from api.store.seeding import SeedReport, VocabularyFile, load_vocabulary
from schema.enums import ClaimStatus, Role
from schema.releases import CLAIMS_JSONL, SOURCES_JSONL, VOCABULARY_JSONL
from schema.users import Actor

RELEASE_USER = "release"


@dataclass
class LoadReport:
    vocabulary: int = 0
    sources: int = 0
    claims: int = 0


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ReleaseError(f"{path.name} line {number}: not JSON ({exc})") from None


def _vocabulary(path: Path) -> VocabularyFile:
    lists: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for number, entry in _lines(path):
        kind = entry.pop("vocabulary", None)
        if kind not in VocabularyFile.model_fields:
            raise ReleaseError(f"{path.name} line {number}: 'vocabulary' must name a list, got {kind!r}")
        lists[kind].append(entry)
    try:
        return VocabularyFile.model_validate(lists)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ReleaseError(f"{path.name}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _mapped(reference: Any, ids: dict[int, int]) -> Any:
    """A reference by the original database's id, as the new database's id; text as it is."""
    return ids[reference] if isinstance(reference, int) and reference in ids else reference


def _claim(record: dict[str, Any], ids: dict[int, int]) -> dict[str, Any]:
    record["source"] = _mapped(record["source"], ids)
    for evidence in record.get("evidence") or ():
        if "source" in evidence:
            evidence["source"] = _mapped(evidence["source"], ids)
    return record


async def load_release(db: Database, directory: Path, batch: int = DEFAULT_BATCH) -> LoadReport:
    manifest, problems = verify_release(directory)
    if problems:
        raise ReleaseError(f"{directory} does not verify: {problems[0]}")
    if len(manifest.statuses) != 1:
        raise ReleaseError(f"a release of several statuses ({', '.join(manifest.statuses)}) cannot be loaded")
    status = ClaimStatus(manifest.statuses[0])
    vocabulary = _vocabulary(directory / VOCABULARY_JSONL)
    report = LoadReport()
    async with db.write(Actor(None, RELEASE_USER, Role.ADMIN)) as w:
        found = await holds_data(w.session)
        if found:
            raise ReleaseError(
                f"the database already holds {', '.join(found)}; `release load` fills an empty database only "
                "(create a new one with `claimsdb db upgrade`)"
            )
        user = await system_user(w, RELEASE_USER)
        w.actor = Actor(user.id, RELEASE_USER, Role.ADMIN)
        seeded = SeedReport()
        await load_vocabulary(w, vocabulary, seeded)
        report.vocabulary = seeded.total_created
        async with bulk_import(w, audit="batch") as load:
            ids: dict[int, int] = {}
            waiting: list[dict[str, Any]] = []  # derived from a source further down the file
            chunk: list[dict[str, Any]] = []
            in_chunk: set[int] = set()
            for _, record in _lines(directory / SOURCES_JSONL):
                parent = record.get("derivedFrom")
                if isinstance(parent, int) and parent not in ids:
                    if parent not in in_chunk:
                        waiting.append(record)
                        continue
                    await _load_sources(load, chunk, ids)  # its parent first, keeping the file's order
                    chunk, in_chunk = [], set()
                chunk.append(record)
                in_chunk.add(record["id"])
                if len(chunk) >= batch:
                    await _load_sources(load, chunk, ids)
                    chunk, in_chunk = [], set()
            await _load_sources(load, chunk, ids)
            while waiting:
                ready = [r for r in waiting if r["derivedFrom"] in ids]
                if not ready:
                    raise ReleaseError(
                        f"{SOURCES_JSONL}: source {waiting[0]['id']} is derived from a missing source"
                    )
                waiting = [r for r in waiting if r["derivedFrom"] not in ids]
                await _load_sources(load, ready, ids)
            report.sources = len(ids)
            records = (_claim(record, ids) for _, record in _lines(directory / CLAIMS_JSONL))
            async for chunk in batches(records, batch):
                result = await load.claims(chunk, statuses=[status] * len(chunk))
                report.claims += result.inserted
        if report.claims != manifest.claim_count:
            # A verified release's claims repeat no live claim; if some were skipped as repeats,
            # the mirror would not answer as the original: nothing is kept.
            raise ReleaseError(f"loaded {report.claims} claims; the manifest says {manifest.claim_count}")
    return report


async def _load_sources(load: Any, records: list[dict[str, Any]], ids: dict[int, int]) -> None:
    if not records:
        return
    originals = [record.pop("id") for record in records]
    for record in records:
        if "derivedFrom" in record:
            record["derivedFrom"] = _mapped(record["derivedFrom"], ids)
    result = await load.sources(records)
    for original, new in zip(originals, result.ids, strict=True):
        assert new is not None
        ids[original] = new
