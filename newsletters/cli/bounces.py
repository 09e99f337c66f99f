"""flask bounces: hear what happened after the handoff (poll the mailbox, see the rates)."""

import click
from flask import current_app
from flask.cli import AppGroup

from newsletters.cli import rate_tables
from newsletters.services.deliverability import mailbox, stats, stored_reports

bounces_cli = AppGroup("bounces", help="Bounce and complaint reports: poll, stats, prune.")


@bounces_cli.command("poll")
@click.option(
    "--quiet",
    is_flag=True,
    help="Print only when new mail was read or something failed (for cron).",
)
def poll(quiet):
    """Read the bounce mailbox once: act on bounces and complaints, file the rest."""
    if not mailbox.configured():
        if not quiet:
            click.echo("BOUNCE_MAILBOX_URL is not set: there is no bounce mailbox to poll.")
        return
    try:
        report = mailbox.poll()
    except mailbox.MailboxSettingInvalid as error:
        raise click.ClickException(str(error)) from None
    except mailbox.MailboxUnavailable as error:
        if error.report is not None and error.report.fetched:
            click.echo(error.report.summary())
        raise click.ClickException(
            f"{str(error).rstrip('.')}. Nothing unread was deleted; the next poll tries again."
        ) from None
    if not quiet or report.new or report.errors or report.more_waiting:
        click.echo(report.summary())
    if report.errors:
        raise SystemExit(1)


@bounces_cli.command("stats")
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=stats.WINDOW_DAYS,
    show_default=True,
    help="The window: messages sent in these last days.",
)
@click.option(
    "--min-sent",
    type=click.IntRange(1),
    default=stats.MIN_SENT,
    show_default=True,
    help="Judge a rate only from this many messages sent (fewer is noise).",
)
def stats_command(days, min_sent):
    """Bounce and complaint rates per issue, newsletter and domain; exit 1 at 0.3% complaints."""
    figures = stats.window_stats(days=days, min_sent=min_sent)
    for line in rate_tables.report(figures):
        click.echo(line)
    if days > (kept := stored_reports.kept_days()):
        click.echo(
            f"\nNote: reports are kept {kept} days (BOUNCE_REPORT_RETENTION_DAYS), so rates "
            f"over {days} days miss the reports of the oldest messages."
        )
    lines, danger = rate_tables.verdict(figures)
    for line in lines:
        # Above the line, to standard error too: cron with >/dev/null mails only that.
        click.echo(line, err=danger)
    if danger:
        raise SystemExit(1)


@bounces_cli.command("prune")
@click.option(
    "--chunk",
    type=click.IntRange(1, 100_000),
    default=stored_reports.PRUNE_CHUNK,
    show_default=True,
    help="Rows deleted per statement; each statement is committed on its own.",
)
def prune(chunk):
    """Delete reports older than BOUNCE_REPORT_RETENTION_DAYS, never inside the soft window."""
    config = current_app.config
    retention, window = config["BOUNCE_REPORT_RETENTION_DAYS"], config["BOUNCE_SOFT_WINDOW_DAYS"]
    if retention < window:
        click.echo(
            f"BOUNCE_REPORT_RETENTION_DAYS ({retention}) is shorter than BOUNCE_SOFT_WINDOW_DAYS "
            f"({window}): reports are kept {window} days, because the soft-bounce rule counts them."
        )
    click.echo(stored_reports.prune(chunk=chunk).summary())
