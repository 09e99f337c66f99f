"""SendGrid: the signed Event Webhook (ECDSA P-256 over timestamp and body)."""

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from newsletters.models import BounceKind, EventKind, SuppressionReason, utcnow
from tests.support.provider_webhooks import (
    WEBHOOK,
    active_subscriptions,
    as_body,
    ec_key_pair,
    history_count,
    nothing_changed,
    reports,
    sendgrid_event,
    sendgrid_headers,
    suppression,
)
from tests.support.readers import add_newsletter, add_readers

URL = WEBHOOK.format("sendgrid")
KEY, PUBLIC_KEY = ec_key_pair()


@pytest.fixture
def settings(settings):
    settings["SENDGRID_WEBHOOK_PUBLIC_KEY"] = PUBLIC_KEY
    return settings


@pytest.fixture
def readers(app) -> list[str]:
    return add_readers(app, add_newsletter(app), 4)


def _post(client, events, key=KEY, timestamp=None, headers=None):
    body = events if isinstance(events, bytes) else as_body(events)
    return client.post(URL, data=body, headers=headers or sendgrid_headers(key, body, timestamp))


def test_a_batch_applies_bounces_blocks_and_spam_reports_and_skips_the_rest(app, client, readers):
    hard, blocked, spam, opened = readers
    events = [
        sendgrid_event(hard, "processed"),
        sendgrid_event(hard, "bounce", type="bounce", status="5.1.1", reason="550 no such user"),
        sendgrid_event(blocked, "bounce", type="blocked", status="4.0.0", reason="blocked"),
        sendgrid_event(spam, "spamreport"),
        sendgrid_event(opened, "delivered"),
        sendgrid_event(opened, "open"),
        sendgrid_event(opened, "click", url="https://news.example.com/"),
    ]
    response = _post(client, events)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "applied": 3, "replayed": 0}
    with app.app_context():
        assert suppression(hard).reason == SuppressionReason.BOUNCED
        assert suppression(blocked) is None
        assert suppression(spam).reason == SuppressionReason.COMPLAINED
        assert active_subscriptions(spam) == 0
        assert suppression(opened) is None and active_subscriptions(opened) == 1
        kinds = {r.email: (r.kind, r.outcome, r.status) for r in reports()}
        assert kinds == {
            hard: (BounceKind.HARD, "suppressed", "5.1.1"),
            blocked: (BounceKind.SOFT, "counted", "4.0.0"),
            spam: (BounceKind.COMPLAINT, "unsubscribed", "spamreport"),
        }


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("Bounced Address", BounceKind.HARD),
        ("Invalid", BounceKind.HARD),
        ("Spam Reporting Address", BounceKind.COMPLAINT),
        ("Unsubscribed Address", BounceKind.UNKNOWN),
    ],
)
def test_a_dropped_message_says_why(app, client, readers, reason, kind):
    assert _post(client, [sendgrid_event(readers[0], "dropped", reason=reason)]).status_code == 200
    with app.app_context():
        assert [r.kind for r in reports()] == [kind]


def test_a_public_key_pasted_as_pem_works_too(app, client, readers):
    der = base64.b64decode(PUBLIC_KEY)
    pem = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = pem.decode()
    assert _post(client, [sendgrid_event(readers[0], "bounce")]).status_code == 200


def test_a_body_changed_after_signing_is_401(app, client, readers):
    body = as_body([sendgrid_event(readers[0], "delivered")])
    headers = sendgrid_headers(KEY, body)
    forged = body.replace(b'"delivered"', b'"spamreport"')
    assert client.post(URL, data=forged, headers=headers).status_code == 401
    assert nothing_changed(app)


def test_a_body_signed_by_another_key_is_401(app, client, readers):
    other, _ = ec_key_pair()
    assert _post(client, [sendgrid_event(readers[0], "bounce")], key=other).status_code == 401
    assert nothing_changed(app)


def test_a_timestamp_changed_after_signing_is_401(app, client, readers):
    body = as_body([sendgrid_event(readers[0], "bounce")])
    headers = sendgrid_headers(KEY, body)
    headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(int(utcnow().timestamp()) + 1)
    assert client.post(URL, data=body, headers=headers).status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "drop",
    ["X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"],
)
def test_a_missing_signature_header_is_401(app, client, readers, drop):
    body = as_body([sendgrid_event(readers[0], "bounce")])
    headers = sendgrid_headers(KEY, body)
    del headers[drop]
    assert client.post(URL, data=body, headers=headers).status_code == 401
    assert nothing_changed(app)


def test_a_signature_more_than_three_days_old_is_401(app, client, readers):
    stamp = int((utcnow() - timedelta(days=3, minutes=1)).timestamp())
    assert _post(client, [sendgrid_event(readers[0], "bounce")], timestamp=stamp).status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "events",
    [
        b"not json",
        {"event": "bounce", "email": "reader0@example.com", "sg_event_id": "x"},
        ["bounce"],
        [{"email": "reader0@example.com", "sg_event_id": "x"}],
        [{"event": "bounce", "sg_event_id": "x"}],
        [{"event": "bounce", "email": "reader0@example.com"}],
        [{"event": "bounce", "email": "reader0@example.com", "sg_event_id": ["x"]}],
        [{"event": "bounce", "email": "reader0@example.com", "sg_event_id": "x", "type": 1}],
    ],
    ids=["text", "object", "string", "no-event", "no-email", "no-id", "id-list", "type-number"],
)
def test_a_malformed_body_is_400_and_changes_nothing(app, client, readers, events):
    assert _post(client, events).status_code == 400
    assert nothing_changed(app)


def test_a_malformed_event_anywhere_in_the_batch_applies_none_of_it(app, client, readers):
    events = [sendgrid_event(readers[0], "bounce"), {"event": "bounce", "email": 3}]
    assert _post(client, events).status_code == 400
    assert nothing_changed(app)


def test_the_same_batch_twice_is_applied_once(app, client, readers):
    events = [sendgrid_event(readers[0], "spamreport")]
    first, again = _post(client, events), _post(client, events)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == {"status": "ok", "applied": 0, "replayed": 1}
    with app.app_context():
        assert len(reports()) == 1
        assert history_count(readers[0], EventKind.COMPLAINED) == 1


def test_a_public_key_that_cannot_be_read_is_503(app, client, readers):
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = "not a key"
    response = _post(client, [sendgrid_event(readers[0], "bounce")])
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"
    assert nothing_changed(app)


def test_the_webhook_is_off_without_its_key(app, client, readers):
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = ""
    assert _post(client, [sendgrid_event(readers[0], "bounce")]).status_code == 404
