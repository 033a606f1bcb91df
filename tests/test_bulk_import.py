"""The bulk import (api.store.bulk) against the store commands, on both databases.

- Generated data (bench.generate's Plan: a couple of thousand claims with their sources, cohorts
  and quotes) imported in chunks through one bulk import equals, row for row, what the store
  commands (create_source, create_claim) write for the same input in another database: sources,
  cohorts, claims, quotes, claim_target, claim_search, what text search finds, and the audit log
  (the same events, each chain verifying). The import drops and rebuilds indexes on the way
  (the tables were empty), so the schema afterwards is checked too.
- All or nothing: a bad record in a late chunk (or a duplicate of a record chunks earlier)
  leaves nothing of the import behind (not the chunks before it, not its sources), names the
  record and the field, and leaves the indexes, the text index and the audit chain as they were.
"""

from __future__ import annotations

import random
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import MIGRATED, Databases

from api.settings import PROJECT_ROOT
from api.store.audit import verify_log
from api.store.bulk import bulk_import, bulk_import_claims
from api.store.commands.claims import create_claim
from api.store.commands.sources import create_source
from api.store.commands.users import system_user
from api.store.commands.vocabulary import (
    ConditionInput,
    OrganismInput,
    OutcomeInput,
    TargetInput,
    create_condition,
    create_organism,
    create_outcome,
    create_target,
)
from api.store.db import Database
from api.store.errors import StoreError, UserErrorCode
from api.store.search import text_match
from schema.enums import EffectDirection, EvidenceType, Modality, Role, SourceKind
from schema.records import ClaimRecord, CohortRecord, EvidenceRecord, SourceRecord
from schema.tables import AuditEvent, Claim, ClaimSearch, ClaimTarget, Cohort, Evidence, Source
from schema.users import Actor

if str(PROJECT_ROOT) not in sys.path:  # bench/ lives in the checkout, not in the installed package
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.generate import GENERATOR_USER, Ids, Plan, by_source, create_vocabulary  # noqa: E402

SEED = 11
SOURCES = 400  # with 5 claims each
CLAIMS = 2000
CHUNK = 450  # claims per chunk: several chunks, the last one short


@pytest.fixture
async def twin(backend: str, _databases: Databases) -> AsyncIterator[Database]:
    """A second fresh migrated database on the same backend, for the command path."""
    settings, handle = await _databases.fresh(backend, MIGRATED)
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()
        await _databases.discard(backend, handle)


# --- the input ----------------------------------------------------------------------------


class Input:
    """Generated records whose source references are stand-ins: positions (from 1) in `sources`
    (originals, then retellings). Claims name their cohorts by label within their source, so
    both paths make a cohort when a claim first names it."""

    def __init__(self, ids: Ids) -> None:
        plan = Plan(random.Random(SEED), ids, SEED)
        self.originals, self.retellings = plan.sources(0, SOURCES)
        stand_ins = list(range(1, len(self.originals) + len(self.retellings) + 1))
        kinds = [r.kind for r in self.originals] + [r.kind for r, _ in self.retellings]
        drawn = plan.cohorts(stand_ins, kinds)
        self.claims, self.statuses = plan.claims(CLAIMS, stand_ins, by_source(drawn))
        self.cohorts = {
            (c.source, cohort.label) for c in self.claims for cohort in (c.cohort, c.comparator) if cohort
        }
        assert len(self.cohorts) > 50 and any(c.comparator for c in self.claims), "the input lacks cohorts"
        assert any(c.intervention for c in self.claims) and self.retellings


async def _actor_and_ids(db: Database) -> tuple[Actor, Ids]:
    async with db.write(Actor(None, "test", Role.ADMIN)) as w:
        user = await system_user(w, GENERATOR_USER)
    actor = Actor(user.id, user.name, Role.ADMIN)
    return actor, await create_vocabulary(db, actor, random.Random(SEED))


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _import_in_bulk(db: Database, actor: Actor, data: Input) -> None:
    """One import, in chunks of each kind, as the generator does."""
    async with db.write(actor) as w, bulk_import(w) as load:
        original_ids: list[int | None] = []
        for chunk in _chunks(data.originals, SOURCES // 3):
            original_ids += (await load.sources(chunk)).ids
        retold = [r.model_copy(update={"derived_from": original_ids[pos]}) for r, pos in data.retellings]
        source_of = dict(enumerate(original_ids + (await load.sources(retold)).ids, start=1))
        claims = [c.model_copy(update={"source": source_of[c.source]}) for c in data.claims]
        for first in range(0, len(claims), CHUNK):
            chunk = claims[first : first + CHUNK]
            result = await load.claims(chunk, statuses=data.statuses[first : first + CHUNK])
            assert result.inserted == len(chunk)


async def _import_by_commands(db: Database, actor: Actor, ids: Ids, data: Input) -> None:
    """The same input through create_source and create_claim, naming everything as a curator
    would: vocabulary by name, sources by id (as the API decodes a global ID), cohorts by label."""
    name = {
        kind: {v: k for k, v in getattr(ids, kind).items()}
        for kind in ("targets", "interventions", "outcomes", "organisms", "conditions")
    }

    def by_name(kind: str, value: int | str | None) -> str | None:
        return None if value is None else name[kind][value]  # type: ignore[index]

    def cohort(c: CohortRecord | None) -> CohortRecord | None:
        return None if c is None else c.model_copy(update={"condition": by_name("conditions", c.condition)})

    async with db.write(actor) as w:
        original_ids = [(await create_source(w, r)).id for r in data.originals]
        retold_ids = [
            (await create_source(w, r.model_copy(update={"derived_from": original_ids[pos]}))).id
            for r, pos in data.retellings
        ]
        source_of = dict(enumerate(original_ids + retold_ids, start=1))
        for c, status in zip(data.claims, data.statuses, strict=True):
            named = c.model_copy(
                update={
                    "source": source_of[c.source],  # type: ignore[index]
                    "target": by_name("targets", c.target),
                    "intervention": by_name("interventions", c.intervention),
                    "outcome": by_name("outcomes", c.outcome),
                    "organism": by_name("organisms", c.organism),
                    "condition": by_name("conditions", c.condition),
                    "cohort": cohort(c.cohort),
                    "comparator": cohort(c.comparator),
                }
            )
            await create_claim(w, named, status=status)


# --- what a database holds ----------------------------------------------------------------

# Every row of what an import writes, by id, without the times it was written at.
_DUMPED = (Source, Cohort, Claim, Evidence, ClaimTarget, ClaimSearch)
_TIMES = frozenset({"created_at", "updated_at"})


async def _dump(db: Database) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    async with db.read() as session:
        for model in _DUMPED:
            table = model.__table__  # type: ignore[attr-defined]
            columns = [c for c in table.c if c.name not in _TIMES]
            rows = await session.execute(sa.select(*columns).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(r) for r in rows.all()]
        words = ("microglial", "remyelination", "patients", "tocilizumab", "reduces", "nonexistentword")
        for word in words:
            found = await session.scalars(
                sa.select(Claim.id).where(text_match(db.engine.dialect.name, word)).order_by(Claim.id)
            )
            out[f"search {word}"] = [(i,) for i in found.all()]
    return out


async def _audit(db: Database) -> tuple[int, list[tuple]]:
    """The verified chain's length and its events' content, in a fixed order (the two paths
    write them in different orders: the commands make a cohort just before its first claim)."""
    async with db.read() as session:
        verified = await verify_log(session)
        assert verified.broken is None, f"the audit chain is broken: {verified.broken}"
        rows = await session.execute(
            sa.select(
                AuditEvent.action, AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.actor_id,
                AuditEvent.before, AuditEvent.after, AuditEvent.comment,
            )
        )  # fmt: skip
        events = [tuple(r) for r in rows.all()]
    return verified.events, sorted(events, key=lambda e: (e[1], e[2], e[0], repr(e[5])))


async def _schema(db: Database) -> list[tuple]:
    """Indexes, triggers and constraints: what an import may drop and must put back."""
    if db.is_sqlite:  # a table's constraints are part of its CREATE TABLE
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master"
    else:
        query = (
            "SELECT 'index', indexname, tablename, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() "
            "UNION ALL SELECT 'constraint', conname, conrelid::regclass::text, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = to_regnamespace(current_schema())"
        )
    async with db.read() as session:
        return sorted(tuple(r) for r in (await session.execute(sa.text(query))).all())


async def _count(db: Database, table: str) -> int:
    async with db.read() as session:
        return int(await session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


# --- tests --------------------------------------------------------------------------------


async def test_bulk_import_equals_the_commands_row_for_row(db: Database, twin: Database) -> None:
    actor, ids = await _actor_and_ids(db)
    twin_actor, twin_ids = await _actor_and_ids(twin)
    assert (actor, ids) == (twin_actor, twin_ids), "both databases start with the same world"
    schema_before = await _schema(db)
    data = Input(ids)

    await _import_in_bulk(db, actor, data)
    await _import_by_commands(twin, actor, ids, data)

    bulk, commands = await _dump(db), await _dump(twin)
    assert len(bulk["claim"]) == CLAIMS and len(bulk["cohort"]) == len(data.cohorts)
    assert bulk["search microglial"] and bulk["search patients"], "text search finds the imported claims"
    for table, rows in commands.items():
        assert len(bulk[table]) == len(rows), (
            f"{table}: {len(bulk[table])} rows in bulk, {len(rows)} by commands"
        )
        differ = [(b, c) for b, c in zip(bulk[table], rows, strict=True) if b != c]
        assert not differ, f"{table} differs, e.g. bulk {differ[0][0]} vs commands {differ[0][1]}"

    bulk_events, commands_events = await _audit(db), await _audit(twin)
    assert bulk_events[0] == commands_events[0], "one event per source, cohort and claim, as the commands"
    differ = [(b, c) for b, c in zip(bulk_events[1], commands_events[1], strict=True) if b != c]
    assert not differ, f"audit events differ, e.g. bulk {differ[0][0]} vs commands {differ[0][1]}"

    assert await _schema(db) == schema_before, "the indexes and triggers the import dropped are back"
    assert await _schema(twin) == schema_before


async def _small_world(db: Database) -> tuple[Actor, dict[str, int]]:
    async with db.write(Actor(None, "test", Role.ADMIN)) as w:
        user = await system_user(w, "bulk-test")
        await create_organism(w, OrganismInput(9606, "Homo sapiens", "human"))
        await create_condition(w, ConditionInput("multiple sclerosis", None, ["MS"]))
        await create_target(w, TargetInput("IL-6R", "interleukin 6 receptor", "gene product"))
        await create_outcome(w, OutcomeInput("disease activity", "clinical course"))
    async with db.read() as session:

        async def one(sql: str) -> int:
            return int((await session.execute(sa.text(sql))).scalar_one())

        ids = {
            name: await one(f"SELECT id FROM {name}")
            for name in ("organism", "condition", "target", "outcome")
        }
    return Actor(user.id, user.name, Role.ADMIN), ids


def _claims(ids: dict[str, int], source_id: int, n: int, bad: dict[int, dict[str, Any]]) -> list[ClaimRecord]:
    """n valid claims from one source, but for the fields `bad` gives by position."""
    out = []
    for i in range(n):
        values: dict[str, Any] = dict(
            statement=f"IL-6R increases disease activity, finding {i}.", outcome=ids["outcome"],
            direction=EffectDirection.INCREASES, modality=Modality.ASSERTED,
            evidence_type=EvidenceType.OBSERVATIONAL, organism=ids["organism"], source=source_id,
            evidence=[EvidenceRecord(quote=f"Activity rose in patients ({i}).", locator="Results")],
            target=ids["target"], condition=ids["condition"], sample_type=f"sample {i}",
        )  # fmt: skip
        values.update(bad.get(i, {}))
        out.append(ClaimRecord(**values))
    return out


async def _state(db: Database) -> dict[str, Any]:
    tables = ["source", "cohort", "claim", "evidence", "claim_target", "claim_search", "audit_event"]
    if db.is_sqlite:
        tables.append("claim_fts")
    counts = {table: await _count(db, table) for table in tables}
    async with db.read() as session:
        verified = await verify_log(session)
    return {"counts": counts, "audit": verified, "schema": await _schema(db)}


async def test_a_bad_record_late_in_the_import_leaves_nothing(db: Database) -> None:
    actor, ids = await _small_world(db)
    before = await _state(db)

    # Sources and claims in one import; the bad record sits in the fourth chunk of claims.
    with pytest.raises(StoreError) as caught:
        async with db.write(actor) as w, bulk_import(w) as load:
            sources = await load.sources(
                [SourceRecord(kind=SourceKind.PRIMARY_RESEARCH, title="Paper", doi="10.5555/late.1")]
            )
            source_id = sources.ids[0]
            assert source_id is not None
            records = _claims(ids, source_id, 450, {333: {"evidence": [EvidenceRecord(quote="   ")]}})
            for chunk in _chunks(records, 100):
                await load.claims(chunk)
    [error] = caught.value.errors
    assert error.field == ("records", "333", "evidence", "0", "quote")
    assert error.message == "claim 333: quote must not be empty"
    assert await _state(db) == before, "nothing of the import stays: not its sources, not earlier chunks"

    # Streamed: a record repeating one four chunks earlier is refused as a duplicate, by position.
    async with db.write(actor) as w, bulk_import(w) as load:
        source_id = (
            await load.sources([SourceRecord(kind=SourceKind.REVIEW, title="Review", doi="10.5555/late.2")])
        ).ids[0]
    assert source_id is not None
    before = await _state(db)
    records = _claims(ids, source_id, 450, {})
    records[401] = records[12].model_copy(update={"statement": "The same finding, worded otherwise."})
    with pytest.raises(StoreError) as caught:
        await bulk_import_claims(db, actor, iter(records), batch_size=100, on_duplicate="error")
    [error] = caught.value.errors
    assert error.code is UserErrorCode.DUPLICATE and error.field == ("records", "401", "statement")
    assert (
        error.message.startswith("claim 401: this source already has a claim")
        and "record 12" in error.message
    )
    assert await _state(db) == before

    # The same stream without the duplicate goes in whole: every claim, its event, its text.
    del records[401]
    report = await bulk_import_claims(db, actor, records, batch_size=100)
    assert (report.inserted, report.duplicates, report.batches) == (449, 0, 5)
    after = await _state(db)
    assert after["audit"].broken is None and after["schema"] == before["schema"]
    assert after["counts"]["claim"] == after["counts"]["claim_search"] == 449
    assert after["counts"]["audit_event"] == before["counts"]["audit_event"] + 449
    if db.is_sqlite:
        assert after["counts"]["claim_fts"] == 449


async def test_events_recorded_around_an_import_chain_in_order(db: Database) -> None:
    """Events the transaction records before the import go first, those after it go last."""
    actor, ids = await _small_world(db)
    async with db.write(actor) as w:
        w.record("test.before", "User", actor.user_id or 0, after={"n": 1})
        async with bulk_import(w) as load:
            source_id = (
                await load.sources(
                    [SourceRecord(kind=SourceKind.PREPRINT, title="Preprint", doi="10.5555/x.1")]
                )
            ).ids[0]
            assert source_id is not None
            await load.claims(_claims(ids, source_id, 3, {}))
        w.record("test.after", "User", actor.user_id or 0, after={"n": 2})
    async with db.read() as session:
        assert (await verify_log(session)).broken is None
        actions = (
            await session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(6))
        ).all()
    assert list(reversed(actions)) == [
        "test.before", "source.create", "claim.create", "claim.create", "claim.create", "test.after",
    ]  # fmt: skip


async def test_a_failed_import_caught_inside_a_transaction_leaves_it_whole(db: Database) -> None:
    """The import is a savepoint: a caller that catches its error and commits the rest of the
    transaction commits nothing of the import, and gets its indexes and triggers back."""
    actor, ids = await _small_world(db)
    before = await _state(db)
    async with db.write(actor) as w:
        w.record("test.before", "User", actor.user_id or 0, after={"n": 1})
        with pytest.raises(StoreError, match="claim 5: no outcome has id 999999"):
            async with bulk_import(w) as load:
                lost = SourceRecord(kind=SourceKind.REVIEW, title="Lost", doi="10.5555/lost.1")
                sources = await load.sources([lost])
                assert sources.ids[0] is not None
                await load.claims(_claims(ids, sources.ids[0], 10, {5: {"outcome": 999_999}}))
        await create_source(w, SourceRecord(kind=SourceKind.REVIEW, title="Kept", doi="10.5555/kept.1"))
    after = await _state(db)
    assert after["schema"] == before["schema"] and after["audit"].broken is None
    grew = {table: after["counts"][table] - n for table, n in before["counts"].items()}
    assert grew == {**{table: 0 for table in grew}, "source": 1, "audit_event": 2}
    async with db.read() as session:
        titles = (await session.scalars(sa.select(Source.title))).all()
        actions = (
            await session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(2))
        ).all()
    assert titles == ["Kept"] and actions == ["source.create", "test.before"]


async def test_records_name_things_as_the_commands_do(db: Database) -> None:
    """A record may name its vocabulary, sources and cohorts' conditions by text (a name, alias,
    CURIE, DOI) as createClaim's input does, or by id; both mean the same rows, and a name that
    names nothing gets createClaim's message, with the closest names."""
    actor, ids = await _small_world(db)
    async with db.write(actor) as w, bulk_import(w) as load:
        paper = SourceRecord(kind=SourceKind.PRIMARY_RESEARCH, title="Named", doi="10.5555/named.1")
        retold = SourceRecord(kind=SourceKind.BLOG_POST, title="Retold", derived_from="doi:10.5555/NAMED.1")
        (paper_id,) = (await load.sources([paper])).ids
        (retold_id,) = (await load.sources([retold])).ids  # a chunk names sources stored before it
    by_text = ClaimRecord(
        statement="IL-6R raises disease activity, named.", target="il6r",
        outcome="Disease Activity", direction=EffectDirection.INCREASES, modality=Modality.ASSERTED,
        evidence_type=EvidenceType.OBSERVATIONAL, organism="NCBITaxon:9606", condition="MS",
        source="https://doi.org/10.5555/named.1",
        cohort=CohortRecord(label="treated MS", size=10, condition="multiple sclerosis"),
        evidence=[EvidenceRecord(quote="It rose.", source="10.5555/named.1")],
    )  # fmt: skip
    async with db.write(actor) as w, bulk_import(w) as load:
        result = await load.claims([by_text])
    assert result.inserted == 1 and result.cohorts == 1
    by_id = by_text.model_copy(
        update={
            "target": ids["target"], "outcome": ids["outcome"], "organism": ids["organism"],
            "condition": ids["condition"], "source": paper_id,
            "cohort": CohortRecord(label="treated MS", size=10, condition=ids["condition"]),
        }
    )  # fmt: skip
    async with db.write(actor) as w, bulk_import(w) as load:
        again = await load.claims([by_id])
    assert (again.inserted, again.duplicates, again.cohorts) == (0, 1, 0), "the same claim, the same cohort"
    async with db.read() as session:
        derived = await session.scalar(sa.select(Source.derived_from_id).where(Source.id == retold_id))
    assert derived == paper_id

    unknown = by_text.model_copy(update={"outcome": "disease activty", "source": "10.5555/nowhere"})
    with pytest.raises(StoreError) as caught:
        async with db.write(actor) as w, bulk_import(w) as load:
            await load.claims([unknown], start=7)
    assert [(e.code, e.field, e.message) for e in caught.value.errors] == [
        (
            UserErrorCode.NOT_FOUND,
            ("records", "7", "outcome"),
            "claim 7: no outcome is called 'disease activty'; did you mean 'disease activity'?",
        ),
        (
            UserErrorCode.NOT_FOUND,
            ("records", "7", "source"),
            "claim 7: no source matches '10.5555/nowhere'; give a DOI (10.x/...), a PMID, a URL or a "
            "source ID of a source that exists (createSource adds one)",
        ),
    ]
