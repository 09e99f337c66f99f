"""Integrations: what the service tells other systems (signed outgoing webhooks)."""
