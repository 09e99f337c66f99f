"""Reader-facing pages: signup, confirmation, preferences, unsubscribe, and the archive."""

from newsletters.public import archive, frequencies
from newsletters.public.routes import bp

__all__ = ["archive", "bp", "frequencies"]
