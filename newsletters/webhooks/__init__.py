"""Webhooks that sending services call: bounce and complaint reports, at /webhooks."""

from newsletters.webhooks.routes import bp

__all__ = ["bp"]
