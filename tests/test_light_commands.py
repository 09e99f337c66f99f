"""Cron's commands, with nothing to do, load only what they use.

``flask digest send``, ``flask outbox drain`` and ``flask bounces poll`` run every
minute. Each is run here as cron runs it, in a process of its own, and the modules
it imported are listed at exit: none of the heavy ones the command has no use for
may be among them (their cost is measured in bench/cron.py).
"""

import json
import subprocess
import sys

import pytest

from tests.support.readers import add_newsletter, add_readers, add_stories
from tests.support.stack import ROOT, environment

# Importing any of these costs time and memory that a command with nothing to do
# does not need: the pages, Alembic, Celery, feeds, CSS inlining,
# DKIM signing (dkimpy, its DNS resolver, cryptography).
HEAVY = (
    "newsletters.admin",
    "newsletters.api",
    "newsletters.public",
    "newsletters.webhooks",
    "alembic",
    "flask_migrate",
    "celery",
    "kombu",
    "feedparser",
    "css_inline",
    "zxcvbn",
    "argon2",
    "email_validator",
    "dkim",
    "dns",
    "cryptography",
)

# Run ``flask`` as the console script does, and print what was imported when it exits
# and how many objects the collector was told to skip, at the very end.
RUN_AND_LIST = """
import atexit, gc, json, sys
atexit.register(lambda: print("FROZEN", gc.get_freeze_count()))
atexit.register(lambda: print("MODULES " + json.dumps(sorted(sys.modules))))
from flask.cli import main
sys.argv = ["flask", *sys.argv[1:]]
main()
"""


def imported_by(settings: dict, *command: str) -> set[str]:
    """The modules ``flask COMMAND`` imported, run as a real process."""
    return set(json.loads(run_listing(settings, *command)["MODULES"]))


def run_listing(settings: dict, *command: str) -> dict[str, str]:
    """Run ``flask COMMAND`` as a real process; what it printed at exit, by heading."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *command],
        cwd=ROOT, env=environment(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.split(" ", 1) for line in result.stdout.splitlines()]
    return {line[0]: line[1] for line in lines if line[0] in ("MODULES", "FROZEN")}


# A send renders its mail and builds links to the reader pages, so it loads those,
# and css-inline; not the console, the API, the webhooks, Alembic or the rest.
NOT_FOR_A_SEND = tuple(
    name
    for name in HEAVY
    if name not in ("newsletters.public", "css_inline", "wtforms", "flask_wtf")
)


def heavy_among(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy))


@pytest.fixture
def cron_settings(app, settings) -> dict:
    """A migrated database with nothing due, nothing waiting and no bounce mailbox."""
    return {**settings, "BOUNCE_MAILBOX_URL": ""}


@pytest.mark.parametrize(
    "command", [("digest", "send"), ("outbox", "drain"), ("bounces", "poll")], ids=" ".join
)
def test_a_command_with_nothing_to_do_imports_nothing_heavy(cron_settings, command):
    modules = imported_by(cron_settings, *command)
    assert "newsletters.models" in modules  # it did run, against the database
    assert heavy_among(modules) == []


def test_a_command_ends_without_the_collector_walking_what_it_loaded(cron_settings):
    """Python's last collection at exit took a third of a cron command's time."""
    printed = run_listing(cron_settings, "outbox", "drain")
    # Everything the app loaded (the models, SQLAlchemy, Flask) is skipped.
    assert int(printed["FROZEN"]) > 100_000


def test_a_send_loads_the_reader_pages_its_links_name_and_nothing_else_heavy(
    app, cron_settings, mailbox
):
    newsletter_id = add_newsletter(app)
    add_stories(app, newsletter_id, 3)
    add_readers(app, newsletter_id, 3)
    modules = imported_by(cron_settings, "digest", "send")
    sent = mailbox.messages()
    assert len(sent) == 3  # each reader got the issue, with links to the site's pages
    assert all("http://newsletters.test/" in message["List-Unsubscribe"] for message in sent)
    assert "newsletters.public.routes" in modules
    assert heavy_among(modules, NOT_FOR_A_SEND) == []


def test_an_empty_bounce_mailbox_is_polled_without_anything_heavy(cron_settings, dovecot):
    modules = imported_by(
        {**cron_settings, "BOUNCE_MAILBOX_URL": dovecot.imap_url}, "bounces", "poll"
    )
    assert "imaplib" in modules  # it did open the mailbox
    assert heavy_among(modules) == []


def test_the_pages_and_migrations_are_still_there_when_asked_for(cron_settings):
    """The same app still serves ``flask routes`` and ``flask db``, loading them then."""
    routes = subprocess.run(
        [sys.executable, "-m", "flask", "routes"],
        cwd=ROOT, env=environment(cron_settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert routes.returncode == 0, routes.stderr
    assert "admin.login" in routes.stdout and "public.unsubscribe" in routes.stdout
    current = subprocess.run(
        [sys.executable, "-m", "flask", "db", "current"],
        cwd=ROOT, env=environment(cron_settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert current.returncode == 0, current.stderr
    assert "(head)" in current.stdout
