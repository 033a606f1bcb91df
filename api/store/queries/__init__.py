"""Store queries: every read claimsdb makes (filters, keyset pages, batched loads)."""
