"""flask outbox: the mail waiting to leave. Cron runs ``flask outbox drain`` every minute."""

import click
from flask.cli import AppGroup

from newsletters.services.mail import outbox, outbox_sending

outbox_cli = AppGroup("outbox", help="Send and inspect the mail waiting to leave.")


@outbox_cli.command("drain")
def drain():
    """Send every message that is due."""
    report = outbox_sending.drain()
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
