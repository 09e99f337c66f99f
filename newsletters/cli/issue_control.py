"""flask digest schedule|pause|resume|cancel: an editor's send control, from a terminal.

Each command is one service call (:mod:`services.issues.control`), written to the
audit log as done from the command line. ``ISSUE`` is an issue's id, as the console
shows it, or a newsletter's slug for its issue being sent (or else its next draft);
``slug/daily`` names one rhythm's issue of a newsletter that has more than one.
"""

import click

from newsletters.cli.issues import digest_cli, frequency_option
from newsletters.errors import NewsletterError
from newsletters.models import utcnow
from newsletters.services.console import audit
from newsletters.services.issues import compose, control
from newsletters.services.issues.schedule import local

COMMAND_LINE = audit.Actor(None, "command line")


def _audited(action: str, issue, apply):
    return audit.audited(COMMAND_LINE, action, "issue", str(issue.uuid), apply)


def _issue(reference: str):
    try:
        return control.find_issue(reference)
    except NewsletterError as error:
        raise click.ClickException(error.message) from error


def _name(issue) -> str:
    return compose.label(issue.newsletter, issue.frequency)


def _describe(issue) -> str:
    progress = control.progress(issue)
    return (
        f"{_name(issue)} {issue.uuid}: {progress.status}; sent {progress.sent} "
        f"of {progress.total}, {progress.waiting} waiting"
    )


@digest_cli.command("schedule")
@click.argument("slug")
@click.option(
    "--at",
    "at",
    required=True,
    help="When to send, ISO 8601; without an offset, on the newsletters' clock (TIMEZONE).",
)
@frequency_option
def schedule_issue(slug, at, frequency):
    """Send a newsletter's next issue at a chosen time instead of its usual slot."""
    now = utcnow()
    try:
        send_at = control.parse_send_time(at)
        issue = audit.audited(
            COMMAND_LINE,
            "issue.schedule",
            "newsletter",
            slug,
            lambda: control.schedule_next(slug, send_at, now, frequency),
            detail={"send_at": send_at.isoformat()},
        )
    except NewsletterError as error:
        raise click.ClickException(error.message) from error
    click.echo(
        f"{_name(issue)} {issue.uuid}: scheduled for {local(send_at):%Y-%m-%d %H:%M %Z} "
        f"({send_at:%Y-%m-%d %H:%M} UTC); flask digest send sends it then"
    )


@digest_cli.command("pause")
@click.argument("issue")
def pause_issue(issue):
    """Stop an issue's senders within seconds; the readers not yet sent to wait."""
    found = _issue(issue)
    try:
        _audited("issue.pause", found, lambda: control.pause(str(found.uuid), utcnow()))
    except NewsletterError as error:
        raise click.ClickException(error.message) from error
    click.echo(_describe(found) + "; flask digest resume goes on")


@digest_cli.command("resume")
@click.argument("issue")
def resume_issue(issue):
    """Let a paused issue go on: each reader still waiting gets it once."""
    found = _issue(issue)
    try:
        _audited("issue.resume", found, lambda: control.resume(str(found.uuid)))
    except NewsletterError as error:
        raise click.ClickException(error.message) from error
    click.echo(_describe(found) + "; the next run of flask digest send sends the rest")


@digest_cli.command("cancel")
@click.argument("issue")
@click.confirmation_option(prompt="Nobody still waiting will get this issue. Cancel it?")
def cancel_issue(issue):
    """Stop an issue for good: nobody still waiting will get it."""
    found = _issue(issue)
    try:
        _audited("issue.cancel", found, lambda: control.cancel(str(found.uuid), utcnow()))
    except NewsletterError as error:
        raise click.ClickException(error.message) from error
    click.echo(_describe(found))
