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
