"""GraphiQL that teaches: the page opens with one tab per thing people come to claimsdb for.

Strawberry's GraphiQL page (strawberry/static/graphiql.html) opens on a comment. `graphiql_page`
gives it GraphiQL's `defaultTabs` (a frontend's filtered claims, conflicts, an evidence summary, a
curator's createClaim with variables, a reviewer's queue), used when the browser has no tabs of
its own stored yet, and keeps its `?q=` links working. tests/test_graphiql_tabs.py validates every
example against the schema and runs it on the seeded database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ExampleTab:
    query: str
    variables: str | None = None
    headers: str | None = None
    # The role whose token the tab's headers ask for (None: anonymous).
    role: str | None = None

    def as_graphiql(self) -> dict[str, str]:
        tab = {"query": self.query}
        if self.variables is not None:
            tab["variables"] = self.variables
        if self.headers is not None:
            tab["headers"] = self.headers
        return tab


def _token_header(role: str) -> str:
    return json.dumps(
        {"Authorization": f"Bearer <a {role}'s token: claimsdb users add NAME --role {role}>"}, indent=2
    )


CLAIMS_ON_A_TARGET = ExampleTab(
    query="""\
# What is known about IL-6R in multiple sclerosis (and its
# subtypes), in people? Name a target by symbol, alias or CURIE
# (IL-6R, il6r, CD126, HGNC:6019); claims about drugs acting on
# it (tocilizumab, sarilumab) count too. Page on with `after`.
query ClaimsOnIL6R($after: String) {
  claims(
    filter: {target: "IL-6R", condition: "MS", organism: "human"}
    first: 10
    after: $after
  ) {
    totalCount
    nodes {
      id
      statement
      direction
      modality
      evidenceType
      status
      subject {
        __typename
        ... on Target { symbol }
        ... on Intervention { name }
      }
      targets { symbol }
      outcome { name }
      organism { scientificName }
      condition { name parent { name } }
      cohort { label size treatmentStatus sampleType }
      comparator { label size }
      statistics { effectSize effectMeasure pValue ciLow ciHigh }
      source { title year doi pmid kind derivedFrom { title doi } }
      evidence { quote locator stance }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""",
)

CONFLICTS = ExampleTab(
    query="""\
# Where do findings about MIF disagree, and what differs
# between the claims that do? DIRECT: same organism and
# condition; CONTEXTUAL: the context differs (`differences`).
query MifConflicts {
  conflicts(filter: {target: "MIF"}, first: 5) {
    totalCount
    nodes {
      kind
      target { symbol }
      outcome { name }
      directionCounts { direction count }
      pairs(first: 3) {
        totalCount
        nodes {
          kind
          left {
            statement direction
            organism { commonName } condition { name }
          }
          right {
            statement direction
            organism { commonName } condition { name }
          }
          differences { aspect left right }
        }
      }
    }
  }
}
""",
)

EVIDENCE_SUMMARY = ExampleTab(
    query="""\
# What do the claims bearing on IL-6R say, cell by cell
# (direction × condition × outcome)?
query IL6REvidence {
  evidenceSummary(target: "IL-6R") {
    target { symbol name }
    total
    cells {
      direction
      count
      condition { name }
      outcome { name }
    }
  }
}
""",
)

CREATE_CLAIM = ExampleTab(
    query="""\
# A curator enters a claim, as a DRAFT (`submit: true` sends
# it to the reviewers at once). Put your curator token in
# Headers below. Names resolve as in filters (aliases, CURIEs);
# an unknown one comes back in `userErrors` with what it could
# have meant.
mutation CreateClaim($input: CreateClaimInput!) {
  createClaim(input: $input) {
    claim {
      id
      version
      status
      statement
      subject { ... on Target { symbol } }
      outcome { name }
      condition { name }
      source { title }
    }
    userErrors { field message code }
  }
}
""",
    variables=json.dumps(
        {
            "input": {
                "statement": "MIF levels in the cerebrospinal fluid are increased in secondary "
                "progressive multiple sclerosis.",
                "source": "10.1016/j.jns.2022.120320",
                "target": "MIF",
                "outcome": "CSF MIF level",
                "direction": "INCREASES",
                "modality": "ASSERTED",
                "evidenceType": "OBSERVATIONAL",
                "organism": "human",
                "condition": "SPMS",
                "sampleType": "CSF",
                "evidence": [
                    {
                        "quote": "MIF in the cerebrospinal fluid is decreased during relapsing-remitting "
                        "while increased in secondary progressive multiple sclerosis",
                        "locator": "Title",
                        "stance": "SUPPORTS",
                    }
                ],
            }
        },
        indent=2,
    ),
    headers=_token_header("curator"),
    role="curator",
)

REVIEW_QUEUE = ExampleTab(
    query="""\
# A reviewer's queue: submitted claims and proposed
# revisions of accepted claims, oldest first, with what a
# reviewer checks (the quote, its source chain, who entered
# it, the change proposed). Put your reviewer token in
# Headers below; then decide with reviewClaim(input: {id,
# expectedVersion, decision: ACCEPT}) or
# reviewRevision(input: {id, decision: ACCEPT}).
query ReviewQueue($after: String) {
  reviewQueue(first: 20, after: $after) {
    totalCount
    nodes {
      __typename
      ... on Claim {
        id
        version
        statement
        direction
        modality
        evidenceType
        updatedAt
        createdBy { name orcid }
        outcome { name }
        organism { scientificName }
        condition { name }
        source { title doi derivedFrom { title doi } }
        evidence { quote locator stance source { title } }
      }
      ... on Revision {
        id
        baseVersion
        comment
        createdAt
        createdBy { name }
        claim { id version statement }
        changes { field before after }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    headers=_token_header("reviewer"),
    role="reviewer",
)

EXAMPLE_TABS: tuple[ExampleTab, ...] = (
    CLAIMS_ON_A_TARGET,
    CONFLICTS,
    EVIDENCE_SUMMARY,
    CREATE_CLAIM,
    REVIEW_QUEUE,
)

# The places in Strawberry's page this module changes; each must occur exactly once, so a
# Strawberry upgrade that reshapes the page fails loudly (tests) rather than losing the tabs.
_INITIAL_QUERY = "parameters.q || EXAMPLE_QUERY"
_PROPS = "fetcher: fetcher,"
_FETCH_URL = "const fetchURL ="
_TITLE = "<title>Strawberry GraphiQL</title>"


def _replace_once(html: str, old: str, new: str) -> str:
    if html.count(old) != 1:
        raise RuntimeError(
            f"GraphiQL's page no longer holds {old!r} exactly once; update api/http/graphiql.py"
        )
    return html.replace(old, new)


def graphiql_page(html: str, tabs: tuple[ExampleTab, ...] = EXAMPLE_TABS) -> str:
    """Strawberry's GraphiQL page opening with `tabs` (a `?q=` link still opens its query)."""
    tabs_json = json.dumps([tab.as_graphiql() for tab in tabs]).replace("</", "<\\/")
    html = _replace_once(html, _TITLE, "<title>claimsdb GraphiQL</title>")
    html = _replace_once(html, _FETCH_URL, f"const CLAIMSDB_TABS = {tabs_json};\n      {_FETCH_URL}")
    # Without a `?q=` the editor is left to the tabs (GraphiQL's `query` prop would override them).
    html = _replace_once(html, _INITIAL_QUERY, "parameters.q")
    return _replace_once(html, _PROPS, f"{_PROPS}\n          defaultTabs: CLAIMSDB_TABS,")
