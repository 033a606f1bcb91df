"""HTTP for client teams, around the GraphQL endpoint: GraphQL over HTTP's media types and status
codes (graphql_over_http.py), JSON for every refusal (errors.py), persisted queries
(persisted.py), caching and compression (caching.py, static.py, layers.py), and GraphiQL's
example tabs (graphiql.py). api/app.py wires them in; the logic lives here."""
