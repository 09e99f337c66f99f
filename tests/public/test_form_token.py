"""One signup form's token is short-lived and takes a handful of posts, not any number."""

import secrets
import time

import pytest
import redis
from itsdangerous.timed import TimestampSigner

from newsletters.public import forms
from newsletters.services.core.tokens import Purpose, read_token
from tests.support.reader import add_demo_newsletters, csrf_token_in, snapshot, statuses

BOX = "/embed/signup?newsletters=ai-digest,the-weekly"
PUBLISHER = "https://www.publisher.example"


@pytest.fixture
def settings(settings, request):
    settings["EMBED_ALLOWED_ORIGINS"] = [PUBLISHER]
    if "redis_url" in request.fixturenames:
        settings["RATELIMIT_STORAGE_URI"] = request.getfixturevalue("redis_url")
    return settings


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _token(client, page: str = BOX) -> str:
    return csrf_token_in(client.get(page).get_data(as_text=True))


def _post(app, token, email, key=None, source="embed", ip="127.0.0.1", **headers):
    data = {
        "csrf_token": token,
        "source": source,
        "shown": "ai-digest,the-weekly",
        "newsletters": ["ai-digest"],
        "email": email,
    }
    if key:
        data["idempotency_key"] = key
    client = app.test_client()
    return client.post("/subscribe", data=data, headers=headers, environ_base={"REMOTE_ADDR": ip})


def test_one_box_signs_up_three_addresses_and_no_fourth(app, client):
    token = _token(client)
    for n in range(3):
        assert _post(app, token, f"reader{n}@example.com").status_code == 200
    before = snapshot(app)
    refused = _post(app, token, "reader3@example.com")
    assert refused.status_code == 400
    assert snapshot(app) == before
    page = refused.get_data(as_text=True)
    # Inside the box: the box again, framable by the publisher, with a fresh token to use.
    assert "Stay connected" in page and "This form had expired" in page
    assert (
        "frame-ancestors 'self' https://www.publisher.example"
        in (refused.headers["Content-Security-Policy"])
    )
    fresh = csrf_token_in(page)
    assert fresh != token
    assert _post(app, fresh, "reader3@example.com").status_code == 200
    assert statuses(app, "reader3@example.com") == {"ai-digest": "pending"}


def test_a_script_gets_the_expired_form_answer_as_json(app, client):
    token = _token(client)
    for n in range(3):
        _post(app, token, f"reader{n}@example.com", Accept="application/json")
    refused = _post(app, token, "reader3@example.com", Accept="application/json")
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "form_expired"


def test_a_retry_with_the_same_idempotency_key_counts_once(app, client):
    token = _token(client)
    first = _post(app, token, "a@example.com", key="retry-key-0001")
    for _ in range(3):  # "Try again" after a failure sends the very same request
        again = _post(app, token, "a@example.com", key="retry-key-0001")
        assert (again.status_code, again.get_data()) == (200, first.get_data())
    # ... so two other signups still fit, and a header counts like the field.
    assert _post(app, token, "b@example.com", key="retry-key-0002").status_code == 200
    header = {"Idempotency-Key": "retry-key-0003"}
    assert _post(app, token, "c@example.com", **header).status_code == 200
    assert _post(app, token, "d@example.com", key="retry-key-0004").status_code == 400
    # A request counted before the token was used up may still be retried.
    assert _post(app, token, "b@example.com", key="retry-key-0002").status_code == 200
    assert statuses(app, "d@example.com") == {}


def _respelled(token: str) -> str:
    """The same token in other letters: the signature's last character carries two spare bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    return token[:-1] + alphabet[last ^ 1]


def test_a_respelled_token_shares_the_count(app, client):
    token = _token(client)
    other = _respelled(token)
    assert other != token
    assert _post(app, token, "a@example.com").status_code == 200
    assert _post(app, other, "b@example.com").status_code == 200  # still a valid token...
    assert _post(app, token, "c@example.com").status_code == 200
    assert _post(app, other, "d@example.com").status_code == 400  # ...but the same form


def test_the_newsletters_page_form_is_bounded_too(app, client):
    token = _token(client, "/")
    for n in range(3):
        assert _post(app, token, f"reader{n}@example.com", source="form").status_code == 200
    refused = _post(app, token, "reader3@example.com", source="form")
    assert refused.status_code == 400
    assert "This form has expired" in refused.get_data(as_text=True)
    assert statuses(app, "reader3@example.com") == {}


def _token_from(app, monkeypatch, seconds_ago: int) -> str:
    with app.test_request_context(), monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - seconds_ago)
        return forms.signup_form_token()


def test_a_form_lives_two_hours(app, monkeypatch):
    assert app.config["SIGNUP_FORM_MAX_AGE"] == 2 * 3600
    fresh = _token_from(app, monkeypatch, 3600)
    assert _post(app, fresh, "early@example.com").status_code == 200
    stale = _token_from(app, monkeypatch, 2 * 3600 + 60)
    before = snapshot(app)
    refused = _post(app, stale, "late@example.com")
    assert refused.status_code == 400
    assert "This form had expired" in refused.get_data(as_text=True)
    assert snapshot(app) == before


def test_the_count_is_shared_through_redis(app, client, redis_url):
    token = _token(client)
    # Redis outlives the test, so this run uses addresses nobody else has used.
    ip = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    emails = [f"r{n}-{secrets.token_hex(4)}@example.com" for n in range(4)]
    for email in emails[:3]:
        assert _post(app, token, email, ip=ip).status_code == 200
    assert _post(app, token, emails[3], ip=ip).status_code == 400
    store = redis.Redis.from_url(redis_url)
    with app.app_context():
        nonce = read_token(Purpose.SIGNUP_FORM, token)["n"]
    keys = list(store.scan_iter(match=f"*signup-form*{nonce}*"))
    assert keys, "the uses were not counted in Redis"
    keys += [k for pattern in [ip, *emails] for k in store.scan_iter(match=f"*{pattern}*")]
    store.delete(*keys)
