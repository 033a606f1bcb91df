"""Loading the curated seeds (seeds/*.yaml, format in seeds/FORMAT.md).

Everything goes through the store's commands, as the `seed` user, in one transaction: the seeds
are validated and audited like a curator's work, and a failure leaves nothing half-loaded.
Loading is idempotent: what exists already (by name, DOI/PMID or title, cohort label, claim
fingerprint) is left alone, so a second run adds no row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from api.store.commands import claims as claim_cmds
from api.store.commands import sources as source_cmds
from api.store.commands import vocabulary as vocab_cmds
from api.store.commands.users import SEED_USER, system_user
from api.store.db import Database, Writer
from api.store.errors import StoreError, UserErrorCode
from api.store.resolve import lookup_id
from schema.enums import ClaimStatus, Role, TargetAction, VocabularyKind
from schema.identifiers import normalize_doi, normalize_pmid
from schema.normalize import clean_label
from schema.records import ClaimRecord, SourceRecord
from schema.tables import Organism, Source
from schema.users import Actor

VOCABULARY_FILE = "vocabulary.yaml"


class SeedError(Exception):
    """A seed file that cannot be loaded; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganismSeed(_Model):
    taxon_id: int
    scientific_name: str
    common_name: str | None = None
    aliases: list[str] = []


class ConditionSeed(_Model):
    name: str
    parent: str | None = None
    aliases: list[str] = []
    xrefs: list[str] = []


class ActionSeed(_Model):
    target: str
    action: TargetAction


class TargetSeed(_Model):
    symbol: str
    name: str
    kind: str
    aliases: list[str] = []
    xrefs: list[str] = []


class InterventionSeed(_Model):
    name: str
    kind: str
    aliases: list[str] = []
    xrefs: list[str] = []
    actions: list[ActionSeed] = []


class OutcomeSeed(_Model):
    name: str
    kind: str
    aliases: list[str] = []


class VocabularyFile(_Model):
    organisms: list[OrganismSeed] = []
    conditions: list[ConditionSeed] = []
    targets: list[TargetSeed] = []
    interventions: list[InterventionSeed] = []
    outcomes: list[OutcomeSeed] = []


class SourceSeed(SourceRecord):
    """A source record with the key the seed files name it by (a local handle, not stored)."""

    key: str


# A seed file's claim is a claim record as it stands (its source named by key; seeds/FORMAT.md).
ClaimSeed = ClaimRecord


class DocumentFile(_Model):
    document: str
    sources: list[SourceSeed] = []
    # Claims name their sources (and derivedFrom its source) by key; the loader gives the ids.
    claims: list[ClaimSeed] = []


@dataclass
class SeedReport:
    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


def _read(path: Path, model: type[_Model]) -> Any:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return model.model_validate(raw)
    except yaml.YAMLError as exc:
        raise SeedError(f"{path.name}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SeedError(f"{path.name}: {where}: {first['msg']}") from None


def read_seeds(seeds_dir: Path) -> tuple[VocabularyFile, list[tuple[Path, DocumentFile]]]:
    if not seeds_dir.is_dir():
        raise SeedError(f"the seeds directory '{seeds_dir}' does not exist (CLAIMSDB_SEEDS_DIR)")
    vocab_path = seeds_dir / VOCABULARY_FILE
    vocabulary = _read(vocab_path, VocabularyFile) if vocab_path.exists() else VocabularyFile()
    documents = [
        (path, _read(path, DocumentFile))
        for path in sorted(seeds_dir.glob("*.yaml"))
        if path.name != VOCABULARY_FILE
    ]
    return vocabulary, documents


async def load_seeds(db: Database, seeds_dir: Path) -> SeedReport:
    vocabulary, documents = read_seeds(seeds_dir)
    report = SeedReport()
    async with db.write(Actor(None, SEED_USER, Role.ADMIN)) as w:
        seed_user = await system_user(w)
        w.actor = Actor(seed_user.id, SEED_USER, Role.ADMIN)
        await load_vocabulary(w, vocabulary, report)
        keys: dict[str, int] = {}
        for path, document in documents:
            try:
                await _load_document(w, document, keys, report)
            except StoreError as exc:
                raise SeedError(f"{path.name}: {exc}") from None
    return report


async def _exists(w: Writer, kind: VocabularyKind, name: str) -> bool:
    return await lookup_id(w.session, kind, name) is not None


async def load_vocabulary(w: Writer, v: VocabularyFile, report: SeedReport) -> None:
    async def step(kind: str, exists: bool, create) -> None:  # type: ignore[no-untyped-def]
        if exists:
            report.existing[kind] += 1
            return
        try:
            await create()
        except StoreError as exc:
            raise SeedError(f"{VOCABULARY_FILE}: {kind}: {exc}") from None
        report.created[kind] += 1

    for o in v.organisms:
        taken = await w.session.scalar(sa.select(Organism.id).where(Organism.taxon_id == o.taxon_id))
        await step(
            "organisms",
            taken is not None,
            lambda o=o: vocab_cmds.create_organism(
                w, vocab_cmds.OrganismInput(o.taxon_id, o.scientific_name, o.common_name, o.aliases)
            ),
        )
    for c in v.conditions:
        await step(
            "conditions",
            await _exists(w, VocabularyKind.CONDITION, c.name),
            lambda c=c: vocab_cmds.create_condition(
                w, vocab_cmds.ConditionInput(c.name, c.parent, c.aliases, c.xrefs)
            ),
        )
    for t in v.targets:
        await step(
            "targets",
            await _exists(w, VocabularyKind.TARGET, t.symbol),
            lambda t=t: vocab_cmds.create_target(
                w, vocab_cmds.TargetInput(t.symbol, t.name, t.kind, t.aliases, t.xrefs)
            ),
        )
    for i in v.interventions:
        actions = [vocab_cmds.ActionInput(a.target, a.action) for a in i.actions]
        await step(
            "interventions",
            await _exists(w, VocabularyKind.INTERVENTION, i.name),
            lambda i=i, actions=actions: vocab_cmds.create_intervention(
                w, vocab_cmds.InterventionInput(i.name, i.kind, i.aliases, i.xrefs, actions)
            ),
        )
    for o in v.outcomes:
        await step(
            "outcomes",
            await _exists(w, VocabularyKind.OUTCOME, o.name),
            lambda o=o: vocab_cmds.create_outcome(w, vocab_cmds.OutcomeInput(o.name, o.kind, o.aliases)),
        )


async def _existing_source(w: Writer, s: SourceSeed) -> int | None:
    if s.doi:
        return await w.session.scalar(sa.select(Source.id).where(Source.doi == normalize_doi(s.doi)))
    if s.pmid:
        return await w.session.scalar(sa.select(Source.id).where(Source.pmid == normalize_pmid(s.pmid)))
    return await w.session.scalar(
        sa.select(Source.id).where(Source.kind == s.kind, Source.title == clean_label(s.title))
    )


def _ref(keys: dict[str, int], key: int | str, where: str) -> int:
    """The id of the source a seed names by key."""
    if str(key) not in keys:
        raise SeedError(f"{where}: no source has the key '{key}' (define it in a `sources:` list)")
    return keys[str(key)]


def _source(keys: dict[str, int], source: int | str | SourceRecord, where: str) -> int | SourceRecord:
    """The source a claim or quote names: by key, or given in full (created, or reused when it
    is stored already, by create_claim), its derived_from a key or a DOI, PMID or URL."""
    if not isinstance(source, SourceRecord):
        return _ref(keys, source, where)
    if source.derived_from is not None and str(source.derived_from) in keys:
        return source.model_copy(update={"derived_from": keys[str(source.derived_from)]})
    return source


async def _load_document(w: Writer, doc: DocumentFile, keys: dict[str, int], report: SeedReport) -> None:
    for s in doc.sources:
        if s.key in keys:
            raise SeedError(f"source key '{s.key}' is used twice")
        existing = await _existing_source(w, s)
        if existing is not None:
            keys[s.key] = existing
            report.existing["sources"] += 1
            continue
        derived_from = _ref(keys, s.derived_from, f"source {s.key}") if s.derived_from else None
        source = await source_cmds.create_source(w, s.model_copy(update={"derived_from": derived_from}))
        keys[s.key] = source.id  # type: ignore[assignment]
        report.created["sources"] += 1

    for index, c in enumerate(doc.claims):
        where = f"claims.{index}"
        data = c.model_copy(
            update={
                "source": _source(keys, c.source, where),
                "evidence": [
                    e.model_copy(update={"source": _source(keys, e.source, where) if e.source else None})
                    for e in c.evidence
                ],
            }
        )
        # A savepoint per claim: a claim that is already there (DUPLICATE) is skipped without
        # disturbing the rest of the transaction or leaving its audit events behind.
        pending = len(w.pending)
        savepoint = await w.session.begin_nested()
        try:
            await claim_cmds.create_claim(w, data, status=ClaimStatus.ACCEPTED)
        except StoreError as exc:
            await savepoint.rollback()
            del w.pending[pending:]
            if [e.code for e in exc.errors] == [UserErrorCode.DUPLICATE]:
                report.existing["claims"] += 1
                continue
            raise StoreError([e.within(where) for e in exc.errors]) from None
        await savepoint.commit()
        report.created["claims"] += 1
