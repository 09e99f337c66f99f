"""flask outbox, flask admin and flask check: running the service."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from newsletters import preflight
from newsletters.errors import InvalidInput
from newsletters.services.console import admins, api_tokens, health
from newsletters.services.mail import outbox

outbox_cli = AppGroup("outbox", help="Send and inspect the mail waiting to leave.")
admin_cli = AppGroup("admin", help="Administrators and API tokens.")


@outbox_cli.command("drain")
def drain():
    """Send every message that is due."""
    report = outbox.drain()
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)


@outbox_cli.command("status")
@click.option("--errors", is_flag=True, help="Also list the latest messages with an error.")
def status(errors):
    """Count messages by state."""
    for state, count in outbox.status_counts().items():
        click.echo(f"{state}\t{count}")
    if errors:
        for message in outbox.recent_failures():
            click.echo(
                f"#{message.id} {message.status.value} {message.kind} after "
                f"{message.attempts} attempts: {message.last_error}"
            )


@admin_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["owner", "editor"]), default="owner", show_default=True)
@click.password_option(help="Prompted for, twice, when not given.")
def create_admin(email, role, password):
    """Create an administrator who can sign in at /admin."""
    try:
        admin = admins.create_admin(email, password, role)
    except InvalidInput as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{admin.email} can now sign in at /admin as {admin.role.value}.")


@admin_cli.command("token")
@click.argument("name")
def create_api_token(name):
    """Create a bearer token for the JSON API; it is printed once, alone on the last line."""
    try:
        token, secret = api_tokens.create_token(name)
    except InvalidInput as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Created API token {token.name!r}. Store it now; it cannot be shown again:")
    click.echo(secret)


@click.command("check")
@with_appcontext
def check():
    """Check the settings and every service they name; exit 1 when something is missing."""
    for warning in preflight.warnings(current_app.config):
        click.echo(f"warning   {warning}")
    checks = health.readiness()
    for item in checks:
        click.echo(f"{'ok' if item.ok else 'FAILED':<9} {item.name}: {item.detail}")
    if not all(item.ok for item in checks):
        sys.exit(1)
