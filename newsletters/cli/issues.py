"""flask digest and flask feeds: what cron runs to send issues and pull stories."""

import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click
from flask.cli import AppGroup

from newsletters.errors import NewsletterError
from newsletters.locales import languages
from newsletters.models import utcnow
from newsletters.services.issues import editing, feeds, previews, runs
from newsletters.services.rhythm.periods import FREQUENCIES

digest_cli = AppGroup("digest", help="Send and preview newsletters' issues (what cron runs).")
frequency_option = click.option(
    "--frequency",
    type=click.Choice(FREQUENCIES),
    default=None,
    help="Which of the newsletter's rhythms (default: its first).",
)
feeds_cli = AppGroup("feeds", help="Import stories from newsletters' RSS and Atom feeds.")


class TerminalProgress:
    """A progress bar with sent/total, rate and ETA, for one issue on a terminal."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack

    def __call__(self, issue, total: int):
        bar = self.stack.enter_context(
            click.progressbar(
                length=max(total, 1),
                label=f"{issue.newsletter.slug} {issue.frequency} {issue.period_start:%Y-%m-%d}",
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
            bar.label = (
                f"{issue.newsletter.slug} {issue.frequency} {issue.period_start:%Y-%m-%d} "
                f"{rate:.0f}/s"
            )
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
@frequency_option
@click.option(
    "--language",
    default=None,
    help="As readers of this language get it (one of LANGUAGES; default: the first).",
)
def preview_issue(slug, out, frequency, language):
    """Render the next issue as it stands now (HTML, plus a .txt beside it)."""
    if language is not None and language not in languages():
        raise click.BadParameter(f"choose one of {', '.join(languages())}", param_hint="--language")
    try:
        issue, email, stories = previews.preview_next(slug, utcnow(), frequency, language)
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
@frequency_option
def edit_issue(slug, subject, intro, frequency):
    """Give the next issue its own subject or intro before it goes out."""
    try:
        issue = editing.set_overrides(slug, utcnow(), subject, intro, frequency)
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
