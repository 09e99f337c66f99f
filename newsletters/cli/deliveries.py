"""flask deliveries: the per-reader rows of sent issues, and how long they are kept."""

import click
from flask.cli import AppGroup

from newsletters.services.issues import retention

deliveries_cli = AppGroup("deliveries", help="Issue deliveries: prune the old ones.")


@deliveries_cli.command("prune")
@click.option(
    "--chunk",
    type=click.IntRange(1, 100_000),
    default=retention.PRUNE_CHUNK,
    show_default=True,
    help="Rows folded and deleted per transaction; each is committed on its own.",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=None,
    help="Stop after about this many rows (the rest go on the next run).",
)
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
def prune(chunk, limit, dry_run):
    """Fold deliveries of issues finished over DELIVERY_RETENTION_DAYS ago into counts, and
    delete them."""
    click.echo(retention.prune(chunk=chunk, limit=limit, dry_run=dry_run).summary())
