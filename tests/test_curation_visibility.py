"""Who sees which claims, in lists and by node(id) (schema/visibility.py, domain.md): anyone sees
ACCEPTED claims; a curator also sees their own drafts, submissions and rejected claims, never
another curator's; reviewers and admins see every claim, retracted ones included.
"""

from __future__ import annotations

from curation_helpers import Api, World, accepted_claim, build_world, create_claim

from api.store.db import Database

CLAIMS = "query($f: ClaimFilter) { claims(filter: $f, first: 100) { totalCount nodes { id status } } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Claim { id status } } }"


async def _claims_in_every_state(api: Api, world: World) -> dict[str, dict]:
    """alice: a draft, a submitted, a rejected, an accepted and a retracted claim; bob: a draft and
    a submitted one. Sample types keep the findings distinct."""
    rita, rex = world.tokens["rita"], world.tokens["rex"]
    made = {
        "alice draft": await create_claim(api, world, "alice", sampleType="s1"),
        "alice submitted": await create_claim(api, world, "alice", sampleType="s2", submit=True),
        "bob draft": await create_claim(api, world, "bob", sampleType="s3"),
        "bob submitted": await create_claim(api, world, "bob", sampleType="s4", submit=True),
        "alice accepted": await accepted_claim(api, world, "alice", "rita", sampleType="s5"),
    }
    rejected = await create_claim(api, world, "alice", sampleType="s6", submit=True)
    made["alice rejected"] = await api.ok(
        "reviewClaim",
        {"id": rejected["id"], "expectedVersion": 1, "decision": "REJECT", "comment": "no"},
        token=rita,
    )
    retracted = await accepted_claim(api, world, "alice", "rita", sampleType="s7")
    made["alice retracted"] = await api.ok(
        "retractClaim", {"id": retracted["id"], "expectedVersion": 2, "reason": "withdrawn"}, token=rex
    )
    return made


VISIBLE = {
    None: {"alice accepted"},
    "ray": {"alice accepted"},
    "alice": {"alice draft", "alice submitted", "alice accepted", "alice rejected"},
    "bob": {"bob draft", "bob submitted", "alice accepted"},
    "rita": {
        "alice draft",
        "alice submitted",
        "bob draft",
        "bob submitted",
        "alice accepted",
        "alice rejected",
        "alice retracted",
    },
}
VISIBLE["ada"] = VISIBLE["rita"]


async def test_each_viewer_sees_what_their_role_allows(api: Api, db: Database) -> None:
    world = await build_world(db)
    made = await _claims_in_every_state(api, world)
    names = {c["id"]: name for name, c in made.items()}
    for viewer, expected in VISIBLE.items():
        token = world.tokens[viewer] if viewer else None
        who = viewer or "anonymous"

        listed = (await api.data(CLAIMS, token=token))["claims"]
        seen = {names[c["id"]] for c in listed["nodes"]}
        assert seen == expected, f"{who} lists {sorted(seen)}, expected {sorted(expected)}"
        assert listed["totalCount"] == len(expected), f"{who}: totalCount {listed['totalCount']}"

        for name, claim in made.items():
            state = await api.state(claim["id"], token=token)
            if name in expected:
                assert state == (claim["status"], claim["version"]), f"{who} cannot fetch {name}: {state}"
            else:
                assert state is None, f"{who} fetched {name} by node(id): {state}"

        ids = [c["id"] for c in made.values()]
        nodes = (await api.data(NODES, {"ids": ids}, token=token))["nodes"]
        by_nodes = {names[n["id"]] for n in nodes if n}
        assert by_nodes == expected, f"{who} sees {sorted(by_nodes)} through nodes(ids)"

        # Lists reached through other objects obey the same rule.
        target = await api.data(
            '{ target(symbol: "IL-6R") { claims(first: 100) { totalCount } } }', token=token
        )
        assert target["target"]["claims"]["totalCount"] == len(expected), f"{who}: Target.claims"

    # A status filter cannot widen what a viewer sees.
    hidden = ["DRAFT", "SUBMITTED", "REJECTED", "RETRACTED"]
    for viewer in (None, "ray"):
        token = world.tokens[viewer] if viewer else None
        listed = (await api.data(CLAIMS, {"f": {"status": hidden}}, token=token))["claims"]
        assert listed["totalCount"] == 0 and listed["nodes"] == [], f"{viewer or 'anonymous'} saw {listed}"

    alice = await api.data(CLAIMS, {"f": {"status": ["DRAFT", "SUBMITTED"]}}, token=world.tokens["alice"])
    assert {c["id"] for c in alice["claims"]["nodes"]} == {
        made["alice draft"]["id"],
        made["alice submitted"]["id"],
    }, "alice's status filter should find her own drafts and submissions only, not bob's"

    rita = (await api.data(CLAIMS, {"f": {"status": ["RETRACTED"]}}, token=world.tokens["rita"]))["claims"]
    assert [c["id"] for c in rita["nodes"]] == [made["alice retracted"]["id"]], rita
