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


def _forget(store, *parts):
    keys = [k for part in parts for k in store.scan_iter(match=f"*{part}*")]
    if keys:
        store.delete(*keys)


@pytest.mark.parametrize(
    ("per_ip", "per_address", "same", "window"),
    [
        ("3 per minute;100 per hour", "100 per 10 minutes;100 per day", "ip", 60),
        ("100 per minute;3 per hour", "100 per 10 minutes;100 per day", "ip", 3600),
        ("100 per minute;100 per hour", "3 per 10 minutes;100 per day", "address", 600),
        ("100 per minute;100 per hour", "100 per 10 minutes;3 per day", "address", 86400),
    ],
)
def test_every_window_limits_through_redis_and_says_when_to_retry(
    app, client, redis_url, per_ip, per_address, same, window
):
    app.config.update(SIGNUP_RATE_LIMIT=per_ip, SIGNUP_ADDRESS_RATE_LIMIT=per_address)
    tag = secrets.token_hex(4)
    ip, address = f"2001:db8::{tag[:4]}:{tag[4:]}", f"same-{tag}@example.com"
    store = redis.Redis.from_url(redis_url)
    try:
        answers = []
        for n in range(4):
            # One IP posting new addresses, or one address posted from new IPs.
            who = (ip, f"r{n}-{tag}@example.com") if same == "ip" else (f"{ip}{n}", address)
            answers.append(_sign_up_from(client, *who))
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.headers["X-RateLimit-Limit"] == "3"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert window - 5 <= int(refused.headers["Retry-After"]) <= window + 1
        assert all("Retry-After" in a.headers for a in answers)
    finally:
        _forget(store, ip, tag)
        store.close()


def test_one_round_trip_answers_and_counts_as_flask_limiter_does(
    app, client, redis_url, monkeypatch
):
    from newsletters import limits_redis

    app.config.update(
        SIGNUP_RATE_LIMIT="3 per minute;4 per hour",
        SIGNUP_ADDRESS_RATE_LIMIT="2 per 10 minutes;3 per day",
    )
    # (ip, address) for each post: the per-address window refuses a's third and fourth
    # posts, the per-IP minute the fourth post from one IP.
    plan = [(0, "a"), (0, "a"), (0, "a"), (1, "b"), (1, "c"), (1, "d"), (1, "e"), (2, "a")]
    store = redis.Redis.from_url(redis_url)
    hit_all, one_trips = limits_redis.hit_all, []

    def counted_hit_all(*args):
        one_trips.append(hit_all(*args))
        return one_trips[-1]

    monkeypatch.setattr(limits_redis, "hit_all", counted_hit_all)

    def run():
        tag = secrets.token_hex(4)
        ips = [f"2001:db8::{tag[:4]}:{n}" for n in range(3)]
        seen = []
        for ip, name in plan:
            answer = _sign_up_from(client, ips[ip], f"{name}-{tag}@example.com")
            headers = [
                answer.headers.get(h) for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining")
            ]
            seen.append(
                (answer.status_code, *headers, round(int(answer.headers["Retry-After"]) / 10))
            )
        counters = {
            key.decode().replace(tag, "TAG").replace(ips[0][:-2], "IP"): int(store.get(key))
            for part in (tag, f"2001:db8::{tag[:4]}")
            for key in store.scan_iter(match=f"*{part}*")
        }
        _forget(store, tag, f"2001:db8::{tag[:4]}")
        return seen, counters

    try:
        one_trip = run()
        assert len(one_trips) == len(plan), "the posts were not checked in one round trip"
        monkeypatch.setattr(limits_redis, "usable", lambda limiter: False)
        one_at_a_time = run()
    finally:
        store.close()
    assert [s[0] for s in one_trip[0]] == [200, 200, 429, 200, 200, 200, 429, 429]
    assert one_trip == one_at_a_time
    assert len(one_trip[1]) == 13, one_trip[1]  # every window's counter, in the same keys
