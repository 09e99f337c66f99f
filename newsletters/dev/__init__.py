"""The development mailbox viewer, mounted only when mail is not sent over SMTP."""

from newsletters.dev.routes import bp

__all__ = ["bp"]
