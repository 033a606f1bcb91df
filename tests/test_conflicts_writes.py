"""Conflicts are kept correct by every write, and each viewer sees the conflicts among the claims
they may see: readers only between ACCEPTED claims."""

from __future__ import annotations

from conflict_helpers import (
    DEC,
    INC,
    REVIEWER_VIEW,
    about,
    all_conflicts,
    build_world,
    claim_pairs,
    claim_version,
    create_claims,
    gid,
    gql,
    int_of,
    pair_ids,
    post,
    via,
)

from api.store.commands.lifecycle import ClaimChanges, retract_claim, review_claim, submit_claim, update_claim
from api.store.commands.revisions import review_revision
from api.store.commands.vocabulary import ActionInput, add_action
from schema.enums import ReviewDecision, RevisionDecision, Role, TargetAction
from schema.users import Actor

IL6R = ("IL-6R", "disease activity")


def _keys(conflicts: list[dict]) -> set[tuple[str, str]]:
    return {(c["target"]["symbol"], c["outcome"]["name"]) for c in conflicts}


async def _has_conflict(db, settings, actor=None) -> set[int]:
    data = await gql(
        db, settings, "{ claims(first: 100, filter: {hasConflict: true}) { nodes { id } } }", actor=actor
    )
    return {int_of(n["id"]) for n in data["claims"]["nodes"]}


async def _review(db, world, claim_id: int, decision: ReviewDecision, comment: str | None = None) -> None:
    async with db.write(world.reviewer) as w:
        await review_claim(w, claim_id, await claim_version(db, claim_id), decision, comment)


async def test_readers_see_conflicts_only_between_accepted_claims(db, settings) -> None:
    world = await build_world(db)
    (accepted,) = await create_claims(db, world, [about("IL-6R", INC)])
    (draft,) = await create_claims(db, world, [about("IL-6R", DEC)], actor=world.curator, status=None)
    other_curator = Actor(world.curator.user_id + 1000, "someone-else", Role.CURATOR)

    async def visible_conflicts(actor: Actor | None) -> set[tuple[str, str]]:
        return _keys(await all_conflicts(db, settings, actor=actor))

    assert await visible_conflicts(None) == set(), "a reader must not see a conflict with a DRAFT"
    assert await visible_conflicts(other_curator) == set(), "nor a curator who did not write the draft"
    assert await visible_conflicts(world.curator) == {IL6R}, "the draft's curator sees her own draft"
    assert await visible_conflicts(REVIEWER_VIEW) == {IL6R}, "a reviewer sees every claim"
    assert await claim_pairs(db, settings, accepted) == []
    assert await _has_conflict(db, settings) == set()
    assert await _has_conflict(db, settings, REVIEWER_VIEW) == {accepted, draft}
    assert [pair_ids(p) for p in await claim_pairs(db, settings, accepted, actor=REVIEWER_VIEW)] == [
        (accepted, draft)
    ]

    async with db.write(world.curator) as w:
        await submit_claim(w, draft, await claim_version(db, draft))
    assert await visible_conflicts(None) == set(), "a reader must not see a conflict with a SUBMITTED claim"
    assert await visible_conflicts(REVIEWER_VIEW) == {IL6R}

    # The reviewer's conflict is not reachable by id for a reader.
    (conflict,) = await all_conflicts(db, settings, actor=REVIEWER_VIEW)
    data = await gql(db, settings, "query($id: ID!) { node(id: $id) { id } }", {"id": conflict["id"]})
    assert data["node"] is None, "node(id) of a conflict among unaccepted claims is null for a reader"


async def test_accepting_creates_a_conflict_and_retracting_removes_it(db, settings) -> None:
    world = await build_world(db)
    (accepted,) = await create_claims(db, world, [about("IL-6R", INC)])
    (submitted,) = await create_claims(db, world, [via("tocilizumab", INC)], actor=world.curator, status=None)
    async with db.write(world.curator) as w:
        await submit_claim(w, submitted, 1)
    assert await all_conflicts(db, settings) == []

    await _review(db, world, submitted, ReviewDecision.ACCEPT)
    (conflict,) = await all_conflicts(db, settings)
    assert (conflict["target"]["symbol"], conflict["kind"]) == ("IL-6R", "DIRECT")
    assert conflict["pairs"]["totalCount"] == 1
    assert await _has_conflict(db, settings) == {accepted, submitted}
    assert [pair_ids(p) for p in await claim_pairs(db, settings, submitted)] == [(submitted, accepted)]

    async with db.write(world.reviewer) as w:
        await retract_claim(w, accepted, await claim_version(db, accepted), "the study was withdrawn")
    assert await all_conflicts(db, settings) == [], "a retracted claim takes part in no conflict"
    assert await _has_conflict(db, settings) == set()
    assert await claim_pairs(db, settings, submitted) == []
    data = await gql(db, settings, "query($id: ID!) { node(id: $id) { id } }", {"id": conflict["id"]})
    assert data["node"] is None, "the conflict is gone: node(id) is null"


async def test_rejecting_removes_a_conflict_for_every_viewer(db, settings) -> None:
    world = await build_world(db)
    (accepted,) = await create_claims(db, world, [about("IL-6R", INC)])
    (submitted,) = await create_claims(db, world, [about("IL-6R", DEC)], actor=world.curator, status=None)
    async with db.write(world.curator) as w:
        await submit_claim(w, submitted, 1)
    assert _keys(await all_conflicts(db, settings, actor=REVIEWER_VIEW)) == {IL6R}

    await _review(db, world, submitted, ReviewDecision.REJECT, "the quote does not say this")
    assert await all_conflicts(db, settings) == []
    for viewer in (REVIEWER_VIEW, world.curator):
        assert await all_conflicts(db, settings, actor=viewer) == [], (
            f"a rejected claim should take part in no conflict, but {viewer.name} still sees one"
        )
        assert await _has_conflict(db, settings, viewer) == set(), viewer.name


async def test_retracting_removes_a_conflict_for_reviewers_too(db, settings) -> None:
    world = await build_world(db)
    accepted, other = await create_claims(db, world, [about("IL-6R", INC), about("IL-6R", DEC)])
    async with db.write(world.reviewer) as w:
        await retract_claim(w, accepted, 1, "the study was withdrawn")
    assert await all_conflicts(db, settings) == []
    assert await all_conflicts(db, settings, actor=world.reviewer) == [], (
        "a retracted claim should take part in no conflict, even in a reviewer's view"
    )
    assert await claim_pairs(db, settings, other, actor=world.reviewer) == []


async def test_updating_a_direction_creates_and_removes_conflicts(db, settings) -> None:
    world = await build_world(db)
    first, second, blocker = await create_claims(
        db,
        world,
        [
            about("IL-6R", INC),
            about("IL-6R", INC),
            via("tocilizumab", INC),  # DECREASES at IL-6R: opposes both
        ],
    )
    assert await _has_conflict(db, settings) == {first, second, blocker}

    async def propose_direction(claim_id: int, direction: str) -> int:
        """The edit of an accepted claim: a revision, pending until a reviewer decides it."""
        async with db.write(world.admin) as w:
            edited = await update_claim(
                w, claim_id, await claim_version(db, claim_id), ClaimChanges(direction=direction)
            )
        assert edited.revision is not None and edited.revision.id is not None
        return edited.revision.id

    async def accept(revision_id: int) -> None:
        async with db.write(world.reviewer) as w:
            await review_revision(w, revision_id, RevisionDecision.ACCEPT, None)

    async def set_direction(claim_id: int, direction: str) -> None:
        await accept(await propose_direction(claim_id, direction))

    # tocilizumab DECREASES is IL-6R INCREASES: now every claim agrees.
    await set_direction(blocker, DEC)
    assert await all_conflicts(db, settings, actor=REVIEWER_VIEW) == [], (
        "after the edit the inhibitor's claim reads INCREASES at IL-6R, like the others"
    )
    assert await _has_conflict(db, settings, REVIEWER_VIEW) == set()

    # An edit of an accepted claim changes nothing readers see until a reviewer accepts it.
    pending = await propose_direction(second, DEC)
    assert await all_conflicts(db, settings, actor=REVIEWER_VIEW) == [], "a pending revision is no claim"
    await accept(pending)
    (conflict,) = await all_conflicts(db, settings)
    assert conflict["pairs"]["totalCount"] == 2 and conflict["kind"] == "DIRECT"
    assert await _has_conflict(db, settings) == {first, second, blocker}

    await set_direction(second, INC)
    assert await all_conflicts(db, settings, actor=REVIEWER_VIEW) == []
    assert await all_conflicts(db, settings) == []


async def test_adding_an_intervention_action_brings_its_claims_in_at_once(db, settings) -> None:
    world = await build_world(db)
    tnf, orphanib, il10, pim1 = await create_claims(
        db,
        world,
        [
            about("TNF", INC),
            via("orphanib", DEC),  # orphanib acts on nothing yet
            about("IL-10", DEC),
            about("PIM1", INC),
        ],
    )
    assert await all_conflicts(db, settings) == []

    mutation = """mutation($input: AddInterventionActionInput!) { addInterventionAction(input: $input) {
        intervention { name actions { target { symbol } action } } userErrors { message code } } }"""
    body = await post(
        settings,
        db,
        mutation,
        {"input": {"intervention": "orphanib", "target": "TNF", "action": "ACTIVATES"}},
        world.tokens["cora"],
    )
    assert not body.get("errors"), body
    payload = body["data"]["addInterventionAction"]
    assert payload["userErrors"] == [], payload
    assert payload["intervention"]["actions"] == [{"target": {"symbol": "TNF"}, "action": "ACTIVATES"}]
    (conflict,) = await all_conflicts(db, settings)
    assert (conflict["target"]["symbol"], conflict["outcome"]["name"]) == ("TNF", "disease activity"), (
        "orphanib now activates TNF: its DECREASES opposes TNF's INCREASES"
    )
    assert await _has_conflict(db, settings) == {tnf, orphanib}

    async with db.write(world.curator) as w:
        await add_action(w, "orphanib", ActionInput("IL-10", TargetAction.INHIBITS))
        await add_action(w, "orphanib", ActionInput("PIM1", TargetAction.BINDS))
    conflicts = await all_conflicts(db, settings)
    assert _keys(conflicts) == {("TNF", "disease activity"), ("IL-10", "disease activity")}, (
        "inhibiting IL-10 turns orphanib's DECREASES into INCREASES against IL-10's DECREASES; "
        "binding PIM1 gives no direction"
    )
    assert sorted(pair_ids(p)[1] for p in await claim_pairs(db, settings, orphanib)) == [tnf, il10]
    data = await gql(
        db,
        settings,
        """query($id: ID!) { pim1: target(symbol: "PIM1") { claims { nodes { id } } conflicts { totalCount } }
             claim: node(id: $id) { ... on Claim { targets { symbol } } } }""",
        {"id": gid("Claim", orphanib)},
    )
    assert {int_of(n["id"]) for n in data["pim1"]["claims"]["nodes"]} == {pim1, orphanib}
    assert data["pim1"]["conflicts"]["totalCount"] == 0
    assert sorted(t["symbol"] for t in data["claim"]["targets"]) == ["IL-10", "PIM1", "TNF"]
