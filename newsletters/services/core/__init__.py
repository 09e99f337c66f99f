"""The floor every domain stands on: transactions, SQL helpers, idempotency, tokens, addresses."""
