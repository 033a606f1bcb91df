// A frontend's thin client over the typed documents: what it compiles is what it may send.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";

import type {
  ClaimFilter,
  ClaimsPageQuery,
  CreateClaimInput,
  CreateClaimMutation,
  EffectDirection,
  EvidenceSummaryQuery,
  TargetConflictsQuery,
} from "../generated/graphql";
import { ClaimsPage, CreateClaim, EvidenceSummary, TargetConflicts } from "./documents";

export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

export async function request<Result, Variables>(
  url: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  token?: string,
): Promise<Result> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json;q=0.9",
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: Result; errors?: GraphQLError[] };
  if (body.errors?.length || body.data === undefined) {
    throw new Error(body.errors?.map((e) => `${e.extensions?.code}: ${e.message}`).join("; "));
  }
  return body.data;
}

export async function statementsAbout(url: string, target: string): Promise<string[]> {
  const filter: ClaimFilter = { target, organism: "human", direction: ["INCREASES", "DECREASES"] };
  const page: ClaimsPageQuery = await request(url, ClaimsPage, { filter, first: 20 });
  return page.claims.nodes.map((claim) => {
    const subject = claim.subject.__typename === "Target" ? claim.subject.symbol : claim.subject.name;
    const where = claim.condition?.name ?? "any condition";
    return `${subject} ${claim.direction.toLowerCase()} ${claim.outcome.name} (${where}): ${claim.statement}`;
  });
}

export async function disagreements(url: string, target: string): Promise<Array<[string, number]>> {
  const result: TargetConflictsQuery = await request(url, TargetConflicts, { target, first: 10 });
  return result.conflicts.nodes.map((conflict) => [
    `${conflict.kind} on ${conflict.outcome.name}`,
    conflict.pairs.nodes.reduce((sum, pair) => sum + pair.differences.length, 0),
  ]);
}

export async function cells(url: string, target: string): Promise<Map<EffectDirection, number>> {
  const result: EvidenceSummaryQuery = await request(url, EvidenceSummary, { target });
  const counts = new Map<EffectDirection, number>();
  for (const cell of result.evidenceSummary.cells) {
    counts.set(cell.direction, (counts.get(cell.direction) ?? 0) + cell.count);
  }
  return counts;
}

export async function enter(url: string, token: string, input: CreateClaimInput): Promise<string> {
  const result: CreateClaimMutation = await request(url, CreateClaim, { input }, token);
  const problems = result.createClaim.userErrors;
  if (problems.length > 0) {
    throw new Error(problems.map((e) => `${e.field?.join(".") ?? ""}: ${e.message} (${e.code})`).join("; "));
  }
  const claim = result.createClaim.claim;
  if (claim === null || claim === undefined) throw new Error("createClaim returned no claim");
  return `${claim.id} v${claim.version} ${claim.status}`;
}
