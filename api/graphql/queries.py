"""The root Query type."""

from __future__ import annotations

import asyncio

import strawberry

from api.graphql.auth import require_role
from api.graphql.errors import ClientError
from api.graphql.ids import from_global_id, int_key
from api.graphql.inputs import ClaimFilter, ClaimOrder, SourceFilter, vocabulary_reference
from api.graphql.types.audit import AuditEvent, AuditFilter, resolve_audit
from api.graphql.types.claims import Claim, resolve_claims
from api.graphql.types.common import (
    Connection,
    GraphQLInfo,
    Node,
    page_request,
    paged,
    to_connection,
)
from api.graphql.types.conflicts import Conflict, ConflictFilter, load_conflict, resolve_conflicts
from api.graphql.types.enums import SearchKind
from api.graphql.types.fields import SOURCE, ClaimListing, RowObject
from api.graphql.types.flags import Flag
from api.graphql.types.nodes import BY_NAME
from api.graphql.types.releases import Release, resolve_release, resolve_releases
from api.graphql.types.revisions import ReviewItem, ReviewQueueFilter, resolve_review_queue
from api.graphql.types.search import SearchHit, resolve_search
from api.graphql.types.sources import Source, User
from api.graphql.types.summary import EvidenceSummary, read_summary
from api.graphql.types.vocabulary import Condition, Intervention, Organism, Outcome, Target
from api.store.queries.audit import AuditFilterSpec
from api.store.queries.conflicts import ConflictFilterSpec
from api.store.queries.vocabulary import source_by_identifier, sources_page, vocabulary_page
from api.store.resolve import lookup_id
from schema.enums import Role, VocabularyKind

MAX_NODES = 100
# Search text is matched with LIKE over names and titles; longer text names nothing real, and
# SQLite refuses very long patterns ("LIKE or GLOB pattern too complex").
MAX_SEARCH = 200


def _checked_search(text: str | None, argument: str) -> str | None:
    if text is not None and len(text) > MAX_SEARCH:
        raise ClientError(f"{argument} is {len(text)} characters; at most {MAX_SEARCH} are allowed")
    return text


async def load_node(info: GraphQLInfo, global_id: str) -> Node | None:
    """Any object by global ID; null when unknown, malformed or not visible to the viewer."""
    parsed = from_global_id(global_id)
    if parsed is None:
        return None
    type_name, key = parsed
    if type_name == "Conflict":
        return await load_conflict(info, key)
    node_type = BY_NAME.get(type_name)
    row_id = int_key(key)
    if node_type is None or row_id is None or not issubclass(node_type, RowObject):
        return None
    if node_type is AuditEvent and not info.context.actor.can(Role.REVIEWER):
        return None  # audit events: reviewers only, like the log itself
    row = await info.context.loaders.rows(node_type.__entity__).load(row_id)
    if row is None:
        return None
    if node_type is Claim and not info.context.visibility.allows(row.status, row.created_by_id):
        return None
    if node_type is Flag:
        # A flag is seen with its claim: one on a claim the viewer may not see is not found.
        claim = await info.context.loaders.claim.load(row.claim_id)
        if claim is None or not info.context.visibility.allows(claim.status, claim.created_by_id):
            return None
    return node_type.from_row(row)  # type: ignore[no-any-return]


async def _vocabulary(info: GraphQLInfo, kind: VocabularyKind, search: str | None, first, after, convert):  # type: ignore[no-untyped-def]
    ctx = info.context
    request = page_request(first, after, None, None)
    search = _checked_search(search, "search")
    async with ctx.db.read() as session:
        page = await paged(vocabulary_page(session, kind, search, request, ctx.db.read))
    return to_connection(page, convert)


async def _find(info: GraphQLInfo, kind: VocabularyKind, name: str):  # type: ignore[no-untyped-def]
    async with info.context.db.read() as session:
        return await lookup_id(session, kind, vocabulary_reference(kind, name))


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global ID; null if unknown or not visible to you.")
    async def node(self, info: GraphQLInfo, id: strawberry.ID) -> Node | None:
        return await load_node(info, id)

    @strawberry.field(description=f"Several objects by global ID, in order (at most {MAX_NODES}).")
    async def nodes(self, info: GraphQLInfo, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise ClientError(f"at most {MAX_NODES} ids per request; got {len(ids)}")
        # Gathered, so the loads of each type batch into one statement.
        return list(await asyncio.gather(*(load_node(info, i) for i in ids)))

    @strawberry.field(description="Who you are, from your API token; null without one.")
    async def viewer(self, info: GraphQLInfo) -> User | None:
        actor = info.context.actor
        if actor.user_id is None:
            return None
        row = await info.context.loaders.user.load(actor.user_id)
        return User.from_row(row) if row else None

    @strawberry.field(
        description="Claims, filtered and ordered (default: newest first).",
        metadata={SOURCE: ClaimListing()},
    )
    async def claims(
        self,
        info: GraphQLInfo,
        filter: ClaimFilter | None = None,
        order_by: ClaimOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Claim]:
        return await resolve_claims(info, filter, order_by, first, after, last, before)

    @strawberry.field(description="A target by symbol, alias or CURIE (IL-6R, il6r, CD126, HGNC:6019).")
    async def target(self, info: GraphQLInfo, symbol: str) -> Target | None:
        found = await _find(info, VocabularyKind.TARGET, symbol)
        return Target.from_row(await info.context.loaders.target.load(found)) if found else None

    @strawberry.field(description="Targets in symbol order; `search` matches any of their names.")
    async def targets(
        self, info: GraphQLInfo, search: str | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Target]:
        return await _vocabulary(info, VocabularyKind.TARGET, search, first, after, Target.from_row)

    @strawberry.field(description="An intervention by name, alias or CURIE.")
    async def intervention(self, info: GraphQLInfo, name: str) -> Intervention | None:
        found = await _find(info, VocabularyKind.INTERVENTION, name)
        return Intervention.from_row(await info.context.loaders.intervention.load(found)) if found else None

    @strawberry.field
    async def interventions(
        self, info: GraphQLInfo, search: str | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Intervention]:
        return await _vocabulary(
            info, VocabularyKind.INTERVENTION, search, first, after, Intervention.from_row
        )

    @strawberry.field
    async def conditions(
        self, info: GraphQLInfo, search: str | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Condition]:
        return await _vocabulary(info, VocabularyKind.CONDITION, search, first, after, Condition.from_row)

    @strawberry.field
    async def organisms(
        self, info: GraphQLInfo, first: int | None = None, after: str | None = None
    ) -> Connection[Organism]:
        return await _vocabulary(info, VocabularyKind.ORGANISM, None, first, after, Organism.from_row)

    @strawberry.field
    async def outcomes(
        self, info: GraphQLInfo, search: str | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Outcome]:
        return await _vocabulary(info, VocabularyKind.OUTCOME, search, first, after, Outcome.from_row)

    @strawberry.field(description="A source by DOI (any spelling) or PMID.")
    async def source(
        self, info: GraphQLInfo, doi: str | None = None, pmid: str | None = None
    ) -> Source | None:
        async with info.context.db.read() as session:
            row = await source_by_identifier(session, doi, pmid)
        return Source.from_row(row) if row else None

    @strawberry.field(description="Sources, newest first.")
    async def sources(
        self,
        info: GraphQLInfo,
        filter: SourceFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Source]:
        ctx = info.context
        request = page_request(first, after, None, None)
        f = filter or SourceFilter()
        _checked_search(f.text, "filter.text")
        async with ctx.db.read() as session:
            derived_from = f.derived_from_source()
            page = await paged(sources_page(session, f.kind, f.text, derived_from, request, ctx.db.read))
        return to_connection(page, Source.from_row)

    @strawberry.field(description="Questions (target, outcome) on which visible claims disagree.")
    async def conflicts(
        self,
        info: GraphQLInfo,
        filter: ConflictFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Conflict]:
        spec = filter.to_spec() if filter else ConflictFilterSpec()
        return await resolve_conflicts(info, spec, first, after)

    @strawberry.field(description="The audit log, newest first. Needs the reviewer role.")
    async def audit_log(
        self,
        info: GraphQLInfo,
        filter: AuditFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEvent]:
        require_role(info, Role.REVIEWER, "reading the audit log")
        spec = filter.to_spec() if filter else AuditFilterSpec()
        return await resolve_audit(info, spec, first, after, newest_first=True)

    @strawberry.field(
        description=(
            "Typeahead over targets, interventions, conditions, outcomes, organisms and sources (by "
            "name, alias, CURIE, title, DOI or PMID: exact first, then prefix, substring and close "
            "names) and over claims (by text, web-search syntax); best first. At most 50."
        )
    )
    async def search(
        self, info: GraphQLInfo, text: str, kinds: list[SearchKind] | None = None, first: int | None = None
    ) -> list[SearchHit]:
        return await resolve_search(info, text, kinds, first)

    @strawberry.field(description="Published data releases, newest first; files at /releases/<name>/<file>.")
    async def releases(self, info: GraphQLInfo) -> list[Release]:
        return await resolve_releases(info)

    @strawberry.field(description="A published data release by name; null if there is none.")
    async def release(self, info: GraphQLInfo, name: str) -> Release | None:
        return await resolve_release(info, name)

    @strawberry.field(
        description=(
            "What reviewers have to decide: submitted claims and pending revisions, oldest first. "
            "Needs the reviewer role."
        )
    )
    async def review_queue(
        self,
        info: GraphQLInfo,
        filter: ReviewQueueFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ReviewItem]:
        return await resolve_review_queue(info, filter, first, after)

    @strawberry.field(description="What the visible claims bearing on a target say, cell by cell.")
    async def evidence_summary(
        self, info: GraphQLInfo, target: str, filter: ClaimFilter | None = None
    ) -> EvidenceSummary:
        found = await read_summary(info.context, target, filter)
        if found is None:
            return EvidenceSummary(target=None, cells=[], total=0)
        target_row = await info.context.loaders.target.load(found.target_id)
        return await EvidenceSummary.of(info, Target.from_row(target_row), found.cells, found.total, filter)
