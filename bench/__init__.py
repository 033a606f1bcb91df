"""claimsdb's own benchmark (engineering.md, "Performance stance").

- bench.generate: deterministic, realistic data at any size (a million claims), vocabulary
  through the store commands and claims through api.store.bulk;
- bench.scenarios: the GraphQL reads and writes measured (Q1-Q5, M1), each with a check;
- bench.baseline: the physical limit for the reads (hand-written SQL + orjson);
- bench.peer: PostGraphile v4 on the same PostgreSQL database, when node and npm are there;
- bench.harness / bench.http_load: in-process and HTTP measurements, reported as ratios
  taken in one run (`claimsdb bench`).
"""
