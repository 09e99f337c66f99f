"""The JSON API under /api/v1, for publishers' own forms and their CMS."""

from newsletters.api.routes import bp

__all__ = ["bp"]
