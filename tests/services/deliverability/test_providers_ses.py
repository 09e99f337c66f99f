"""Amazon SES through SNS: signed notifications, a pinned certificate URL, subscriptions.

The signing certificate is served by a real HTTP server on this machine, whose
URL is put on SES_CERT_URL_PREFIXES; what the server was asked shows what the
service fetched.
"""

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from newsletters.models import BounceKind, EventKind, SuppressionReason, utcnow
from tests.support.provider_webhooks import (
    WEBHOOK,
    active_subscriptions,
    history_count,
    nothing_changed,
    reports,
    suppression,
)
from tests.support.readers import add_newsletter, add_readers
from tests.support.ses_feedback import (
    TOPIC,
    SnsSigner,
    ses_bounce,
    ses_complaint,
    sns_notification,
    sns_subscription,
    sns_time,
)
from tests.support.web import Server, answer, serving

URL = WEBHOOK.format("ses")


@pytest.fixture
def settings(settings):
    settings.update(SES_TOPIC_ARNS=[TOPIC], OUTBOUND_ALLOW_PRIVATE_NETWORKS=True)
    return settings


@dataclass
class Sns:
    """SNS's side: the signer, and the server holding its certificate and confirming topics."""

    signer: SnsSigner
    server: Server

    @property
    def cert_url(self) -> str:
        return self.server.url(self.signer.path)

    def fetched(self, path: str) -> int:
        return sum(1 for seen in self.server.seen if seen.path.split("?")[0] == path)


@pytest.fixture
def sns(app):
    signer = SnsSigner()
    routes = {
        signer.path: answer(200, signer.pem),
        "/": answer(200, b"<ConfirmSubscriptionResponse/>"),
    }
    with serving(routes) as server:
        app.config["SES_CERT_URL_PREFIXES"] = [server.url("/")]
        yield Sns(signer, server)


def _post(client, envelope):
    body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": "Notification",
    }
    return client.post(URL, data=body, headers=headers)


def _signed(sns, message, version="1", **fields):
    return sns.signer.sign(sns_notification(message, sns.cert_url, **fields), version)


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_permanent_bounce_suppresses_the_address(app, client, sns, reader, version):
    response = _post(client, _signed(sns, ses_bounce([reader]), version))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "applied": 1, "replayed": 0}
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.BOUNCED
        [report] = reports()
        assert (report.source, report.status, report.outcome) == ("ses", "5.1.1", "suppressed")
        assert "User unknown" in report.detail
        assert history_count(reader, EventKind.BOUNCED) == 1


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_complaint_unsubscribes_the_reader(app, client, sns, reader, version):
    assert _post(client, _signed(sns, ses_complaint([reader]), version)).status_code == 200
    with app.app_context():
        assert suppression(reader).reason == SuppressionReason.COMPLAINED
        assert active_subscriptions(reader) == 0


def test_a_not_spam_report_is_kept_and_unsubscribes_nobody(app, client, sns, reader):
    assert _post(client, _signed(sns, ses_complaint([reader], "not-spam"))).status_code == 200
    with app.app_context():
        assert [(r.kind, r.outcome) for r in reports()] == [(BounceKind.UNKNOWN, "kept")]
        assert suppression(reader) is None and active_subscriptions(reader) == 1


def test_event_publishing_with_a_subject_and_a_transient_bounce_is_counted(
    app, client, sns, reader
):
    message = ses_bounce([reader], "Transient", field="eventType")
    assert _post(client, _signed(sns, message, "2", Subject="SES event")).status_code == 200
    with app.app_context():
        assert [(r.kind, r.outcome) for r in reports()] == [(BounceKind.SOFT, "counted")]


def test_one_notification_for_two_recipients_applies_both(app, client, sns):
    first, second = add_readers(app, add_newsletter(app), 2)
    response = _post(client, _signed(sns, ses_bounce([first, second])))
    assert response.get_json()["applied"] == 2
    with app.app_context():
        assert suppression(first) and suppression(second)


@pytest.mark.parametrize("kind", ["Delivery", "Send", "Open", "Click", "DeliveryDelay"])
def test_deliveries_and_other_events_are_answered_and_left_alone(app, client, sns, kind):
    message = {"eventType": kind, "mail": {"messageId": "x"}, kind.lower(): {}}
    response = _post(client, _signed(sns, message))
    assert response.status_code == 200 and response.get_json()["applied"] == 0
    assert nothing_changed(app)


def test_the_certificate_is_fetched_once_for_many_messages(app, client, sns, reader):
    for _ in range(3):
        assert _post(client, _signed(sns, ses_bounce([reader], "Transient"))).status_code == 200
    assert sns.fetched(sns.signer.path) == 1


def test_a_message_changed_after_signing_is_401(app, client, sns, reader):
    envelope = _signed(sns, ses_complaint(["someone@example.com"]))
    envelope["Message"] = json.dumps(ses_complaint([reader]))
    assert _post(client, envelope).status_code == 401
    assert nothing_changed(app)


def test_a_message_signed_by_another_key_is_401(app, client, sns, reader):
    envelope = SnsSigner().sign(sns_notification(ses_bounce([reader]), sns.cert_url))
    assert _post(client, envelope).status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: {k: v for k, v in e.items() if k != "Signature"},
        lambda e: {**e, "Signature": "not base64!"},
        lambda e: {**e, "SignatureVersion": "3"},
        lambda e: {k: v for k, v in e.items() if k != "SigningCertURL"},
    ],
    ids=["no-signature", "garbled", "version-3", "no-cert-url"],
)
def test_a_missing_signature_is_401_without_fetching(app, client, sns, reader, change):
    assert _post(client, change(_signed(sns, ses_bounce([reader])))).status_code == 401
    assert sns.server.seen == []
    assert nothing_changed(app)


def test_a_certificate_url_off_the_prefixes_is_401_without_fetching(app, client, sns, reader):
    with serving({"/cert.pem": answer(200, sns.signer.pem)}) as elsewhere:
        envelope = sns.signer.sign(
            sns_notification(ses_bounce([reader]), elsewhere.url("/cert.pem"))
        )
        assert _post(client, envelope).status_code == 401
    assert elsewhere.seen == [] and sns.server.seen == []
    assert nothing_changed(app)


def test_a_topic_not_on_the_list_is_401_without_fetching(app, client, sns, reader):
    other = "arn:aws:sns:us-east-1:999999999999:someone-elses-topic"
    envelope = _signed(sns, ses_complaint([reader]), TopicArn=other)
    assert _post(client, envelope).status_code == 401
    assert sns.server.seen == []
    assert nothing_changed(app)


def test_a_message_more_than_an_hour_old_is_401(app, client, sns, reader):
    old = sns_time(utcnow() - timedelta(hours=1, minutes=1))
    assert _post(client, _signed(sns, ses_bounce([reader]), Timestamp=old)).status_code == 401
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "envelope",
    [
        b"not json at all",
        b'["Notification"]',
        {"Type": "Gossip", "Message": "{}"},
        {"Type": "Notification", "Message": {"an": "object"}, "MessageId": "m"},
    ],
    ids=["text", "list", "unknown-type", "message-object"],
)
def test_a_malformed_envelope_is_400_without_fetching(app, client, sns, envelope):
    assert _post(client, envelope).status_code == 400
    assert sns.server.seen == []
    assert nothing_changed(app)


@pytest.mark.parametrize(
    "message",
    [
        "this is not json",
        {"mail": {}},
        {"notificationType": "Bounce", "bounce": "Permanent"},
        {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}},
        {
            "notificationType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": 5}]},
        },
        {"notificationType": "Complaint", "complaint": {"complainedRecipients": "a@b"}},
    ],  # fmt: skip
    ids=["text", "no-type", "bounce-text", "no-recipients", "address-number", "recipients-text"],
)
def test_a_signed_message_that_is_not_ses_shaped_is_400(app, client, sns, message):
    assert _post(client, _signed(sns, message)).status_code == 400
    assert nothing_changed(app)


def test_the_same_notification_twice_is_applied_once(app, client, sns, reader):
    envelope = _signed(sns, ses_complaint([reader]), "2")
    first, again = _post(client, envelope), _post(client, envelope)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == {"status": "ok", "applied": 0, "replayed": 1}
    with app.app_context():
        assert len(reports()) == 1
        assert history_count(reader, EventKind.COMPLAINED) == 1


def test_the_same_bounce_published_twice_by_sns_is_one_event(app, client, sns, reader):
    """SNS may deliver one SES report in two messages; SES's feedbackId tells them apart."""
    message = ses_bounce([reader], "Transient")
    _post(client, _signed(sns, message))
    assert _post(client, _signed(sns, message)).get_json()["replayed"] == 1


def test_a_subscription_confirmation_is_confirmed_with_one_get(app, client, sns):
    subscribe = sns.server.url(f"/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37")
    envelope = sns.signer.sign(sns_subscription(subscribe, sns.cert_url), "2")
    response = _post(client, envelope)
    assert response.status_code == 200 and response.get_json()["applied"] == 0
    confirmations = [(s.method, s.path) for s in sns.server.seen if s.path.startswith("/?")]
    path = f"/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37"
    assert confirmations == [("GET", path)]
    assert nothing_changed(app)


def test_a_forged_subscription_confirmation_is_not_visited(app, client, sns):
    subscribe = sns.server.url("/?Action=ConfirmSubscription&Token=forged")
    envelope = SnsSigner().sign(sns_subscription(subscribe, sns.cert_url))
    assert _post(client, envelope).status_code == 401
    assert not any(s.path.startswith("/?Action") for s in sns.server.seen)


def test_a_confirmation_sns_refuses_is_503_so_sns_sends_it_again(app, client, sns):
    subscribe = sns.server.url("/refuse?Action=ConfirmSubscription")
    envelope = sns.signer.sign(sns_subscription(subscribe, sns.cert_url))
    assert _post(client, envelope).status_code == 503


def test_a_certificate_server_error_is_503_so_sns_retries(app, client, reader):
    signer = SnsSigner()
    with serving({signer.path: answer(503, b"busy")}) as server:
        app.config["SES_CERT_URL_PREFIXES"] = [server.url("/")]
        envelope = signer.sign(sns_notification(ses_bounce([reader]), server.url(signer.path)))
        response = _post(client, envelope)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"
    assert nothing_changed(app)


def test_ses_is_off_until_a_topic_is_allowed(app, client, sns, reader):
    app.config["SES_TOPIC_ARNS"] = []
    response = _post(client, _signed(sns, ses_bounce([reader])))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert sns.server.seen == []
