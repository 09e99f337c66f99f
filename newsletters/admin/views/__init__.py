"""The admin pages, one module per area; importing them registers them on the blueprint."""

from newsletters.admin.views import (  # noqa: F401
    account,
    auth,
    content,
    deliverability,
    home,
    imports,
    issue_control,
    issue_editor,
    lists,
    newsletters,
    subscribers,
    tokens,
    webhooks,
)
