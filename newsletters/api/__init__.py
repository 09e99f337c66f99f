"""The JSON API under /api/v1, for publishers' own forms and their CMS."""

from newsletters.api import webhook_endpoints as _webhook_routes  # noqa: F401  (routes on bp)
from newsletters.api.routes import bp

__all__ = ["bp"]
