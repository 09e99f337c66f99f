"""The ``flask`` command groups, one module per domain. Each command wraps one service call."""

from flask import Flask

from newsletters.cli import issue_control  # noqa: F401  (adds send control to flask digest)
from newsletters.cli.bounces import bounces_cli
from newsletters.cli.catalogue import newsletter_cli
from newsletters.cli.deliveries import deliveries_cli
from newsletters.cli.issues import digest_cli, feeds_cli
from newsletters.cli.operations import admin_cli, check, outbox_cli
from newsletters.cli.readers import subscribers_cli
from newsletters.cli.webhooks import webhooks_cli


def register_cli(app: Flask) -> None:
    """Add the command groups to ``flask``."""
    groups = (newsletter_cli, outbox_cli, digest_cli, feeds_cli, admin_cli, subscribers_cli)
    for group in (*groups, bounces_cli, webhooks_cli, deliveries_cli):
        app.cli.add_command(group)
    app.cli.add_command(check)
