"""flask subscribers: readers in and out as CSV."""

from pathlib import Path

import click
from flask.cli import AppGroup

from newsletters.errors import InvalidInput
from newsletters.models import ImportStatus
from newsletters.services.readers import exports, import_files, import_runs, imports
from newsletters.services.readers.audience import Filters
from newsletters.services.readers.import_formats import CHOICES, FORMATS, NEWSLETTERS

subscribers_cli = AppGroup("subscribers", help="Import and export readers as CSV.")


@subscribers_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "format_name", type=click.Choice(CHOICES), default="auto", show_default=True,
    help="Whose export this is; auto reads it from the header row.",
)  # fmt: skip
@click.option("--newsletters", default="", help="slug,... for an export's members.")
@click.option(
    "--map-tag", "map_tags", multiple=True, metavar="TAG=SLUG",
    help="Members with this tag (label, plan) join this newsletter; repeatable.",
)  # fmt: skip
@click.option("--confirmed", is_flag=True, help="They already consented: subscribe them at once.")
@click.option("--consent-note", help="Where and when they consented (needed with --confirmed).")
def import_subscribers(file, format_name, newsletters, map_tags, confirmed, consent_note):
    """Import our email,newsletters file, or a Mailchimp, listmonk, Ghost or Substack export.

    Our own rows wait for the reader's confirmation, unless --confirmed. An
    export's subscribed members are active at once, with its consent record;
    its unsubscribed and cleaned members become suppressions. Run it again on
    the same file after an interruption and it carries on where it stopped.
    """
    try:
        tags = dict(_tag_pair(pair) for pair in map_tags)
        fingerprint = import_files.fingerprint(file)
        job = imports.unfinished_import(fingerprint)
        if job is None:
            job = imports.start_import(
                file.name, path=file.resolve(), attested=confirmed, consent_note=consent_note,
                format=format_name, newsletters=_slugs(newsletters), tags=tags,
                fingerprint=fingerprint,
            )  # fmt: skip
        else:
            click.echo(f"resuming the import of {file.name} begun {job.created_at:%Y-%m-%d %H:%M}")
    except InvalidInput as error:
        if error.field == "consent_note":
            raise click.UsageError(f"--confirmed needs --consent-note: {error.message}") from error
        raise click.ClickException(error.message) from error
    click.echo(f"format: {FORMATS[job.format].label}", err=True)
    try:
        job = _check_and_apply(job)
    except InvalidInput as error:
        import_runs.fail(job.id, error)
        raise click.ClickException(error.message) from error
    if job.format == NEWSLETTERS:
        click.echo(f"imported {job.applied_rows} rows ({'active' if job.attested else 'pending'})")
    else:
        click.echo(
            f"imported {job.applied_rows} rows (active); "
            f"{job.suppressed_rows} suppressed as unsubscribed or bounced"
        )
    if job.error_count:
        raise SystemExit(1)


def _check_and_apply(job):
    if job.status != ImportStatus.APPLYING:
        if job.status == ImportStatus.CHECKING:
            job = imports.check(job.id, progress=_import_progress("checked"))
        _report_check(job)
        imports.begin_apply(job)
    return imports.apply(job.id, progress=_import_progress("applied"))


def _report_check(job) -> None:
    click.echo(
        f"{job.valid_rows} of {job.total_rows} rows can be imported; {job.error_count} refused"
    )
    for line in job.errors_csv.splitlines()[1:21]:
        click.echo(f"  refused: {line}")
    if job.error_count > 20:
        click.echo(f"  ... and {job.error_count - 20} more")


def _slugs(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _tag_pair(text: str) -> tuple[str, str]:
    tag, sep, slug = text.partition("=")
    if not sep or not tag.strip() or not slug.strip():
        raise click.BadParameter(f"{text!r} is not TAG=SLUG", param_hint="--map-tag")
    return tag.strip(), slug.strip()


def _import_progress(verb: str):
    def report(job) -> None:
        done = job.checked_rows if verb == "checked" else job.applied_through
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
