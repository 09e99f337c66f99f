"""A provider's report finds the reader's copy by its signed token, whatever address it names.

A reader who forwards their mail bounces under the address the message was
forwarded to; the return path and the Message-ID of the copy still carry its
token, and each provider passes one of them back.
"""

import json

import pytest

from newsletters.models import DeliveryStatus, SuppressionReason
from tests.support.bounces import BOUNCE_DOMAIN, delivery_of, sent_issue
from tests.support.provider_webhooks import (
    WEBHOOK,
    as_body,
    basic_auth,
    ec_key_pair,
    generic_headers,
    mailgun_event,
    mailgun_sign,
    postmark_bounce,
    reports,
    sendgrid_event,
    sendgrid_headers,
    suppression,
)
from tests.support.ses_feedback import (
    TOPIC,
    SnsSigner,
    ses_bounce,
    sns_notification,
)
from tests.support.web import answer, serving

FORWARDED = "forwarded-to@elsewhere.example"
SENDGRID_KEY, SENDGRID_PUBLIC = ec_key_pair()


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(
        smtp_server.settings(),
        BOUNCE_DOMAIN=BOUNCE_DOMAIN,
        SES_TOPIC_ARNS=[TOPIC],
        OUTBOUND_ALLOW_PRIVATE_NETWORKS=True,
        POSTMARK_WEBHOOK_USER="postmark",
        POSTMARK_WEBHOOK_PASSWORD="secret",
        MAILGUN_WEBHOOK_SIGNING_KEY="mailgun-key",
        SENDGRID_WEBHOOK_PUBLIC_KEY=SENDGRID_PUBLIC,
        BOUNCE_WEBHOOK_SECRET="generic-secret",
    )
    return settings


@pytest.fixture
def copy(app, runner, smtp_server, weekly) -> tuple[str, str, str]:
    """One reader who got this week's issue: address, token, and the copy's Message-ID."""
    address, token = next(iter(sent_issue(app, runner, smtp_server, weekly, count=2).items()))
    [message_id] = [
        m["Message-ID"] for m in smtp_server.messages if m["To"] == address
    ]  # the header as it left
    assert token in message_id
    return address, token, message_id


def _ses(app, client, message):
    signer = SnsSigner()
    with serving({signer.path: answer(200, signer.pem)}) as server:
        app.config["SES_CERT_URL_PREFIXES"] = [server.url("/")]
        envelope = signer.sign(sns_notification(message, server.url(signer.path)), "2")
        return client.post(WEBHOOK.format("ses"), data=json.dumps(envelope))


def _ses_by_return_path(app, client, token, message_id):
    source = f"bounces+{token}@{BOUNCE_DOMAIN}"
    return _ses(app, client, ses_bounce([FORWARDED], source=source))


def _ses_by_headers(app, client, token, message_id):
    headers = [
        {"name": "From", "value": "The Daily Ledger <newsletters@newsletters.test>"},
        {"name": "Message-ID", "value": message_id},
    ]
    return _ses(app, client, ses_bounce([FORWARDED], headers=headers))


def _postmark(app, client, token, message_id):
    record = postmark_bounce(FORWARDED)
    record["Content"] = f"Return-Path: <bounces+{token}@{BOUNCE_DOMAIN}>\r\nSubject: x\r\n"
    headers = basic_auth("postmark", "secret")
    return client.post(WEBHOOK.format("postmark"), json=record, headers=headers)


def _mailgun(app, client, token, message_id):
    event = mailgun_event(FORWARDED)
    event["message"]["headers"]["message-id"] = message_id.strip("<>")
    payload = {"signature": mailgun_sign("mailgun-key"), "event-data": event}
    return client.post(WEBHOOK.format("mailgun"), json=payload)


def _sendgrid(app, client, token, message_id):
    body = as_body([sendgrid_event(FORWARDED, "bounce", **{"smtp-id": message_id})])
    headers = sendgrid_headers(SENDGRID_KEY, body)
    return client.post(WEBHOOK.format("sendgrid"), data=body, headers=headers)


def _generic(app, client, token, message_id):
    body = as_body({"email": FORWARDED, "type": "hard", "message_id": message_id})
    return client.post(
        WEBHOOK.format("generic"), data=body, headers=generic_headers("generic-secret", body)
    )


@pytest.mark.parametrize(
    "report",
    [_ses_by_return_path, _ses_by_headers, _postmark, _mailgun, _sendgrid, _generic],
    ids=["ses-return-path", "ses-headers", "postmark", "mailgun", "sendgrid", "generic"],
)
def test_a_report_under_another_address_finds_the_copy_by_its_token(app, client, copy, report):
    address, token, message_id = copy
    response = report(app, client, token, message_id)
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        assert suppression(address).reason == SuppressionReason.BOUNCED
        assert suppression(FORWARDED) is None
        assert delivery_of(address).status == DeliveryStatus.BOUNCED
        [stored] = reports()
        assert stored.email == address and stored.issue_id is not None
