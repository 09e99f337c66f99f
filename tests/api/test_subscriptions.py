"""POST /api/v1/subscriptions behaves like the form; CORS only for the embed origins."""

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import IdempotencyRecord, OutboxMessage, Subscriber
from tests.support.reader import add_demo_newsletters, snapshot, statuses

PUBLISHER = "https://www.publisher.example"
THANKS = "Thank you for submitting your email!"


@pytest.fixture
def settings(settings):
    settings["EMBED_ALLOWED_ORIGINS"] = [PUBLISHER]
    return settings


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _subscribe(client, body, **headers):
    return client.post("/api/v1/subscriptions", json=body, headers=headers)


def test_a_signup_is_accepted_like_the_form(app, client, mailbox):
    response = _subscribe(client, {"email": "reader@example.com", "newsletters": ["ai-digest"]})
    assert response.status_code == 202
    assert response.get_json() == {"status": "accepted", "message": THANKS}
    assert statuses(app, "reader@example.com") == {"ai-digest": "pending"}
    assert "Confirm your subscription" in mailbox.last(to="reader@example.com")["Subject"]


def test_every_address_gets_the_same_answer(app, client):
    body = {"email": "reader@example.com", "newsletters": ["ai-digest"]}
    first = _subscribe(client, body)
    second = _subscribe(client, body)
    assert (first.status_code, first.get_json()) == (second.status_code, second.get_json())


def test_a_retried_request_is_applied_once_and_answered_the_same(app, client):
    body = {"email": "reader@example.com", "newsletters": ["ai-digest"]}
    answers = [_subscribe(client, body, **{"Idempotency-Key": "retry-key-0001"}) for _ in range(3)]
    assert {(a.status_code, a.get_data()) for a in answers} == {(202, answers[0].get_data())}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
        events = db.session.execute(db.text("select count(*) from event")).scalar()
        assert events == 1  # one signup request recorded, not three
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_a_key_reused_for_another_request_is_409_and_changes_nothing(app, client):
    _subscribe(
        client,
        {"email": "a@example.com", "newsletters": ["ai-digest"]},
        **{"Idempotency-Key": "shared-key-01"},
    )
    before = snapshot(app)
    reused = _subscribe(
        client,
        {"email": "b@example.com", "newsletters": ["ai-digest"]},
        **{"Idempotency-Key": "shared-key-01"},
    )
    assert reused.status_code == 409
    assert reused.get_json()["error"]["code"] == "idempotency_conflict"
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "nope", "newsletters": ["ai-digest"]}, "invalid_email"),
        ({"email": 5, "newsletters": ["ai-digest"]}, "invalid_email"),
        ({"email": "r@example.com", "newsletters": "ai-digest"}, "invalid_input"),
        ({"email": "r@example.com", "newsletters": []}, "no_newsletter"),
        ({"email": "r@example.com", "newsletters": ["nope"]}, "unknown_newsletter"),
        (["not", "an", "object"], "invalid_input"),
    ],
)
def test_bad_requests_are_400_with_a_json_error_and_change_nothing(app, client, body, code):
    before = snapshot(app)
    response = _subscribe(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert snapshot(app) == before


def test_a_malformed_idempotency_key_is_400(app, client):
    response = _subscribe(
        client,
        {"email": "r@example.com", "newsletters": ["ai-digest"]},
        **{"Idempotency-Key": "bad key with spaces"},
    )
    assert response.status_code == 400


def test_cors_is_open_to_the_embed_origins_only(client):
    preflight = client.options(
        "/api/v1/subscriptions",
        headers={
            "Origin": PUBLISHER,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == PUBLISHER
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    allowed = _subscribe(
        client, {"email": "r@example.com", "newsletters": ["ai-digest"]}, Origin=PUBLISHER
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == PUBLISHER
    stranger = _subscribe(
        client,
        {"email": "s@example.com", "newsletters": ["ai-digest"]},
        Origin="https://evil.example",
    )
    assert "Access-Control-Allow-Origin" not in stranger.headers
    stories = client.options(
        "/api/v1/stories", headers={"Origin": PUBLISHER, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in stories.headers


def test_the_openapi_document_is_valid_and_describes_every_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert document["servers"] == [{"url": "http://newsletters.test/api/v1"}]


def _saved_locale(app, address: str):
    with app.app_context():
        return db.session.scalar(select(Subscriber.locale).where(Subscriber.email == address))


@pytest.mark.parametrize("field", ["locale", "language"])
def test_a_signup_in_a_named_language_is_confirmed_in_it(app, client, mailbox, field):
    body = {"email": "lectora@example.com", "newsletters": ["ai-digest"], field: "es"}
    assert _subscribe(client, body).status_code == 202
    assert _saved_locale(app, "lectora@example.com") == "es"
    confirmation = mailbox.last(to="lectora@example.com")
    assert confirmation["Subject"] == "Confirma tu suscripción a AI Digest"


def test_without_a_language_the_browsers_is_saved_and_else_none(app, client, mailbox):
    body = {"email": "leserin@example.com", "newsletters": ["ai-digest"]}
    assert _subscribe(client, body, **{"Accept-Language": "de-DE,de;q=0.9"}).status_code == 202
    assert _saved_locale(app, "leserin@example.com") == "de"
    subject = mailbox.last(to="leserin@example.com")["Subject"]
    assert subject == "Bestätigen Sie Ihr Abonnement von AI Digest"

    body = {"email": "server@example.com", "newsletters": ["ai-digest"]}
    assert _subscribe(client, body).status_code == 202
    assert _saved_locale(app, "server@example.com") is None
    assert "Confirm your subscription" in mailbox.last(to="server@example.com")["Subject"]


@pytest.mark.parametrize(
    "language",
    [
        {"locale": "fr"},
        {"locale": "ES"},
        {"locale": ""},
        {"locale": 5},
        {"language": ["es"]},
        {"locale": "es", "language": "de"},
    ],  # fmt: skip
)
def test_a_language_the_site_does_not_offer_is_400_and_saves_nothing(app, client, language):
    before = snapshot(app)
    body = {"email": "r@example.com", "newsletters": ["ai-digest"], **language}
    response = _subscribe(client, body, **{"Accept-Language": "es"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert "locale must be" in error["message"]
    assert snapshot(app) == before


def test_the_openapi_document_offers_the_sites_languages(client):
    document = client.get("/api/v1/openapi.json").get_json()
    fields = document["components"]["schemas"]["SubscriptionRequest"]["properties"]
    assert fields["locale"]["enum"] == fields["language"]["enum"] == ["en", "es", "de"]
