"""Command-line groups. Each command wraps one service call and reports plainly."""

import click
from flask import Flask
from flask.cli import AppGroup

from newsletters.errors import InvalidInput
from newsletters.models import Cadence
from newsletters.services import newsletters, outbox

newsletter_cli = AppGroup("newsletter", help="Add and list newsletters.")
outbox_cli = AppGroup("outbox", help="Send and inspect the mail waiting to leave.")


@newsletter_cli.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The name readers see.")
@click.option("--description", default="", help="One or two sentences for the signup page.")
@click.option(
    "--cadence", type=click.Choice([c.value for c in Cadence]), default="weekly", show_default=True
)
@click.option(
    "--send-day", type=click.Choice(newsletters.WEEKDAYS), default="mon", show_default=True
)
@click.option("--send-hour", type=click.IntRange(0, 23), default=8, show_default=True)
@click.option("--feed-url", default=None, help="RSS or Atom feed to pull stories from.")
@click.option("--private", is_flag=True, help="Hide from the public signup pages.")
def add_newsletter(slug, name, description, cadence, send_day, send_hour, feed_url, private):
    """Add a newsletter."""
    try:
        created = newsletters.add_newsletter(
            slug,
            name,
            description=description,
            cadence=cadence,
            send_day=send_day,
            send_hour=send_hour,
            feed_url=feed_url,
            public=not private,
        )
    except InvalidInput as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Added newsletter {created.slug!r} ({created.name}).")


@newsletter_cli.command("list")
def list_newsletters():
    """List the public newsletters."""
    for item in newsletters.public_newsletters():
        click.echo(f"{item.slug}\t{item.name}")


@newsletter_cli.command("demo")
def add_demo():
    """Add a few demo newsletters, only when there are none yet."""
    added = newsletters.add_demo_newsletters()
    click.echo(f"Added {added} demo newsletters." if added else "Newsletters exist; added none.")


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


def register_cli(app: Flask) -> None:
    """Add the command groups to ``flask``."""
    app.cli.add_command(newsletter_cli)
    app.cli.add_command(outbox_cli)
