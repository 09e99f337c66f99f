"""Flask-Limiter guards signup and lost-link, per IP and per address, in memory or Redis."""

import secrets

import pytest
import redis

from tests.support.reader import add_demo_newsletters, sign_up, snapshot, submit_form


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _sign_up_from(client, ip, email):
    client.environ_base["REMOTE_ADDR"] = ip
    return sign_up(client, email, "the-weekly")


def test_signups_are_limited_per_ip(app, client):
    app.config["SIGNUP_RATE_LIMIT"] = "3 per minute"
    for n in range(3):
        assert _sign_up_from(client, "198.51.100.9", f"r{n}@example.com").status_code == 200
    before = snapshot(app)
    blocked = _sign_up_from(client, "198.51.100.9", "r9@example.com")
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert snapshot(app) == before
    assert _sign_up_from(client, "198.51.100.10", "r9@example.com").status_code == 200


def test_signups_are_limited_per_address_whatever_the_ip(app, client):
    app.config["SIGNUP_ADDRESS_RATE_LIMIT"] = "2 per minute"
    assert _sign_up_from(client, "203.0.113.1", "victim@example.com").status_code == 200
    assert _sign_up_from(client, "203.0.113.2", "Victim@Example.com").status_code == 200
    assert _sign_up_from(client, "203.0.113.3", "victim@example.com").status_code == 429
    assert _sign_up_from(client, "203.0.113.3", "someone@example.com").status_code == 200


def test_lost_link_requests_are_limited(app, client):
    app.config["SIGNUP_ADDRESS_RATE_LIMIT"] = "2 per minute"
    codes = [
        submit_form(client, "/preferences", {"email": "who@example.com"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


@pytest.fixture
def settings(settings, request):
    if "redis_url" in request.fixturenames:
        settings["RATELIMIT_STORAGE_URI"] = request.getfixturevalue("redis_url")
    return settings


def test_limits_are_shared_through_redis(app, client, redis_url):
    app.config["SIGNUP_RATE_LIMIT"] = "2 per minute"
    # Redis outlives the test, so this run uses an address nobody else has used.
    ip = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    emails = [f"{name}-{secrets.token_hex(4)}@example.com" for name in "abc"]
    assert _sign_up_from(client, ip, emails[0]).status_code == 200
    assert _sign_up_from(client, ip, emails[1]).status_code == 200
    # A second web worker, sharing only Redis, sees the same count.
    other_worker = app.test_client()
    assert _sign_up_from(other_worker, ip, emails[2]).status_code == 429
    store = redis.Redis.from_url(redis_url)
    keys = [k for pattern in [ip, *emails] for k in store.scan_iter(match=f"*{pattern}*")]
    assert any(ip.encode() in key for key in keys), "the limiter did not count in Redis"
    store.delete(*keys)
