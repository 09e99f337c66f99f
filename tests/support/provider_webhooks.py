"""Postmark, Mailgun, SendGrid and generic webhook requests, each signed its own way.

Each signer is written from the provider's documentation, apart from the code
under test, so a mistake in one does not hide the same mistake in the other.
"""

import base64
import hashlib
import hmac
import json
import secrets

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import (
    BounceReport,
    Event,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from newsletters.models.types import utcnow
from newsletters.services.mail import suppressions
from newsletters.services.readers.standing import subscriber_by_email

WEBHOOK = "/webhooks/bounces/{}"


# --- Postmark, Mailgun, SendGrid, generic ---------------------------------------------------


def basic_auth(user: str, password: str) -> dict:
    """The Authorization header Postmark sends for credentials written into the URL."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def postmark_bounce(
    email: str, bounce_type: str = "HardBounce", record_id: int = 4323372036854775807
):
    """A Postmark bounce webhook body (a spam complaint when ``bounce_type`` is SpamComplaint)."""
    complaint = bounce_type == "SpamComplaint"
    codes = {"HardBounce": 1, "Transient": 2, "SoftBounce": 4096, "SpamComplaint": 100001}
    return {
        "RecordType": "SpamComplaint" if complaint else "Bounce",
        "MessageStream": "outbound",
        "ID": record_id,
        "Type": bounce_type,
        "TypeCode": codes.get(bounce_type, 2048),
        "Name": "Hard bounce",
        "Tag": "the-weekly",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "newsletters@newsletters.test",
        "BouncedAt": "2026-11-23T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "The Weekly",
    }


def mailgun_sign(key: str, timestamp: int | None = None, token: str | None = None) -> dict:
    """Mailgun's ``signature`` object: HMAC-SHA256 (hex) of timestamp + token."""
    stamp = str(timestamp if timestamp is not None else int(utcnow().timestamp()))
    token = token or secrets.token_hex(25)
    digest = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": stamp, "token": token, "signature": digest}


def mailgun_event(email: str, event: str = "failed", severity: str = "permanent", **extra):
    """Mailgun's ``event-data`` for a failure or a complaint."""
    data = {
        "id": secrets.token_urlsafe(16),
        "timestamp": utcnow().timestamp(),
        "log-level": "error" if event == "failed" else "warn",
        "event": event,
        "recipient": email,
        "recipient-domain": email.partition("@")[2],
        "envelope": {
            "sender": "bounces@mg.newsletters.test",
            "transport": "smtp",
            "targets": email,
        },
        "message": {
            "headers": {
                "to": email,
                "message-id": "20261123093000.1.ABCDEF@mg.newsletters.test",
                "from": "newsletters@newsletters.test",
                "subject": "The Weekly",
            },
            "attachments": [],
            "size": 4111,
        },
        "tags": [],
        "user-variables": {},
        **extra,
    }
    if event == "failed":
        data["severity"] = severity
        data["reason"] = "bounce" if severity == "permanent" else "generic"
        data["delivery-status"] = {
            "code": 550 if severity == "permanent" else 452,
            "message": "5.1.1 The email account that you tried to reach does not exist",
            "description": "",
            "attempt-no": 1,
        }
    return data


def ec_key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key, and its public half as SendGrid shows it: base64 DER SubjectPublicKeyInfo."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(public).decode()


def sendgrid_headers(key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: int | None = None):
    """SendGrid's two headers: ECDSA-SHA256 (base64 DER) over timestamp + raw body."""
    stamp = str(timestamp if timestamp is not None else int(utcnow().timestamp()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def sendgrid_event(email: str, event: str, **fields) -> dict:
    """One event of SendGrid's Event Webhook."""
    return {
        "email": email,
        "timestamp": int(utcnow().timestamp()),
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": ["the-weekly"],
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


def generic_headers(secret: str, body: bytes) -> dict:
    """The generic webhook's header: hex HMAC-SHA256 of the body."""
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Signature": signature}


def as_body(payload) -> bytes:
    """JSON bytes, exactly as they will be signed and sent."""
    return json.dumps(payload).encode()


# --- what a test looks at -------------------------------------------------------------------


def reports() -> list[BounceReport]:
    """Every stored report (inside an app context)."""
    return db.session.scalars(select(BounceReport).order_by(BounceReport.id)).all()


def suppression(address: str) -> Suppression | None:
    """The address's suppression, if any (inside an app context)."""
    return db.session.scalar(
        select(Suppression).where(Suppression.email_hash == suppressions.address_hash(address))
    )


def history_count(address: str, kind) -> int:
    """How many history entries of ``kind`` the reader has (inside an app context)."""
    subscriber = subscriber_by_email(address)
    return db.session.scalar(
        select(func.count(Event.id)).where(Event.subscriber_id == subscriber.id, Event.kind == kind)
    )


def active_subscriptions(address: str) -> int:
    """How many newsletters the reader still gets (inside an app context)."""
    subscriber = subscriber_by_email(address)
    return db.session.scalar(
        select(func.count(Subscription.id)).where(
            Subscription.subscriber_id == subscriber.id,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
    )


def nothing_changed(app) -> bool:
    """No report, no suppression, no history entry: the request left no trace."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count(BounceReport.id))) == 0
            and db.session.scalar(select(func.count(Suppression.id))) == 0
            and db.session.scalar(
                select(func.count(Event.id)).where(Event.kind.in_(["bounced", "complained"]))
            )
            == 0
        )
