"""Postmark: bounce and spam complaint webhooks behind basic authentication."""

import pytest

from newsletters.models import BounceKind, EventKind, SuppressionReason
from tests.support.provider_webhooks import (
    WEBHOOK,
    active_subscriptions,
    as_body,
    basic_auth,
    history_count,
    nothing_changed,
    postmark_bounce,
    reports,
    suppression,
)

USER, PASSWORD = "postmark", "a-long-webhook-password"
URL = WEBHOOK.format("postmark")


@pytest.fixture
def settings(settings):
    settings.update(POSTMARK_WEBHOOK_USER=USER, POSTMARK_WEBHOOK_PASSWORD=PASSWORD)
    return settings


def _post(client, payload, auth=(USER, PASSWORD)):
    body = payload if isinstance(payload, bytes) else as_body(payload)
    headers = {"Content-Type": "application/json", **(basic_auth(*auth) if auth else {})}
    return client.post(URL, data=body, headers=headers)


def test_a_hard_bounce_suppresses_the_address(app, client, reader):
    response = _post(client, postmark_bounce(reader))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "applied": 1, "replayed": 0}
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.BOUNCED
        [report] = reports()
        assert (report.source, report.status, report.outcome) == (
            "postmark",
            "HardBounce",
            "suppressed",
        )
        assert history_count(reader, EventKind.BOUNCED) == 1


def test_a_spam_complaint_unsubscribes_the_reader(app, client, reader):
    response = _post(client, postmark_bounce(reader, "SpamComplaint"))
    assert response.status_code == 200
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.COMPLAINED
        assert active_subscriptions(reader) == 0


@pytest.mark.parametrize(
    ("bounce_type", "kind", "outcome"),
    [
        ("SoftBounce", BounceKind.SOFT, "counted"),
        ("Transient", BounceKind.SOFT, "counted"),
        ("AutoResponder", BounceKind.AUTOREPLY, "ignored"),
        ("DMARCPolicy", BounceKind.UNKNOWN, "kept"),
    ],
)
def test_other_bounce_types_are_counted_or_kept(app, client, reader, bounce_type, kind, outcome):
    assert _post(client, postmark_bounce(reader, bounce_type)).status_code == 200
    with app.app_context():
        assert [(r.kind, r.outcome) for r in reports()] == [(kind, outcome)]
        assert suppression(reader) is None


@pytest.mark.parametrize("record_type", ["Delivery", "Open", "Click", "SubscriptionChange"])
def test_deliveries_opens_and_clicks_are_answered_and_left_alone(app, client, record_type):
    payload = {"RecordType": record_type, "MessageID": "x", "Recipient": "reader0@example.com"}
    response = _post(client, payload)
    assert response.status_code == 200 and response.get_json()["applied"] == 0
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "auth", [(USER, "wrong-password"), ("someone", PASSWORD), (USER, PASSWORD + "x")]
)
def test_wrong_credentials_are_401_and_change_nothing(app, client, reader, auth):
    response = _post(client, postmark_bounce(reader), auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert nothing_changed(app)


@pytest.mark.parametrize("header", [None, "Bearer a-long-webhook-password", "Basic !!!"])
def test_missing_credentials_are_401(app, client, reader, header):
    headers = {"Content-Type": "application/json"} | ({"Authorization": header} if header else {})
    response = client.post(URL, data=as_body(postmark_bounce(reader)), headers=headers)
    assert response.status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: b"<xml/>",
        lambda r: [r],
        lambda r: {**r, "ID": None},
        lambda r: {**r, "ID": 1.5},
        lambda r: {**r, "Email": 42},
        lambda r: {**r, "Type": None},
        lambda r: {**r, "TypeCode": "one"},
        lambda r: {k: v for k, v in r.items() if k != "RecordType"},
    ],
    ids=["xml", "list", "no-id", "float-id", "email-number", "no-type", "code-text", "no-record"],
)
def test_a_malformed_body_is_400_and_changes_nothing(app, client, reader, change):
    response = _post(client, change(postmark_bounce(reader)))
    assert response.status_code == 400
    assert nothing_changed(app)


def test_the_same_bounce_twice_is_applied_once(app, client, reader):
    payload = postmark_bounce(reader)
    first, again = _post(client, payload), _post(client, payload)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == {"status": "ok", "applied": 0, "replayed": 1}
    with app.app_context():
        assert len(reports()) == 1
        assert history_count(reader, EventKind.BOUNCED) == 1


def test_the_webhook_is_off_until_both_credentials_are_set(app, client, reader):
    app.config["POSTMARK_WEBHOOK_PASSWORD"] = ""
    assert _post(client, postmark_bounce(reader), auth=(USER, "")).status_code == 404
    assert nothing_changed(app)
