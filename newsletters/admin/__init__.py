"""The admin console under /admin, for the publisher's audience team."""

from newsletters.admin import views  # noqa: F401 - importing the views registers them on bp
from newsletters.admin.blueprint import bp

__all__ = ["bp"]
