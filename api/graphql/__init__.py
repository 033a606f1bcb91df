"""The GraphQL layer: Strawberry types built from store rows, loaders, limits, the schema factory.
No SQL here: everything is read and written through api.store."""
