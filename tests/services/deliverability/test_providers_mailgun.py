"""Mailgun: the failed and complained webhooks, signed with the webhook signing key."""

from datetime import timedelta

import pytest

from newsletters.models import BounceKind, EventKind, SuppressionReason, utcnow
from tests.support.provider_webhooks import (
    WEBHOOK,
    active_subscriptions,
    history_count,
    mailgun_event,
    mailgun_sign,
    nothing_changed,
    reports,
    suppression,
)
from tests.support.readers import add_newsletter, add_readers

KEY = "key-0123456789abcdef0123456789abcdef"
URL = WEBHOOK.format("mailgun")


@pytest.fixture
def settings(settings):
    settings["MAILGUN_WEBHOOK_SIGNING_KEY"] = KEY
    return settings


def _post(client, event_data, signature=None):
    payload = {"signature": signature or mailgun_sign(KEY), "event-data": event_data}
    return client.post(URL, json=payload)


def test_a_permanent_failure_suppresses_the_address(app, client, reader):
    response = _post(client, mailgun_event(reader))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "applied": 1, "replayed": 0}
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.BOUNCED
        [report] = reports()
        assert (report.source, report.status, report.outcome) == ("mailgun", "550", "suppressed")
        assert history_count(reader, EventKind.BOUNCED) == 1


def test_a_temporary_failure_is_counted(app, client, reader):
    assert _post(client, mailgun_event(reader, severity="temporary")).status_code == 200
    with app.app_context():
        assert [(r.kind, r.outcome) for r in reports()] == [(BounceKind.SOFT, "counted")]
        assert suppression(reader) is None


def test_a_complaint_unsubscribes_the_reader(app, client, reader):
    assert _post(client, mailgun_event(reader, event="complained")).status_code == 200
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.COMPLAINED
        assert active_subscriptions(reader) == 0


@pytest.mark.parametrize("event", ["delivered", "opened", "clicked", "accepted"])
def test_other_events_are_answered_and_left_alone(app, client, reader, event):
    response = _post(client, mailgun_event(reader, event=event))
    assert response.status_code == 200 and response.get_json()["applied"] == 0
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "signature",
    [
        lambda: {**mailgun_sign(KEY), "signature": "0" * 64},
        lambda: mailgun_sign("another-signing-key"),
        lambda: {**mailgun_sign(KEY), "token": "a" * 50},
        lambda: {**mailgun_sign(KEY), "signature": None},
    ],
    ids=["zeros", "other-key", "other-token", "null"],
)
def test_a_bad_signature_is_401_and_changes_nothing(app, client, reader, signature):
    response = _post(client, mailgun_event(reader), signature())
    assert response.status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize("signature", [None, "a string", {}, {"timestamp": "1", "token": "t"}])
def test_a_missing_signature_is_401(app, client, reader, signature):
    payload = {"event-data": mailgun_event(reader)}
    if signature is not None:
        payload["signature"] = signature
    assert client.post(URL, json=payload).status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize("minutes", [-16, 16])
def test_a_signature_more_than_15_minutes_off_is_401(app, client, reader, minutes):
    stamp = int((utcnow() + timedelta(minutes=minutes)).timestamp())
    response = _post(client, mailgun_event(reader), mailgun_sign(KEY, stamp))
    assert response.status_code == 401
    assert nothing_changed(app)


def test_a_signature_14_minutes_old_is_accepted(app, client, reader):
    stamp = int((utcnow() - timedelta(minutes=14)).timestamp())
    assert _post(client, mailgun_event(reader), mailgun_sign(KEY, stamp)).status_code == 200


@pytest.mark.parametrize(
    "event_data",
    [
        "not an object",
        {"event": "failed", "severity": "permanent", "id": "x"},
        {"event": 7, "recipient": "reader0@example.com", "id": "x"},
        {"event": "failed", "recipient": "reader0@example.com", "id": "x"},
        {"event": "complained", "recipient": "reader0@example.com"},
        {"event": "failed", "severity": "permanent", "recipient": ["a@b"], "id": "x"},
        {
            "event": "failed",
            "severity": "permanent",
            "recipient": "a@b",
            "id": "x",
            "delivery-status": "550",
        },
    ],  # fmt: skip
    ids=["text", "no-recipient", "event-number", "no-severity", "no-id", "list", "status-text"],
)
def test_a_malformed_event_is_400_and_changes_nothing(app, client, reader, event_data):
    assert _post(client, event_data).status_code == 400
    assert nothing_changed(app)


def test_a_body_that_is_not_json_is_400(app, client):
    response = client.post(URL, data=b"token=x&timestamp=1&signature=y")
    assert response.status_code == 400
    assert nothing_changed(app)


def test_the_same_request_twice_is_applied_once(app, client, reader):
    event, signature = mailgun_event(reader), mailgun_sign(KEY)
    first, again = _post(client, event, signature), _post(client, event, signature)
    assert (first.status_code, again.status_code) == (200, 200)
    with app.app_context():
        assert len(reports()) == 1
        assert history_count(reader, EventKind.BOUNCED) == 1


def test_a_retry_signed_afresh_is_recognised_by_the_event_id(app, client, reader):
    event = mailgun_event(reader, severity="temporary")
    assert _post(client, event).get_json()["applied"] == 1
    again = _post(client, event)  # a new timestamp and token, the same event
    assert again.status_code == 200
    assert again.get_json() == {"status": "ok", "applied": 0, "replayed": 1}
    with app.app_context():
        assert len(reports()) == 1


def test_a_captured_signature_cannot_carry_another_event(app, client, reader):
    """The signature covers the timestamp and token only: the token is good for its body once."""
    add_readers(app, add_newsletter(app, "daily", "The Daily"), 1, prefix="victim")
    signature = mailgun_sign(KEY)
    assert _post(client, mailgun_event(reader, event="delivered"), signature).status_code == 200
    forged = _post(client, mailgun_event("victim0@example.com", event="complained"), signature)
    assert forged.status_code == 401
    assert nothing_changed(app)


def test_the_webhook_is_off_without_its_key(app, client, reader):
    app.config["MAILGUN_WEBHOOK_SIGNING_KEY"] = ""
    assert _post(client, mailgun_event(reader)).status_code == 404
    assert nothing_changed(app)
