"""The attacks of the hardening suites, tried again on the production setup.

nginx in front, two gunicorn workers, PostgreSQL and Redis, in production mode:
what the test client proves against one process must also hold there.
"""

import re

import pytest
from sqlalchemy import create_engine, func, select

from newsletters.models import OutboxMessage, Subscription
from tests.deploy.conftest import OTHER_IP, READER_IP
from tests.support.stack import Browser, flask

CSRF_VALUE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
OWNER_PASSWORD = "correct horse battery staple 1926"

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _counts(database_url: str) -> tuple[int, int]:
    """(subscriptions, outbox messages) as the database holds them now."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return (
                connection.scalar(select(func.count()).select_from(Subscription)),
                connection.scalar(select(func.count()).select_from(OutboxMessage)),
            )
    finally:
        engine.dispose()


def test_nginx_refuses_a_read_that_carries_a_body(stack, database_url):
    settings, https_port, _, cafile = stack
    browser = Browser(https_port, cafile)
    before = _counts(database_url)
    for method in ("HEAD", "GET"):
        status, _, _ = browser.request(method, "/preferences", form={"email": "reader@example.com"})
        assert status == 400, method
        chunked = browser.request(
            method, "/unsubscribe/x", body=iter([b"List-Unsubscribe=One-Click"]),
            headers={"Transfer-Encoding": "chunked"},
        )  # fmt: skip
        assert chunked[0] == 400, method
    assert browser.request("HEAD", "/preferences")[0] == 200
    assert browser.request("GET", "/preferences")[0] == 200
    assert _counts(database_url) == before


def test_the_hardening_holds_behind_nginx_with_two_workers(stack, database_url):
    """Methods, hostile JSON, NUL bytes, forged links and keyless API signups, in production."""
    settings, https_port, _, cafile = stack
    browser = Browser(https_port, cafile)
    before = _counts(database_url)

    # Only POST changes state: other methods on the state-changing routes change nothing.
    for method in ("PUT", "PATCH", "DELETE"):
        status, _, _ = browser.request(method, "/preferences", form={"email": "r@example.com"})
        assert status in (405, 400), (method, status)

    # Deeply nested JSON is bad input, not a crash.
    deep = b"[" * 100_000 + b"]" * 100_000
    status, _, body = browser.request(
        "POST", "/api/v1/subscriptions", body=deep, headers={"Content-Type": "application/json"}
    )
    assert status == 400 and '"error"' in body, (status, body[:200])

    # A NUL byte is a 400, never "the database is down".
    status, _, body = browser.request("GET", "/preferences?email=a%00b")
    assert status == 400 and "database" not in body.lower()

    # A forged link changes nothing.
    status, _, _ = browser.request("POST", "/unsubscribe/not-a-token", form={
        "List-Unsubscribe": "One-Click"})  # fmt: skip
    assert status == 400

    # The API takes no signup without a publishable key or a token in production.
    status, _, body = browser.request(
        "POST", "/api/v1/subscriptions",
        body=b'{"email": "bot@example.com", "newsletters": ["the-weekly"]}',
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
    )  # fmt: skip
    assert status == 401, (status, body[:200])
    assert _counts(database_url) == before


def _sign_in_answer(browser: Browser, email: str) -> tuple[int, str, str]:
    """(status, Retry-After, page without its form token) of one wrong sign-in."""
    _, _, page = browser.request("GET", "/admin/login")
    status, headers, body = browser.request("POST", "/admin/login", form={
        "csrf_token": CSRF_VALUE.search(page)[1], "email": email, "password": "wrong-" * 4,
    })  # fmt: skip
    return status, headers.get("Retry-After", ""), CSRF_VALUE.sub("", body).replace(email, "")


def test_admin_sign_in_tells_nobody_who_is_an_admin_across_workers(stack):
    """Throttled through Redis by both workers alike, a real and an unknown address answer
    the same, and nobody waits longer than the documented 15 minutes."""
    settings, https_port, _, cafile = stack
    made = flask(settings, "admin", "create", "owner@example.com", "--password", OWNER_PASSWORD)
    assert made.returncode == 0, made.stderr
    answers = {}
    for email in ("owner@example.com", "nobody@example.com"):
        browser = Browser(https_port, cafile, source_ip=OTHER_IP if "owner" in email else READER_IP)
        answers[email] = [_sign_in_answer(browser, email) for _ in range(7)]
    assert answers["owner@example.com"] == answers["nobody@example.com"]
    statuses = [status for status, _, _ in answers["owner@example.com"]]
    assert 429 in statuses, statuses
    waits = [int(wait) for _, wait, _ in answers["owner@example.com"] if wait]
    assert waits and max(waits) <= 900, waits
