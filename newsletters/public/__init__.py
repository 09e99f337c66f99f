"""Reader-facing pages: signup, confirmation, preferences, unsubscribe, and the archive."""

from newsletters.public import archive, counting, frequencies
from newsletters.public.routes import bp

__all__ = ["archive", "bp", "counting", "frequencies"]
