"""Store commands: every write claimsdb makes, each inside one `Database.write()` transaction
that also records its audit event. The GraphQL mutations, the CLI and the seed loader call these."""
