"""The generic webhook: HMAC-SHA256 of the body in X-Signature, one small JSON object."""

import pytest

from newsletters.models import BounceKind, EventKind, SuppressionReason
from tests.support.provider_webhooks import (
    WEBHOOK,
    active_subscriptions,
    as_body,
    generic_headers,
    history_count,
    nothing_changed,
    reports,
    suppression,
)

SECRET = "generic-webhook-secret-for-tests"
URL = WEBHOOK.format("generic")


@pytest.fixture
def settings(settings):
    settings["BOUNCE_WEBHOOK_SECRET"] = SECRET
    return settings


def _post(client, payload, secret=SECRET, headers=None):
    body = payload if isinstance(payload, bytes) else as_body(payload)
    return client.post(URL, data=body, headers=headers or generic_headers(secret, body))


def test_a_hard_bounce_in_the_documented_shape_suppresses_the_address(app, client, reader):
    payload = {
        "email": reader,
        "type": "hard",
        "message_id": "<20261123.abc@mail.newsletters.test>",
        "reason": "550 5.1.1 no such user",
    }
    response = _post(client, payload)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "applied": 1, "replayed": 0}
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.BOUNCED
        assert "550 5.1.1 no such user" in suppression(reader).detail
        [report] = reports()
        assert (report.source, report.kind, report.outcome) == ("generic", "hard", "suppressed")
        assert history_count(reader, EventKind.BOUNCED) == 1


def test_a_complaint_unsubscribes_the_reader_from_everything(app, client, reader):
    response = _post(client, {"email": reader.upper(), "type": "complaint"})
    assert response.status_code == 200
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.COMPLAINED
        assert active_subscriptions(reader) == 0
        assert history_count(reader, EventKind.COMPLAINED) == 1


def test_a_soft_bounce_is_counted_not_suppressed(app, client, reader):
    assert _post(client, {"email": reader, "type": "soft", "id": "evt-1"}).status_code == 200
    with app.app_context():
        assert suppression(reader) is None
        assert [(r.kind, r.outcome) for r in reports()] == [(BounceKind.SOFT, "counted")]


@pytest.mark.parametrize("signature", ["0" * 64, "not hex", ""])
def test_a_bad_signature_is_401_and_changes_nothing(app, client, reader, signature):
    body = as_body({"email": reader, "type": "hard"})
    headers = {"Content-Type": "application/json", "X-Signature": signature}
    response = _post(client, body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert nothing_changed(app)


def test_a_body_signed_with_another_secret_is_401(app, client, reader):
    response = _post(client, {"email": reader, "type": "hard"}, secret="another-secret")
    assert response.status_code == 401
    assert nothing_changed(app)


def test_a_body_labelled_as_a_form_is_still_read_as_signed(app, client, reader):
    """``curl --data`` labels any body a form; the signature is over its bytes all the same."""
    body = as_body({"email": reader, "type": "hard"})
    headers = generic_headers(SECRET, body) | {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post(URL, data=body, headers=headers).status_code == 200
    with app.app_context():
        assert suppression(reader) is not None


def test_a_missing_signature_is_401(app, client, reader):
    response = client.post(URL, json={"email": reader, "type": "hard"})
    assert response.status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not json",
        b"[]",
        {"email": "reader0@example.com", "type": "bounce"},
        {"email": 5, "type": "hard"},
        {"email": "no address", "type": "hard"},
        {"type": "hard"},
        {"email": "reader0@example.com", "type": "hard", "reason": ["a", "list"]},
        {"email": "reader0@example.com", "type": "hard", "messageId": "<a@b>"},
        {"email": "reader0@example.com\u0000", "type": "hard"},
    ],
    ids=[
        "not-json",
        "a-list",
        "unknown-type",
        "email-a-number",
        "email-no-address",
        "email-missing",
        "reason-a-list",
        "misspelt-field",
        "nul",
    ],
)
def test_a_malformed_body_is_400_and_changes_nothing(app, client, reader, payload):
    response = _post(client, payload)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_input"
    assert nothing_changed(app)


def test_the_same_event_twice_is_applied_once(app, client, reader):
    payload = {"email": reader, "type": "complaint", "message_id": "<x@y>"}
    first, again = _post(client, payload), _post(client, payload)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.get_json()["applied"] == 1
    assert again.get_json() == {"status": "ok", "applied": 0, "replayed": 1}
    with app.app_context():
        assert len(reports()) == 1
        assert history_count(reader, EventKind.COMPLAINED) == 1


def test_two_soft_bounces_with_their_own_ids_are_two_events(app, client, reader):
    for event_id in ("evt-1", "evt-2", "evt-1"):
        assert _post(client, {"email": reader, "type": "soft", "id": event_id}).status_code == 200
    with app.app_context():
        assert len(reports()) == 2


def test_the_webhook_is_off_without_its_secret(app, client, reader):
    app.config["BOUNCE_WEBHOOK_SECRET"] = ""
    response = _post(client, {"email": reader, "type": "hard"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert nothing_changed(app)


def test_an_unknown_provider_is_404_in_json(client):
    response = client.post(WEBHOOK.format("sparkpost"), data=b"{}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_a_get_is_405_in_json(client):
    response = client.get(URL)
    assert response.status_code == 405 and "error" in response.get_json()


def test_a_body_over_the_size_limit_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    body = as_body({"email": "reader0@example.com", "type": "hard", "reason": "x" * 2000})
    response = _post(client, body)
    assert response.status_code == 413 and "error" in response.get_json()
