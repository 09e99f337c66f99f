"""Reader-facing pages: signup, confirmation, preferences, unsubscribe."""

from newsletters.public.routes import bp

__all__ = ["bp"]
