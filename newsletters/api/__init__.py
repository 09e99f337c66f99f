"""The JSON API under /api/v1, for publishers' own forms and their CMS."""

from newsletters.api import (  # noqa: F401 - importing them registers their routes
    issues,
    readers,
    webhook_endpoints,
)
from newsletters.api.routes import bp

__all__ = ["bp"]
