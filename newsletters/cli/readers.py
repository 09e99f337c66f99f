"""flask subscribers: readers in and out as CSV."""

from pathlib import Path

import click
from flask.cli import AppGroup

from newsletters.errors import InvalidInput
from newsletters.services.readers import exports, imports
from newsletters.services.readers.audience import Filters

subscribers_cli = AppGroup("subscribers", help="Import and export readers as CSV.")


@subscribers_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--confirmed", is_flag=True, help="They already consented: subscribe them at once.")
@click.option("--consent-note", help="Where and when they consented (needed with --confirmed).")
def import_subscribers(file, confirmed, consent_note):
    """Import email,newsletters rows: pending with a confirmation email, or --confirmed."""
    try:
        job = imports.start_import(
            Path(file.name).name, file.read(), attested=confirmed, consent_note=consent_note
        )
    except InvalidInput as error:
        if error.field == "consent_note":
            raise click.UsageError(f"--confirmed needs --consent-note: {error.message}") from error
        raise click.ClickException(error.message) from error
    job = imports.check(job.id, progress=_import_progress("checked"))
    click.echo(
        f"{job.valid_rows} of {job.total_rows} rows can be imported; {job.error_count} refused"
    )
    for line in job.errors_csv.splitlines()[1:21]:
        click.echo(f"  refused: {line}")
    if job.error_count > 20:
        click.echo(f"  ... and {job.error_count - 20} more")
    imports.begin_apply(job)
    job = imports.apply(job.id, progress=_import_progress("applied"))
    click.echo(f"imported {job.applied_rows} rows ({'active' if confirmed else 'pending'})")
    if job.error_count:
        raise SystemExit(1)


def _import_progress(verb: str):
    def report(job) -> None:
        done = job.checked_rows if verb == "checked" else job.applied_rows
        click.echo(f"{verb} {done}/{job.total_rows} rows", err=True)

    return report


@subscribers_cli.command("export")
@click.option("--newsletter", "slug", default="", help="Only readers of this newsletter.")
@click.option("--status", type=click.Choice(["active", "pending", "unsubscribed"]), default=None)
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
def export_subscribers(slug, status, out):
    """Write every reader (or a newsletter's) as CSV, streamed in constant memory."""
    try:
        for line in exports.subscriber_csv(Filters(newsletter=slug, status=status or "")):
            out.write(line)
    except InvalidInput as error:
        raise click.ClickException(error.message) from error
