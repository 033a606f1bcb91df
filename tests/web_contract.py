"""The part of the curation contract (../shared/design/api-contract.graphql, section "Curation
depth") that the API does not serve yet, as SDL extending api/schema.graphql. The workbench's
documents are validated against the schema with these additions, so the parts of the pages that
wait for them (revisions, flags, bearings, standing, the review queue) are known to ask for
exactly what the contract names. Names and types are copied from the contract; nothing here is
invented. Entries whose coordinates the served schema already has are skipped.

Not a test module (no `test_` prefix).
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_schema, extend_schema, parse

from api.settings import PROJECT_ROOT

# One definition per entry: (the coordinate that shows it is already served, its SDL).
CONTRACT_ADDITIONS: list[tuple[str, str]] = [
    ("RevisionStatus", "enum RevisionStatus { PENDING ACCEPTED REJECTED WITHDRAWN }"),
    ("RevisionDecision", "enum RevisionDecision { ACCEPT REJECT }"),
    ("SourceStanding", "enum SourceStanding { CURRENT CORRECTED EXPRESSION_OF_CONCERN RETRACTED }"),
    (
        "Revision",
        """type Revision implements Node {
          id: ID!  claim: Claim!  status: RevisionStatus!  baseVersion: Int!
          changes: [FieldChange!]!  comment: String
          createdBy: User  createdAt: DateTime!
          decidedBy: User  decidedAt: DateTime  decisionComment: String
        }""",
    ),
    (
        "RevisionConnection",
        """type RevisionEdge { cursor: String!  node: Revision! }
        type RevisionConnection { edges: [RevisionEdge!]!  nodes: [Revision!]!  pageInfo: PageInfo!
          totalCount: Int! }""",
    ),
    (
        "Bearing",
        "type Bearing { target: Target!  direction: EffectDirection  via: Intervention"
        "  action: TargetAction }",
    ),
    (
        "Flag",
        """type Flag implements Node {
          id: ID!  claim: Claim!  comment: String!  createdBy: User  createdAt: DateTime!
          resolvedBy: User  resolvedAt: DateTime  resolution: String
        }""",
    ),
    ("ReviewItem", "union ReviewItem = Claim | Revision"),
    (
        "ReviewItemConnection",
        """type ReviewItemEdge { cursor: String!  node: ReviewItem! }
        type ReviewItemConnection { edges: [ReviewItemEdge!]!  nodes: [ReviewItem!]!  pageInfo: PageInfo!
          totalCount: Int! }""",
    ),
    ("Claim.bearings", "extend type Claim { bearings: [Bearing!]! }"),
    (
        "Claim.revisions",
        "extend type Claim { revisions(status: [RevisionStatus!], first: Int, after: String): "
        "RevisionConnection! }",
    ),
    ("Claim.flags", "extend type Claim { flags(open: Boolean): [Flag!]!  openFlagCount: Int! }"),
    ("Claim.sourceStanding", "extend type Claim { sourceStanding: SourceStanding! }"),
    (
        "Source.standing",
        "extend type Source { standing: SourceStanding!  standingNote: String  standingSince: Date }",
    ),
    ("ClaimPayload.revision", "extend type ClaimPayload { revision: Revision }"),
    ("ReviewQueueFilter", "input ReviewQueueFilter { target: String  kind: [String!] }"),
    (
        "Query.reviewQueue",
        "extend type Query { reviewQueue(filter: ReviewQueueFilter, first: Int, after: String): "
        "ReviewItemConnection! }",
    ),
    (
        "ReviewRevisionInput",
        "input ReviewRevisionInput { id: ID!  decision: RevisionDecision!  comment: String }",
    ),
    ("WithdrawRevisionInput", "input WithdrawRevisionInput { id: ID! }"),
    ("FlagClaimInput", "input FlagClaimInput { claim: ID!  comment: String! }"),
    ("ResolveFlagInput", "input ResolveFlagInput { id: ID!  comment: String! }"),
    (
        "RevisionPayload",
        "type RevisionPayload { revision: Revision  claim: Claim  userErrors: [UserError!]! }",
    ),
    ("FlagPayload", "type FlagPayload { flag: Flag  userErrors: [UserError!]! }"),
    (
        "Mutation.reviewRevision",
        "extend type Mutation { reviewRevision(input: ReviewRevisionInput!): RevisionPayload! }",
    ),
    (
        "Mutation.withdrawRevision",
        "extend type Mutation { withdrawRevision(input: WithdrawRevisionInput!): RevisionPayload! }",
    ),
    ("Mutation.flagClaim", "extend type Mutation { flagClaim(input: FlagClaimInput!): FlagPayload! }"),
    ("Mutation.resolveFlag", "extend type Mutation { resolveFlag(input: ResolveFlagInput!): FlagPayload! }"),
]


def served_schema() -> GraphQLSchema:
    return build_schema((PROJECT_ROOT / "api" / "schema.graphql").read_text(encoding="utf-8"))


def contract_schema() -> GraphQLSchema:
    """The served schema plus every contract addition it does not have yet."""
    from api.web.features import has_coordinate

    schema = served_schema()
    for coordinate, sdl in CONTRACT_ADDITIONS:
        if not has_coordinate(schema, coordinate):
            schema = extend_schema(schema, parse(sdl))
    return schema
