"""The maintained aggregates (claim_cell, claim_summary, claim_question, claim_group) stay equal
to a recount from the claims through every kind of write, `claimsdb db check` says so (or exits 1
naming the difference), and summaries read from them equal the claim-by-claim summary for every
kind of viewer."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from conflict_helpers import DEC, INC, about, build_world, claim_version, create_claims, via
from test_cli import ainvoke

from api.store.commands.lifecycle import ClaimChanges, retract_claim, review_claim, submit_claim, update_claim
from api.store.commands.revisions import review_revision
from api.store.commands.standing import set_source_standing
from api.store.commands.vocabulary import ActionInput, add_action
from api.store.db import Database
from api.store.queries.aggregates import aggregate_differences
from api.store.queries.claims import ClaimFilterSpec
from api.store.queries.summary import evidence_summary
from api.store.resolve import lookup_id
from schema.enums import (
    ClaimStatus,
    Modality,
    ReviewDecision,
    RevisionDecision,
    Role,
    SourceStanding,
    TargetAction,
    VocabularyKind,
)
from schema.users import Actor
from schema.visibility import claim_visibility


async def _differences(db: Database) -> list[str]:
    async with db.read() as session:
        return [d.describe() for d in await aggregate_differences(session)]


async def test_every_kind_of_write_keeps_the_aggregates_equal_to_the_claims(db: Database) -> None:
    world = await build_world(db)
    steps: list[str] = []

    async def check(step: str) -> None:
        steps.append(step)
        found = await _differences(db)
        assert found == [], f"after {' → '.join(steps)} the aggregates differ from the claims:\n{found}"

    accepted = await create_claims(
        db,
        world,
        [
            about("IL-6R", INC, condition="MS"),
            about("IL-6R", DEC, condition="MS"),
            about("IL-6R", DEC, condition="RRMS", cohort="trial arm"),
            via("ibudilast", INC, outcome="CSF level"),  # bears on PDE4 and MIF
            via("sotrovimab", DEC),  # binds: no target-level direction
        ],
    )
    await check("create accepted")
    (draft,) = await create_claims(
        db, world, [about("IL-6R", DEC, organism="mouse")], actor=world.curator, status=None
    )
    await check("create draft")

    async with db.write(world.curator) as w:
        await update_claim(w, draft, await claim_version(db, draft), ClaimChanges(direction="NO_EFFECT"))
    await check("edit draft")
    async with db.write(world.curator) as w:
        await submit_claim(w, draft, await claim_version(db, draft))
    await check("submit")
    async with db.write(world.reviewer) as w:
        await review_claim(w, draft, await claim_version(db, draft), ReviewDecision.ACCEPT, None)
    await check("accept")

    async with db.write(world.curator) as w:
        edited = await update_claim(
            w,
            accepted[0],
            await claim_version(db, accepted[0]),
            ClaimChanges(condition=None, modality=Modality.HEDGED),
        )
    assert edited.revision is not None
    await check("revision proposed")
    async with db.write(world.reviewer) as w:
        await review_revision(w, edited.revision.id, RevisionDecision.ACCEPT, None)
    await check("revision accepted")

    async with db.write(world.admin) as w:
        await add_action(w, "ibudilast", ActionInput("TNF", TargetAction.ACTIVATES))
    await check("intervention action added")

    async with db.write(world.reviewer) as w:
        await retract_claim(w, accepted[1], await claim_version(db, accepted[1]), "the study was withdrawn")
    await check("retract claim")

    async with db.write(world.reviewer) as w:
        await set_source_standing(w, world.dois[2], SourceStanding.RETRACTED, note="retracted by the journal")
    await check("source retracted")

    # Many writers at once, each moving claims between keys (SQLite serialises them; on
    # PostgreSQL they contend for the same aggregate rows).
    many = await create_claims(
        db, world, [about("IL-6R", INC, condition="MS", source=world.dois[i]) for i in range(8, 14)]
    )

    async def flip(claim_id: int) -> None:
        async with db.write(world.reviewer) as w:
            await retract_claim(w, claim_id, await claim_version(db, claim_id), "withdrawn by the authors")

    await asyncio.gather(*(flip(c) for c in many), return_exceptions=True)
    await check("concurrent retractions")


async def test_db_check_exits_non_zero_naming_the_difference(db: Database, settings) -> None:
    world = await build_world(db)
    await create_claims(db, world, [about("IL-6R", INC), about("IL-6R", DEC)])
    result = await ainvoke(["db", "check"], settings)
    assert result.exit_code == 0, result.output
    assert "agree" in result.output

    async with db.engine.begin() as connection:
        await connection.execute(sa.text("UPDATE claim_cell SET n = n + 1"))
    result = await ainvoke(["db", "check"], settings)
    assert result.exit_code == 1, result.output
    assert "claim_cell" in result.stderr and "Traceback" not in result.output


async def test_the_summary_from_the_aggregates_equals_the_claim_by_claim_summary(db: Database) -> None:
    world = await build_world(db)
    await create_claims(
        db,
        world,
        [
            about("IL-6R", INC, condition="MS"),
            about("IL-6R", DEC, condition="MS", modality=Modality.HYPOTHESIS),
            about("IL-6R", INC, condition="RRMS", organism="mouse"),
            via("tocilizumab", INC, condition="MS"),
        ],
    )
    await create_claims(db, world, [about("IL-6R", DEC, condition="MS")], actor=world.curator, status=None)
    (rejected,) = await create_claims(
        db, world, [about("IL-6R", INC, outcome="CSF level")], status=ClaimStatus.SUBMITTED
    )
    async with db.write(world.reviewer) as w:
        await review_claim(
            w, rejected, await claim_version(db, rejected), ReviewDecision.REJECT, "not supported"
        )
        await set_source_standing(w, world.dois[0], SourceStanding.RETRACTED)

    viewers = [None, world.curator, Actor(world.curator.user_id + 99, "other", Role.CURATOR), world.reviewer]
    specs = [
        ClaimFilterSpec(),
        ClaimFilterSpec(include_retracted=True),
        ClaimFilterSpec(condition="MS", modality=[Modality.ASSERTED]),
        ClaimFilterSpec(organism="mouse", status=[ClaimStatus.ACCEPTED, ClaimStatus.DRAFT]),
        ClaimFilterSpec(outcome="disease activity", include_retracted=True),
    ]
    async with db.read() as session:
        target_id = await lookup_id(session, VocabularyKind.TARGET, "IL-6R")
        for actor in viewers:
            vis = claim_visibility(actor or Actor(None, "anonymous", Role.READER))
            for spec in specs:
                fast = await evidence_summary(session, target_id, spec, vis)
                # A blank text filter matches every claim but is not a cell dimension: it takes the
                # claim-by-claim path.
                slow = await evidence_summary(session, target_id, _with_text(spec, " "), vis)
                assert fast == slow, f"{actor} {spec}: cells {fast} differ from claim by claim {slow}"
                # The answer's order, whatever carried the cells out of the database.
                assert fast[0] == sorted(fast[0], key=_answer_order), f"{actor} {spec}: cells out of order"


def _answer_order(cell: tuple) -> tuple:
    """A summary's documented order: count, largest first; then outcome, condition (none
    first) and direction."""
    condition, outcome, direction, count = cell
    return (-count, outcome, -1 if condition is None else condition, direction)


def _with_text(spec: ClaimFilterSpec, text: str) -> ClaimFilterSpec:
    from dataclasses import replace

    return replace(spec, text=text)
