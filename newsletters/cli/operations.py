"""flask admin and flask check: running the service."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from newsletters import preflight
from newsletters.admin import sign_in_limits
from newsletters.errors import InvalidInput, NotFound
from newsletters.services.console import admins, api_tokens, audit, health, two_factor
from newsletters.services.deliverability import mailbox

admin_cli = AppGroup("admin", help="Administrators and API tokens.")


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


def _existing_admin(email):
    """The administrator with this address, or a clear error."""
    admin = admins.admin_by_email(email)
    if admin is None:
        raise click.ClickException(f"{email} is not an administrator.")
    return admin


@admin_cli.command("unlock")
@click.argument("email")
def unlock_admin(email):
    """Let an administrator sign in again from any browser, after strangers' failed tries."""
    admin = _existing_admin(email)
    sign_in_limits.unlock(admin.email)
    click.echo(f"{admin.email} may sign in again from any browser.")


@admin_cli.command("reset-2fa")
@click.argument("email")
def reset_two_factor(email):
    """Turn off an administrator's two-factor sign-in (a lost phone); their sessions end."""
    admin = _existing_admin(email)
    audit.audited(
        audit.Actor(None, "command line"),
        "admin.two_factor_reset",
        "admin",
        admin.email,
        lambda: two_factor.reset(admin),
    )
    click.echo(
        f"{admin.email} signs in with their password alone until they set up two-factor "
        "sign-in again."
    )


def _scopes(ctx, param, value):
    """--scopes as a list, or a usage error naming the valid scopes."""
    if value is None:
        return None
    try:
        return api_tokens.checked_scopes(value.split(","))
    except InvalidInput as error:
        raise click.BadParameter(error.message) from error


@admin_cli.command("token")
@click.argument("name")
@click.option(
    "--scopes",
    callback=_scopes,
    help=f"Comma-separated, from: {', '.join(api_tokens.SCOPES)}. Default: "
    f"{','.join(api_tokens.DEFAULT_SCOPES)}.",
)
@click.option(
    "--publishable", is_flag=True, help="A publishable key for signups from web pages instead."
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="With --publishable: an origin the key works from, e.g. https://www.publisher.example "
    "(repeat for more).",
)
def create_api_token(name, scopes, publishable, origins):
    """Create a JSON API token, or a publishable key: printed once, alone on the last line."""
    if publishable and scopes is not None:
        raise click.UsageError("A publishable key has no scopes: it may only sign readers up.")
    if publishable and not origins:
        raise click.UsageError("A publishable key needs at least one --origin.")
    if origins and not publishable:
        raise click.UsageError("--origin is for a publishable key: add --publishable.")
    try:
        if publishable:
            token, secret = api_tokens.create_publishable_key(name, origins)
        else:
            token, secret = api_tokens.create_token(name, scopes or api_tokens.DEFAULT_SCOPES)
    except InvalidInput as error:
        raise click.ClickException(error.message) from error
    if publishable:
        allowed = set(current_app.config["EMBED_ALLOWED_ORIGINS"])
        for origin in (o for o in token.origin_list if o not in allowed):
            click.echo(
                f"Note: browsers on {origin} can call the API once it is in EMBED_ALLOWED_ORIGINS."
            )
        click.echo(
            f"Created publishable key {token.name!r} for {', '.join(token.origin_list)}. "
            "It goes in your page; it cannot be shown again:"
        )
    else:
        click.echo(
            f"Created API token {token.name!r} with {', '.join(token.scope_list)}. "
            "Store it now; it cannot be shown again:"
        )
    click.echo(secret)


@admin_cli.command("token-revoke")
@click.argument("name")
def revoke_api_token(name):
    """Revoke the API token or publishable key named NAME: it is refused from now on."""
    try:
        revoked = audit.audited(
            audit.Actor(None, "command line"),
            "api_token.revoke",
            "api_token",
            name,
            lambda: api_tokens.revoke_by_name(name),
            detail=lambda tokens: {"prefixes": [t.prefix for t in tokens]},
        )
    except NotFound as error:
        raise click.ClickException(error.message) from error
    if revoked:
        click.echo(f"Revoked API token {name!r}.")
    else:
        click.echo(f"API token {name!r} was already revoked.")


@click.command("check")
@with_appcontext
def check():
    """Check the settings and every service they name; exit 1 when something is missing."""
    for warning in preflight.warnings(current_app.config):
        click.echo(f"warning   {warning}")
    checks = health.readiness()
    if mailbox.configured():
        checks.append(health.Check("bounce mailbox", *mailbox.probe()))
    for item in checks:
        click.echo(f"{'ok' if item.ok else 'FAILED':<9} {item.name}: {item.detail}")
    if not all(item.ok for item in checks):
        sys.exit(1)
