"""The object graph is declared once: a field added in one place is served by both read paths.

A to-one field on Claim is one line in its type (`related(...)`), plus, when the relation is new,
one entry in api/store/queries/relations.py. Nothing else (no planner table, no loader, no
document description) needs to know: the resolvers build the field through the DataLoaders, and
the compiled read path reads the same declaration from the schema and has the database build it.
These tests add such throwaway fields in a type of their own (extending Claim) and run a claims
page through both paths.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import strawberry
from graphql_client import make_context

from api.graphql.compiled import CompiledQueries, Outcome, outcomes
from api.graphql.inputs import ClaimFilter, ClaimOrder
from api.graphql.loaders import ShareReadSession
from api.graphql.types.claims import Claim, Evidence, resolve_claims
from api.graphql.types.common import Connection, GraphQLInfo
from api.graphql.types.fields import SOURCE, ClaimListing, listed, related
from api.graphql.types.sources import Source, User
from api.graphql.types.vocabulary import Outcome as OutcomeType
from api.settings import Settings
from api.store.db import Database
from api.store.queries import relations
from api.store.queries.relations import ToOne


@strawberry.type(name="ClaimPlus")
class ClaimWithThrowaways(Claim):
    # an existing relation: one line
    stated_in: Source = related("source")
    # a new relation (declared by the fixture below): one line here, one in relations.py
    last_editor: User | None = related("last_editor")
    # a list relation that exists: one line
    outcome_again: OutcomeType = related("outcome")
    quotes_again: list[Evidence] = listed("evidence")


@strawberry.type(name="ClaimAstray")
class ClaimNamingNoRelation(Claim):
    nowhere: User | None = related("nowhere")


async def _claims(info: GraphQLInfo, node: type[Claim], **arguments: Any) -> Connection[Claim]:
    names = ("filter", "order_by", "first", "after", "last", "before")
    return await resolve_claims(info, *(arguments.get(n) for n in names), node=node)


@strawberry.type
class ThrowawayQuery:
    @strawberry.field(metadata={SOURCE: ClaimListing()})
    async def claims(
        self,
        info: GraphQLInfo,
        filter: ClaimFilter | None = None,
        order_by: ClaimOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ClaimWithThrowaways]:
        arguments = dict(filter=filter, order_by=order_by, first=first, after=after, last=last, before=before)
        return await _claims(info, ClaimWithThrowaways, **arguments)  # type: ignore[return-value]


@strawberry.type
class AstrayQuery:
    @strawberry.field(metadata={SOURCE: ClaimListing()})
    async def claims(self, info: GraphQLInfo, first: int | None = None) -> Connection[ClaimNamingNoRelation]:
        return await _claims(info, ClaimNamingNoRelation, first=first)  # type: ignore[return-value]


@pytest.fixture
def last_editor_relation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one declaration a new relation needs."""
    monkeypatch.setitem(
        relations.RELATIONS,
        ("claim", "last_editor"),
        ToOne("claim", "last_editor", "user", "last_edited_by_id"),
    )


def _schema(compiled: bool, query: type = ThrowawayQuery) -> strawberry.Schema:
    extensions: list[Any] = [ShareReadSession]
    if compiled:
        extensions.insert(0, CompiledQueries)
    return strawberry.Schema(query=query, extensions=extensions)


QUERY = """{ claims(first: 5, filter: {target: "IL-6R"}) { totalCount nodes {
  id statement statedIn { id title doi } lastEditor { name } outcomeAgain { name aliases }
  quotesAgain { quote locator source { title } }
} } }"""


async def test_a_throwaway_field_is_served_by_both_paths(
    seeded_db: Database, settings: Settings, last_editor_relation: None
) -> None:
    answers = {}
    for compiled in (True, False):
        with outcomes() as seen:
            result = await _schema(compiled).execute(
                QUERY, context_value=await make_context(seeded_db, settings)
            )
        assert not result.errors, result.errors
        if compiled:
            assert seen == [Outcome(True, "")], f"the compiled path did not answer: {seen}"
        answers[compiled] = orjson.dumps(result.data)
    assert answers[True] == answers[False], "the two paths answer differently"
    nodes = orjson.loads(answers[True])["claims"]["nodes"]
    assert nodes, "IL-6R has seeded claims"
    for node in nodes:
        assert node["statedIn"]["title"], node
        assert node["lastEditor"] == {"name": "seed"}, node
        assert node["quotesAgain"] and all(q["quote"] for q in node["quotesAgain"]), node


async def test_a_field_naming_an_undeclared_relation_says_where_to_declare_it(
    seeded_db: Database, settings: Settings
) -> None:
    """Without its relation the resolvers refuse with a message a maintainer can act on, and
    the compiled path does not build anything (it falls back to them)."""
    with outcomes() as seen:
        result = await _schema(True, AstrayQuery).execute(
            "{ claims(first: 1) { nodes { nowhere { name } } } }",
            context_value=await make_context(seeded_db, settings),
        )
    assert seen and not seen[0].compiled and "nowhere" in seen[0].reason, seen
    assert result.errors and "relations.py" in str(result.errors[0].original_error), result.errors
