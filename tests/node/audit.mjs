// The GraphQL-over-HTTP spec's own audit (graphql-http's serverAudits) against a running server:
// `node audit.mjs http://127.0.0.1:8000/graphql` prints one JSON object: the counts by status
// and every audit that is not "ok", with the answer it got.
import { serverAudits } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs <graphql endpoint URL>");
  process.exit(2);
}
const counts = { ok: 0, warn: 0, error: 0 };
const problems = [];
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  counts[result.status] += 1;
  if (result.status !== "ok") {
    const response = result.response;
    problems.push({
      name: audit.name,
      status: result.status,
      reason: result.reason,
      response: response && {
        status: response.status,
        contentType: response.headers.get("content-type"),
        body: (await response.text()).slice(0, 500),
      },
    });
  }
}
console.log(JSON.stringify({ total: counts.ok + counts.warn + counts.error, ...counts, problems }));
