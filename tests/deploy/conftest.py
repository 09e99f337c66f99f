"""The production stack, for the deploy tests: nginx, gunicorn, PostgreSQL, Redis and Celery."""

import os
import secrets
import time
from email.message import EmailMessage

import pytest

from tests.conftest import service_unavailable
from tests.support.mail import free_port
from tests.support.reader import CSRF_FIELD, VALUE
from tests.support.stack import (
    NGINX,
    SERVER_NAME,
    flask,
    start_celery_worker,
    start_gunicorn,
    start_nginx,
    stop,
)

READER_IP, OTHER_IP = "127.0.0.3", "127.0.0.4"


@pytest.fixture
def stack(database_url, redis_url, smtp_server, tmp_path):
    """The whole production setup, on this machine's PostgreSQL and Redis."""
    if not os.path.exists(NGINX):
        service_unavailable("nginx", "not installed (apt-get install nginx-light)")
    https_port, http_port, app_port = free_port(), free_port(), free_port()
    settings = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "SITE_URL": f"https://{SERVER_NAME}:{https_port}",
        "SITE_NAME": "The Daily Ledger",
        "SUPPORT_EMAIL": "help@news.test",
        "POSTAL_ADDRESS": "1 Press Row, Springfield",
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": smtp_server.port,
        "MAIL_DEFAULT_SENDER": "The Daily Ledger <newsletters@news.test>",
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"deploy-{secrets.token_hex(4)}",
        "SIGNUP_RATE_LIMIT": "4 per minute",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_QUEUE": f"newsletters-deploy-{secrets.token_hex(4)}",
        "PROXY_COUNT": 1,
        "SIGNUP_MIN_SECONDS": 0,
        "DIGEST_JOURNAL_DIR": str(tmp_path / "journal"),
    }
    added = flask(settings, "newsletter", "add", "the-weekly", "--name", "The Weekly")
    assert added.returncode == 0, added.stderr
    web = worker = proxy = None
    try:
        web = start_gunicorn(settings, app_port, workers=2)
        worker = start_celery_worker(settings)
        proxy, cafile = start_nginx(tmp_path, f"127.0.0.1:{app_port}", http_port, https_port)
        yield settings, https_port, http_port, cafile
    finally:
        logs = stop(proxy, worker, web)
        if "Traceback" in logs:
            print(logs)


def form_token(page: str) -> str:
    """The signed form token in a page."""
    return VALUE.search(CSRF_FIELD.search(page)[0])[1]


def wait_for_mail(smtp_server, to: str, subject_words: str, seconds=30) -> EmailMessage:
    """The first mail to ``to`` whose subject has ``subject_words``, once it arrives."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in smtp_server.messages:
            if message["To"] == to and subject_words in message["Subject"]:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no '{subject_words}' mail to {to}")
