"""The attacks of the hardening suites, tried again on the production setup.

nginx in front, two gunicorn workers, PostgreSQL and Redis, in production mode:
what the test client proves against one process must also hold there.
"""

import pytest
from sqlalchemy import create_engine, func, select

from newsletters.models import OutboxMessage, Subscription
from tests.support.stack import Browser

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
