"""flask newsletter: the catalogue of newsletters, and the demo content."""

import click
from flask.cli import AppGroup

from newsletters.errors import InvalidInput
from newsletters.models import Cadence
from newsletters.services import catalogue, newsletter_settings

newsletter_cli = AppGroup("newsletter", help="Add and list newsletters.")


@newsletter_cli.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The name readers see.")
@click.option("--description", default="", help="One or two sentences for the signup page.")
@click.option(
    "--cadence", type=click.Choice([c.value for c in Cadence]), default="weekly", show_default=True
)
@click.option(
    "--frequencies",
    default="weekly",
    show_default=True,
    help="The rhythms readers may choose, of daily, weekly, monthly; the first is the default.",
)
@click.option(
    "--send-day", type=click.Choice(newsletter_settings.WEEKDAYS), default="mon", show_default=True
)
@click.option("--send-hour", type=click.IntRange(0, 23), default=8, show_default=True)
@click.option("--feed-url", default=None, help="RSS or Atom feed to pull stories from.")
@click.option("--private", is_flag=True, help="Hide from the public signup pages.")
@click.option(
    "--archive/--no-archive",
    default=True,
    show_default=True,
    help="Publish sent issues in the public web archive (never for a private newsletter).",
)
@click.option("--logo-url", default=None, help="Branding: an https:// image for its emails.")
@click.option("--accent", default=None, help="Branding: the accent colour, #rrggbb.")
@click.option("--footer", default="", help="Branding: plain text above the unsubscribe links.")
def add_newsletter(slug, name, private, **fields):
    """Add a newsletter."""
    try:
        created = newsletter_settings.add_newsletter(slug, name, public=not private, **fields)
    except InvalidInput as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Added newsletter {created.slug!r} ({created.name}).")


@newsletter_cli.command("list")
def list_newsletters():
    """List the public newsletters."""
    for item in catalogue.public_newsletters():
        click.echo(f"{item.slug}\t{item.name}")


@newsletter_cli.command("demo")
def add_demo():
    """Add demo newsletters, stories and readers, only when there are no newsletters yet."""
    from newsletters.services import demo

    added = demo.add_demo_content()
    if not added.newsletters:
        click.echo("Newsletters exist; added none.")
        return
    click.echo(f"Added {added.newsletters} demo newsletters.")
    click.echo(
        f"Added {added.stories} demo stories and {added.readers} demo readers, "
        "subscribed already, so `flask digest send --force` sends them an issue."
    )
