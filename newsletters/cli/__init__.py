"""Command-line groups. Each command wraps one service call and reports plainly."""

import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from newsletters import preflight
from newsletters.errors import InvalidInput, NewsletterError
from newsletters.models import Cadence, utcnow
from newsletters.services import catalogue
from newsletters.services.console import admins, api_tokens, health
from newsletters.services.issues import compose, feeds, runs
from newsletters.services.mail import outbox
from newsletters.services.readers import exports, imports
from newsletters.services.readers.audience import Filters

newsletter_cli = AppGroup("newsletter", help="Add and list newsletters.")
outbox_cli = AppGroup("outbox", help="Send and inspect the mail waiting to leave.")
digest_cli = AppGroup("digest", help="Send and preview newsletters' issues (what cron runs).")
feeds_cli = AppGroup("feeds", help="Import stories from newsletters' RSS and Atom feeds.")
admin_cli = AppGroup("admin", help="Administrators and API tokens.")
subscribers_cli = AppGroup("subscribers", help="Import and export readers as CSV.")


@newsletter_cli.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The name readers see.")
@click.option("--description", default="", help="One or two sentences for the signup page.")
@click.option(
    "--cadence", type=click.Choice([c.value for c in Cadence]), default="weekly", show_default=True
)
@click.option("--send-day", type=click.Choice(catalogue.WEEKDAYS), default="mon", show_default=True)
@click.option("--send-hour", type=click.IntRange(0, 23), default=8, show_default=True)
@click.option("--feed-url", default=None, help="RSS or Atom feed to pull stories from.")
@click.option("--private", is_flag=True, help="Hide from the public signup pages.")
def add_newsletter(slug, name, description, cadence, send_day, send_hour, feed_url, private):
    """Add a newsletter."""
    try:
        created = catalogue.add_newsletter(
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


class TerminalProgress:
    """A progress bar with sent/total, rate and ETA, for one issue on a terminal."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack

    def __call__(self, issue, total: int):
        bar = self.stack.enter_context(
            click.progressbar(
                length=max(total, 1),
                label=f"{issue.newsletter.slug} {issue.period_start:%Y-%m-%d}",
                show_eta=True,
                show_pos=True,
                item_show_func=lambda _: None,
                file=sys.stderr,
            )
        )
        started, done = time.monotonic(), [0]

        def advance(n: int) -> None:
            done[0] += n
            rate = done[0] / max(time.monotonic() - started, 1e-6)
            bar.label = f"{issue.newsletter.slug} {issue.period_start:%Y-%m-%d} {rate:.0f}/s"
            bar.update(n)

        return advance


@digest_cli.command("send")
@click.option("--newsletter", "slug", help="Only this newsletter (its slug).")
@click.option("--force", is_flag=True, help="Send the running period's issue now.")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send and write nothing.")
@click.option(
    "--executor",
    type=click.Choice(["inline", "celery"]),
    default="inline",
    show_default=True,
    help="Send from this process, or fan the batches out to Celery workers.",
)
@click.option(
    "--connections",
    type=click.IntRange(1, 32),
    default=1,
    show_default=True,
    help="SMTP connections to use in parallel (inline executor).",
)
def send_issues(slug, force, dry_run, executor, connections):
    """Send every due issue to every active subscriber, exactly once."""
    try:
        if dry_run:
            planned = runs.plan_due_issues(slug, force=force, now=utcnow())
        else:
            with ExitStack() as stack:
                progress = TerminalProgress(stack) if sys.stderr.isatty() else None
                planned = runs.send_due_issues(
                    slug,
                    force=force,
                    executor=executor,
                    connections=connections,
                    progress=progress,
                )
    except NewsletterError as error:
        raise click.ClickException(error.message) from error
    for run in planned:
        click.echo(run.summary())
    if not all(run.ok for run in planned):
        raise SystemExit(1)


@digest_cli.command("preview")
@click.argument("slug")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="HTML file to write.")
def preview_issue(slug, out):
    """Render the next issue as it stands now (HTML, plus a .txt beside it)."""
    try:
        issue, email, stories = compose.preview(slug, utcnow())
    except NewsletterError as error:
        raise click.ClickException(error.message) from error
    out = out or Path(f"{slug}-{issue.period_end:%Y-%m-%d}.html")
    out.write_text(email.html, encoding="utf-8")
    out.with_suffix(".txt").write_text(email.text, encoding="utf-8")
    click.echo(f"{email.subject!r}: {stories} stories")
    click.echo(f"wrote {out} and {out.with_suffix('.txt')}")


@digest_cli.command("edit")
@click.argument("slug")
@click.option("--subject", help="This issue's subject; {name}, {date} and {site} are filled in.")
@click.option("--intro", help="This issue's introduction.")
def edit_issue(slug, subject, intro):
    """Give the next issue its own subject or intro before it goes out."""
    try:
        issue = compose.set_overrides(slug, utcnow(), subject, intro)
    except NewsletterError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"the issue ending {issue.period_end:%Y-%m-%d %H:%M} UTC will use your changes")


@feeds_cli.command("pull")
@click.option("--newsletter", "slug", help="Only this newsletter's feed.")
def pull_feeds(slug):
    """Import new stories from every newsletter's feed; a broken feed is reported, not fatal."""
    results = feeds.pull_feeds(slug)
    for result in results:
        click.echo(result.summary())
    if not results:
        click.echo("no newsletter has a feed URL")
    if any(result.error for result in results):
        raise SystemExit(1)


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


def register_cli(app: Flask) -> None:
    """Add the command groups to ``flask``."""
    for group in (newsletter_cli, outbox_cli, digest_cli, feeds_cli, admin_cli, subscribers_cli):
        app.cli.add_command(group)
    app.cli.add_command(check)
