// The documents a frontend sends claimsdb, as typed documents: graphql-codegen types each
// result and its variables from api/schema.graphql, and tsc (strict) checks the code below
// against them, so a schema change that breaks a frontend fails the build.
import { graphql } from "../generated/gql";

export const ClaimsPage = graphql(`
  query ClaimsPage($filter: ClaimFilter, $first: Int, $after: String) {
    claims(filter: $filter, first: $first, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        statement
        direction
        modality
        evidenceType
        status
        createdAt
        subject {
          __typename
          ... on Target {
            symbol
          }
          ... on Intervention {
            name
          }
        }
        outcome {
          name
        }
        organism {
          scientificName
        }
        condition {
          name
        }
        cohort {
          label
          size
        }
        source {
          title
          year
          doi
        }
        evidence {
          quote
          locator
          stance
        }
      }
    }
  }
`);

export const TargetConflicts = graphql(`
  query TargetConflicts($target: String!, $first: Int) {
    conflicts(filter: { target: $target }, first: $first) {
      totalCount
      nodes {
        id
        kind
        outcome {
          name
        }
        directionCounts {
          direction
          count
        }
        pairs(first: 3) {
          nodes {
            kind
            left {
              id
              statement
            }
            right {
              id
              statement
            }
            differences {
              aspect
              left
              right
            }
          }
        }
      }
    }
  }
`);

export const EvidenceSummary = graphql(`
  query EvidenceSummary($target: String!, $filter: ClaimFilter) {
    evidenceSummary(target: $target, filter: $filter) {
      total
      target {
        symbol
      }
      cells {
        direction
        count
        condition {
          name
        }
        outcome {
          name
        }
      }
    }
  }
`);

export const CreateClaim = graphql(`
  mutation CreateClaim($input: CreateClaimInput!) {
    createClaim(input: $input) {
      claim {
        id
        version
        status
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`);
