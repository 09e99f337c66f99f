"""`make run` is the front door: its own development .env, links on its port, and a demo
that sends a whole issue.

The dev-setup and the ``flask`` commands run as real processes, from a temporary
directory standing in for a checkout, never against the checkout's own ``.env``.
"""

import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dotenv import dotenv_values
from sqlalchemy import func, select

from newsletters.config import DEFAULTS
from newsletters.devsetup import MARKER
from newsletters.extensions import db
from newsletters.models import Delivery, DeliveryStatus, Story, Subscriber
from newsletters.services.demo import DEMO_READERS, DEMO_STORIES, add_demo_content
from tests.support.mail import DevMailbox, free_port, link_in, text_of
from tests.support.reader import events, sign_up

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
TWICE = f"{PASSWORD}\n{PASSWORD}\n"


def shell_environment(**extra: str) -> dict[str, str]:
    """The environment of a new shell: none of the app's settings, this checkout importable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in DEFAULTS and not key.startswith("FLASK_")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def private_storage(directory: Path) -> dict[str, str]:
    """Settings that keep a command's database, mailbox and journal inside ``directory``."""
    return {
        "DATABASE_URL": f"sqlite:///{directory / 'newsletters.db'}",
        "DEV_MAILBOX_PATH": str(directory / "mailbox"),
        "DIGEST_JOURNAL_DIR": str(directory / "journal"),
    }


def devsetup(cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """Run the dev-setup as ``make run`` does, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "newsletters.devsetup", *args],
        cwd=cwd, env=shell_environment(**extra), capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip


def flask_in(cwd: Path, *args: str, stdin: str | None = None, **extra: str):
    """A ``flask`` command of this app, run from ``cwd`` as in another shell."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", str(ROOT / "app.py"), *args],
        cwd=cwd, env=shell_environment(**extra), input=stdin, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def mode_of(path: Path) -> int:
    """The permission bits of a file."""
    return stat.S_IMODE(path.stat().st_mode)


# --- the development .env ---------------------------------------------------------


def test_dev_setup_writes_a_private_development_env_with_a_fresh_key(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for checkout in (first, second):
        checkout.mkdir()
        result = devsetup(checkout, "--host", "127.0.0.1", "--port", "5000")
        assert "export APP_ENV=development" in result.stdout.splitlines()
        assert "SITE_URL" not in result.stdout.split("welcome=")[0]  # the file says it

    env_file = first / ".env"
    assert env_file.read_text().splitlines()[0] == MARKER
    assert mode_of(env_file) == 0o600
    values = dotenv_values(env_file)
    assert values["APP_ENV"] == "development"
    assert values["SITE_URL"] == "http://127.0.0.1:5000"
    assert len(values["SECRET_KEY"]) >= 32
    assert values["SECRET_KEY"] != dotenv_values(second / ".env")["SECRET_KEY"]


def test_a_later_run_on_another_port_changes_only_site_url(tmp_path):
    devsetup(tmp_path, "--port", "5000")
    before = (tmp_path / ".env").read_text().splitlines()
    devsetup(tmp_path, "--port", "5050")
    after = (tmp_path / ".env").read_text().splitlines()

    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [("SITE_URL=http://127.0.0.1:5000", "SITE_URL=http://127.0.0.1:5050")]
    assert mode_of(tmp_path / ".env") == 0o600


def test_an_operators_env_is_left_byte_for_byte(tmp_path):
    own = b"# my paper\r\nSITE_NAME=My Paper\nSECRET_KEY=mine\n# no newline at the end"
    env_file = tmp_path / ".env"
    env_file.write_bytes(own)
    env_file.chmod(0o644)

    result = devsetup(tmp_path, "--port", "5050")

    assert env_file.read_bytes() == own
    assert mode_of(env_file) == 0o644
    # What the file does not say, the server gets from make run, and so do the printed commands.
    exports = result.stdout.split("welcome=")[0].splitlines()
    assert exports == ["export APP_ENV=development", "export SITE_URL=http://127.0.0.1:5050"]
    assert "APP_ENV=development SITE_URL=http://127.0.0.1:5050 .venv/bin/flask digest send" in (
        result.stdout
    )


def test_settings_an_operator_gave_are_not_overridden(tmp_path):
    (tmp_path / ".env").write_text("APP_ENV=production\nSITE_URL=https://news.example.com\n")

    from_file = devsetup(tmp_path, "--port", "5050")
    assert from_file.stdout.split("welcome=")[0].splitlines() == ["export APP_ENV=production"]
    assert "  Send an issue:  .venv/bin/flask digest send --force" in from_file.stdout

    from_environment = devsetup(tmp_path, "--port", "5050", APP_ENV="development")
    assert "export" not in from_environment.stdout


# --- commands in another shell -------------------------------------------------------


def test_a_command_in_another_shell_reads_the_development_env(tmp_path):
    devsetup(tmp_path, "--port", "5000")
    storage = private_storage(tmp_path)

    upgrade = flask_in(tmp_path, "db", "upgrade", **storage)
    assert upgrade.returncode == 0, upgrade.stderr
    created = flask_in(tmp_path, "admin", "create", "you@example.com", stdin=TWICE, **storage)

    assert created.returncode == 0, created.stderr
    assert "you@example.com can now sign in at /admin as owner." in created.stdout


def test_without_env_or_settings_a_command_refuses_plainly(tmp_path):
    refused = flask_in(tmp_path, "admin", "create", "you@example.com", stdin=TWICE)

    assert refused.returncode != 0
    assert "Refusing to start in production" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / ".env").exists()


def test_confirmation_links_follow_the_port_of_make_run(tmp_path, settings, make_app):
    devsetup(tmp_path, "--port", "5050")
    del settings["SITE_URL"]  # read from the .env in the working directory, as the server does
    app = make_app(settings)
    assert app.config["SITE_URL"] == "http://127.0.0.1:5050"
    with app.app_context():
        add_demo_content()

    sign_up(app.test_client(), "new.reader@example.com", "the-weekly")

    confirmation = DevMailbox(app).last(to="new.reader@example.com")
    assert "http://127.0.0.1:5050/confirm/" in text_of(confirmation)


# --- the demo -------------------------------------------------------------------------


def test_the_demo_sends_a_whole_issue_to_every_demo_reader(settings, make_app, tmp_path):
    settings["DIGEST_JOURNAL_DIR"] = str(tmp_path / "journal")
    app = make_app(settings)
    runner = app.test_cli_runner()

    added = runner.invoke(args=["newsletter", "demo"])
    assert added.exit_code == 0, added.output
    assert "Added 4 demo newsletters." in added.output
    assert "12 demo stories and 3 demo readers" in added.output

    sent = runner.invoke(args=["digest", "send", "--force"])
    assert sent.exit_code == 0, sent.output
    assert sent.output.count(": sent;") == 4, sent.output

    mailbox = DevMailbox(app)
    names = {"the-weekly": "The Weekly", "ai-digest": "AI Digest"}
    names |= {"climate-report": "Climate Report", "morning-briefing": "Morning Briefing"}
    for address, slugs in DEMO_READERS:
        issues = {m["Subject"].split(":")[0]: m for m in mailbox.messages(to=address)}
        assert set(issues) == {names[slug] for slug in slugs}, address
        for slug in slugs:
            text = text_of(issues[names[slug]])
            for title, path, _ in DEMO_STORIES[slug]:
                assert title in text and f"https://example.com/{path}" in text
            assert link_in(issues[names[slug]], "/unsubscribe/")
        [imported] = events(app, address)
        assert "demo reader" in imported.detail["consent_note"]

    with app.app_context():
        statuses = list(db.session.scalars(select(Delivery.status)))
        assert statuses == [DeliveryStatus.SENT] * sum(len(s) for _, s in DEMO_READERS)
        counts = (db.session.scalar(select(func.count(Story.id))), _readers())

    again = runner.invoke(args=["newsletter", "demo"])
    assert again.exit_code == 0 and "added none" in again.output
    with app.app_context():
        assert (db.session.scalar(select(func.count(Story.id))), _readers()) == counts


def _readers() -> int:
    """How many readers the database holds."""
    return db.session.scalar(select(func.count(Subscriber.id)))


# --- make run, for real ----------------------------------------------------------------


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path, seconds: float = 60):
    """Wait for the server to answer, failing with its output if it stops first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"make run did not serve {url} within {seconds:.0f}s:\n{log.read_text()}")


def _get(url: str) -> str:
    """The body of a page."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def _printed_command(welcome: str, words: str) -> str:
    """The command the welcome prints with ``words`` in it, as a developer would copy it."""
    [line] = [line for line in welcome.splitlines() if words in line]
    return line.strip().removeprefix("Send an issue:").strip()


def test_make_run_serves_and_its_printed_commands_work_in_another_shell(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("Makefile", "pyproject.toml", "app.py"):
        (checkout / name).symlink_to(ROOT / name)
    stamp = tmp_path / "installed-stamp"
    stamp.touch()  # the virtualenv is installed already: make must not reinstall it
    port = free_port()
    storage = private_storage(tmp_path)
    log = tmp_path / "make-run.log"
    command = ["make", "run", f"PORT={port}", f"VENV={ROOT / '.venv'}", f"STAMP={stamp}"]
    with log.open("w") as output:
        server = subprocess.Popen(
            command, cwd=checkout, env=shell_environment(**storage), stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(f"{base}/healthz", server, log)
        welcome = log.read_text()
        assert f"newsletters is running at {base}/" in welcome
        assert dotenv_values(checkout / ".env")["SITE_URL"] == base

        shell = shell_environment(**storage)
        for words, stdin in (("admin create you@", TWICE), ("Send an issue:", None)):
            printed = _printed_command(welcome, words)
            done = subprocess.run(
                printed, shell=True, cwd=checkout, env=shell, input=stdin,
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, f"{printed}\n{done.stdout}\n{done.stderr}"

        keys = re.findall(r'href="/dev/mailbox/([^"/]+)"', _get(f"{base}/dev/mailbox"))
        assert len(keys) == sum(len(slugs) for _, slugs in DEMO_READERS)
        for key in keys:
            text = _get(f"{base}/dev/mailbox/{key}/text")
            assert f"{base}/unsubscribe/" in text and ":5000" not in text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
