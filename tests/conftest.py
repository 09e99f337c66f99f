"""Fixtures: an app with a fresh database for each test, on SQLite and on PostgreSQL.

PostgreSQL, Redis, an SMTP server and Chromium are the real thing. Locally a
test that needs one that is missing is skipped; with ``REQUIRE_SERVICES=1``
(as ``.ci/run`` sets) it fails instead.
"""

import os
import shutil
import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from newsletters import create_app
from newsletters.extensions import db
from tests.support.databases import create_database, drop_database
from tests.support.faults import app_role_url, drop_app_role, is_sqlite
from tests.support.mail import DevMailbox, SMTPRecorder, free_port
from tests.support.readers import add_newsletter, add_stories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent


def service_unavailable(service: str, reason: object) -> None:
    """Skip, or fail when the run promised every service would be there."""
    message = f"{service} is not available: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


class ClosingClient(FlaskClient):
    """A test client that closes each response, as a real server does.

    The app sends mail once the response is closed, so buffering here makes
    the mail of a request arrive before the test looks for it.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def test_settings(database_url: str, workdir: Path, **overrides) -> dict:
    """The settings every test app starts from."""
    settings = {
        "TESTING": True,
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "SECRET_KEY_FALLBACKS": [],
        "DATABASE_URL": database_url,
        "SITE_URL": "http://newsletters.test",
        "SITE_NAME": "The Daily Ledger",
        "SUPPORT_EMAIL": "help@newsletters.test",
        "POSTAL_ADDRESS": "1 Press Row, Springfield",
        "MAIL_SERVER": "",
        "MAIL_DEFAULT_SENDER": "The Daily Ledger <newsletters@newsletters.test>",
        "DEV_MAILBOX_PATH": str(workdir / "mailbox"),
        "IMPORT_DIR": str(workdir / "imports"),
        "SIGNUP_MIN_SECONDS": 0,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    settings.update(overrides)
    return settings


test_settings.__test__ = False  # a helper, not a test


def migrate(database_url: str, workdir: Path) -> None:
    """Build the schema the way production does: with the Alembic migrations."""
    app = create_app(test_settings(database_url, workdir))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test."""
    workdir = tmp_path_factory.mktemp("sqlite-template")
    path = workdir / "template.db"
    migrate(f"sqlite:///{path}", workdir)
    return path


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A migrated PostgreSQL database of our own, dropped at the end of the run."""
    try:
        url = create_database(TEST_DATABASE_URL, f"newsletters_{os.getpid()}")
    except OperationalError as exc:
        service_unavailable("PostgreSQL", exc.orig)
    try:
        migrate(url, tmp_path_factory.mktemp("postgres"))
        yield url
    finally:
        drop_database(url)


def _empty_postgres(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh, migrated database for this test, on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "newsletters.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def settings(database_url, tmp_path) -> dict:
    """Settings for this test's app; a test may change them before asking for ``app``."""
    return test_settings(database_url, tmp_path)


@pytest.fixture
def restricted_role(settings, database_url):
    """On PostgreSQL, run the app as a role that is not a superuser, so the failure tests
    can take its right to write away; SQLite needs nothing."""
    if is_sqlite(database_url):
        yield settings
        return
    settings["DATABASE_URL"] = app_role_url(database_url)
    yield settings
    drop_app_role(database_url)


def close_app(app) -> None:
    """Close every database connection ``app`` holds (left open, they leak into later tests)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Builds apps from settings, away from any ``.env`` in the checkout; closed afterwards."""
    monkeypatch.chdir(tmp_path)
    made = []

    def make(settings: dict):
        app = create_app(settings)
        app.test_client_class = ClosingClient
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)


@pytest.fixture
def app(settings, make_app):
    """The application, on a fresh database."""
    return make_app(settings)


@pytest.fixture
def client(app):
    """A test client for ``app``."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for ``app``."""
    return app.test_cli_runner()


@pytest.fixture
def mailbox(app) -> DevMailbox:
    """The development mailbox the app delivers to when no SMTP server is set."""
    return DevMailbox(app)


@pytest.fixture
def weekly(app) -> int:
    """'The Weekly' (Mondays 8:00, a month old) with three stories in the week just ended."""
    newsletter_id = add_newsletter(app)
    add_stories(app, newsletter_id, 3)
    return newsletter_id


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port, recording what it receives."""
    recorder = SMTPRecorder()
    recorder.start()
    yield recorder
    recorder.stop()


@pytest.fixture
def redis_url() -> str:
    """The test Redis; skipped (or failed) when it does not answer."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", exc)
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture
def dovecot(request):
    """A real Dovecot (IMAP, POP3 and their TLS ports) of this test's own, on loopback.

    Parametrize it indirectly with keyword arguments of ``Dovecot``, such as
    ``imap_capability``, for a server that offers less.
    """
    from tests.support.dovecot import DOVECOT, Dovecot

    if not Path(DOVECOT).exists():
        service_unavailable(
            "Dovecot", f"{DOVECOT} does not exist (apt-get install dovecot-imapd dovecot-pop3d)"
        )
    server = Dovecot(**getattr(request, "param", {}))
    try:
        server.start()
    except RuntimeError as exc:
        server.remove()
        service_unavailable("Dovecot", exc)
    yield server
    server.remove()


@pytest.fixture
def live_port() -> int:
    """The port the live server will listen on (known early: links are built from it)."""
    return free_port()


@pytest.fixture
def live_server(settings, live_port, tmp_path, monkeypatch):
    """The app served over real HTTP by a threaded WSGI server, for the browser."""
    monkeypatch.chdir(tmp_path)
    app = create_app({**settings, "SITE_URL": f"http://127.0.0.1:{live_port}"})
    app.test_client_class = ClosingClient
    server = make_server("127.0.0.1", live_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.base_url = f"http://127.0.0.1:{live_port}"
    yield app
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    close_app(app)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        service_unavailable("Chromium", f"{CHROMIUM} does not exist (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def owner(app, client):
    """A client signed in as an owner."""
    from tests.support.admin import create_admin, sign_in

    sign_in(client, create_admin(app, "owner@publisher.example", "owner"))
    return client


@pytest.fixture
def editor(app):
    """A second client, signed in as an editor."""
    from tests.support.admin import create_admin, sign_in

    editor_client = app.test_client()
    sign_in(editor_client, create_admin(app, "editor@publisher.example", "editor"))
    return editor_client
