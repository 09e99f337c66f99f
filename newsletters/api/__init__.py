"""The JSON API under /api/v1, for publishers' own forms and their CMS."""

from newsletters.api import issues, readers  # noqa: F401 - importing them registers their routes
from newsletters.api.routes import bp

__all__ = ["bp"]
