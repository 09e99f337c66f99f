"""POST /api/v1/subscriptions has the form's defences: a publishable key bound to origins,
the CAPTCHA and the honeypot for web pages; a subscribers:write token for servers."""

import pytest
from sqlalchemy import update

from newsletters.extensions import db
from newsletters.models import ApiToken, utcnow
from newsletters.services.console import api_tokens
from tests.support.reader import add_demo_newsletters, snapshot, statuses

PUBLISHER = "https://www.publisher.example"
SITE = "https://news.example.com"
THANKS = "Thank you for submitting your email!"
SIGNUP = {"email": "reader@example.com", "newsletters": ["ai-digest"]}


@pytest.fixture
def settings(settings):
    settings["EMBED_ALLOWED_ORIGINS"] = [PUBLISHER]
    return settings


@pytest.fixture
def production(settings, make_app, smtp_server):
    """The same service with APP_ENV=production, answering for news.example.com."""
    app = make_app(
        {
            **settings,
            **smtp_server.settings(),
            "APP_ENV": "production",
            "SECRET_KEY": "a-real-production-secret-key-of-40-chars",
            "SITE_URL": SITE,
        }
    )
    add_demo_newsletters(app)
    return app


@pytest.fixture(autouse=True)
def demo(request):
    if "production" not in request.fixturenames:
        add_demo_newsletters(request.getfixturevalue("app"))


def _key(app, *origins: str, name: str = "article pages") -> str:
    with app.app_context():
        return api_tokens.create_publishable_key(name, origins or [PUBLISHER])[1]


def _token(app, *scopes: str, name: str = "crm") -> str:
    with app.app_context():
        return api_tokens.create_token(name, scopes)[1]


def _post(app, body=SIGNUP, **headers):
    client = app.test_client()
    return client.post("/api/v1/subscriptions", json=body, headers=headers, base_url=SITE)


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]


# --- production: a key or a token, always -------------------------------------------------


def test_production_refuses_a_signup_without_key_or_token(production):
    before = snapshot(production)
    for headers in ({}, {"Origin": PUBLISHER}):
        _refused(_post(production, **headers), 401, "unauthorized")
    assert snapshot(production) == before


def test_production_takes_a_valid_key_from_its_origin(production):
    key = _key(production)
    answer = _post(production, **{"X-Publishable-Key": key, "Origin": PUBLISHER})
    assert answer.status_code == 202
    assert answer.get_json() == {"status": "accepted", "message": THANKS}
    assert statuses(production, "reader@example.com") == {"ai-digest": "pending"}


def test_production_takes_a_server_with_a_subscribers_write_token(production):
    token = _token(production, "subscribers:write")
    answer = _post(production, **{"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202
    assert statuses(production, "reader@example.com") == {"ai-digest": "pending"}


# --- the publishable key --------------------------------------------------------------------


def test_a_key_in_the_body_works_like_the_header(app):
    key = _key(app)
    answer = _post(app, {**SIGNUP, "key": key}, Origin=PUBLISHER)
    assert answer.status_code == 202
    assert statuses(app, "reader@example.com") == {"ai-digest": "pending"}


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://www.publisher.example", "null", "not an origin", None],
)
def test_a_key_from_another_origin_or_from_no_page_is_403(app, origin):
    key = _key(app)
    before = snapshot(app)
    headers = {"X-Publishable-Key": key, **({"Origin": origin} if origin else {})}
    _refused(_post(app, **headers), 403, "forbidden")
    assert snapshot(app) == before


@pytest.mark.parametrize("key", ["", "pk_not-a-key", "nl_not-a-key"])
def test_a_wrong_key_is_401(app, key):
    _key(app)
    before = snapshot(app)
    _refused(_post(app, **{"X-Publishable-Key": key, "Origin": PUBLISHER}), 401, "unauthorized")
    _refused(_post(app, {**SIGNUP, "key": key or 5}, Origin=PUBLISHER), 401, "unauthorized")
    assert snapshot(app) == before


def test_a_secret_token_is_no_publishable_key_and_a_revoked_key_is_dead(app):
    token = _token(app, "subscribers:write")
    key = _key(app)
    _refused(_post(app, **{"X-Publishable-Key": token, "Origin": PUBLISHER}), 401, "unauthorized")
    with app.app_context():
        db.session.execute(update(ApiToken).values(revoked_at=utcnow()))
        db.session.commit()
    _refused(_post(app, **{"X-Publishable-Key": key, "Origin": PUBLISHER}), 401, "unauthorized")


def test_the_key_origin_is_compared_as_browsers_write_it(app):
    key = _key(app, "HTTPS://Www.Publisher.Example:443/")
    answer = _post(app, **{"X-Publishable-Key": key, "Origin": PUBLISHER})
    assert answer.status_code == 202


# --- the bot checks of the form -------------------------------------------------------------


def test_the_captcha_is_required_when_configured(app):
    app.config["CAPTCHA_PROVIDER"] = "tests.support.captcha:verify"
    key = _key(app)
    headers = {"X-Publishable-Key": key, "Origin": PUBLISHER}
    before = snapshot(app)
    for body in (SIGNUP, {**SIGNUP, "captcha": "robot"}, {**SIGNUP, "captcha": ["human"]}):
        refused = _post(app, body, **headers)
        _refused(refused, 400, "invalid_input")
        assert "not a robot" in refused.get_json()["error"]["message"]
    assert snapshot(app) == before
    assert _post(app, {**SIGNUP, "captcha": "human"}, **headers).status_code == 202
    assert statuses(app, "reader@example.com") == {"ai-digest": "pending"}


def test_without_a_key_outside_production_the_captcha_still_applies(app):
    app.config["CAPTCHA_PROVIDER"] = "tests.support.captcha:verify"
    _refused(_post(app), 400, "invalid_input")
    assert _post(app, {**SIGNUP, "captcha": "human"}).status_code == 202


def test_a_server_token_needs_no_captcha(app):
    app.config["CAPTCHA_PROVIDER"] = "tests.support.captcha:verify"
    token = _token(app, "subscribers:write")
    assert _post(app, **{"Authorization": f"Bearer {token}"}).status_code == 202


def test_a_filled_honeypot_gets_the_usual_answer_and_stores_nothing(app, mailbox):
    key = _key(app)
    before = snapshot(app)
    headers = {"X-Publishable-Key": key, "Origin": PUBLISHER}
    answer = _post(app, {**SIGNUP, "website": "http://spam.example"}, **headers)
    assert (answer.status_code, answer.get_json()) == (
        202,
        {"status": "accepted", "message": THANKS},
    )
    assert snapshot(app) == before
    assert mailbox.messages() == []


# --- tokens from servers --------------------------------------------------------------------


def test_a_token_without_subscribers_write_is_403_and_a_bad_one_401(app):
    stories_only = _token(app, "stories:write")
    before = snapshot(app)
    _refused(_post(app, Authorization=f"Bearer {stories_only}"), 403, "forbidden")
    _refused(_post(app, Authorization="Bearer nl_wrong"), 401, "unauthorized")
    # A bad token is refused even when a good key comes with it: the token speaks first.
    key = _key(app)
    headers = {"Authorization": "Bearer nl_wrong", "X-Publishable-Key": key, "Origin": PUBLISHER}
    _refused(_post(app, **headers), 401, "unauthorized")
    assert snapshot(app) == before


def test_browsers_may_send_the_key_header(client):
    preflight = client.options(
        "/api/v1/subscriptions",
        headers={
            "Origin": PUBLISHER,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-publishable-key",
        },
    )
    assert "x-publishable-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" not in preflight.headers["Access-Control-Allow-Headers"].lower()
