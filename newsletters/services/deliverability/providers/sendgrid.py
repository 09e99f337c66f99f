"""SendGrid: the signed Event Webhook.

SendGrid signs each POST with ECDSA (P-256, SHA-256) over the timestamp header
followed by the raw body; the signature (base64 DER) is in
``X-Twilio-Email-Event-Webhook-Signature``, the timestamp in
``X-Twilio-Email-Event-Webhook-Timestamp``. The verification key SendGrid
shows (base64 DER, or PEM) goes in ``SENDGRID_WEBHOOK_PUBLIC_KEY``.

SendGrid retries a failed POST for up to a day, so a timestamp up to
``MAX_AGE`` (three days) old is accepted: within that, a replay is one of the
events already stored, each by its ``sg_event_id``.

The body is a list of events: ``bounce`` (``type`` bounce is hard, blocked is
soft), ``dropped`` (SendGrid would not send: a bounced or invalid address is
hard, one that reported spam a complaint), ``spamreport``. The rest
(processed, delivered, deferred, open, click, unsubscribes) is left alone.
"""

import logging
from datetime import timedelta

from flask import current_app

from newsletters.models import BounceKind, utcnow
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.deliverability.providers.base import (
    BadSignature,
    Batch,
    MalformedPayload,
    VerificationUnavailable,
    WebhookRequest,
    angle_bracketed,
    as_object,
    compact,
    email,
    identifier,
    moment,
    parse_json,
    text,
)
from newsletters.services.deliverability.providers.signatures import (
    decode_base64,
    ec_p256_public_key,
    ecdsa_sha256_matches,
    is_fresh,
)
from newsletters.services.mail import verp

log = logging.getLogger(__name__)

NAME = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = timedelta(days=3)
MAX_AHEAD = timedelta(minutes=15)
BOUNCE_TYPES = {"bounce": BounceKind.HARD, "blocked": BounceKind.SOFT}
DROPPED_REASONS = {
    "bounced address": BounceKind.HARD,
    "invalid": BounceKind.HARD,
    "spam reporting address": BounceKind.COMPLAINT,
}
REPORTED = ("bounce", "dropped", "spamreport")


def enabled(config) -> bool:
    """On when the verification key is set."""
    return bool(config["SENDGRID_WEBHOOK_PUBLIC_KEY"])


def read(request: WebhookRequest) -> Batch:
    """Check the signature and its age, then read every bounce, drop and spam report."""
    _verify(request)
    events = parse_json(request.body)
    if not isinstance(events, list):
        raise MalformedPayload("The body must be a JSON list of events.")
    found = []
    for record in events:
        record = as_object(record, "Each event")
        name = text(record, "event", max_length=64)
        if name in REPORTED:
            found.append(_event(record, name))
    return Batch(found)


def _verify(request: WebhookRequest) -> None:
    signature = decode_base64(request.header(SIGNATURE_HEADER))
    timestamp = (request.header(TIMESTAMP_HEADER) or "").strip()
    if signature is None or not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSignature(f"The request has no {SIGNATURE_HEADER} and {TIMESTAMP_HEADER}.")
    try:
        key = ec_p256_public_key(current_app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"])
    except ValueError as exc:
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY cannot be read: %s", exc)
        raise VerificationUnavailable() from None
    if not ecdsa_sha256_matches(key, signature, timestamp.encode("ascii") + request.body):
        raise BadSignature()
    if not is_fresh(moment(int(timestamp)), utcnow(), MAX_AGE, MAX_AHEAD):
        raise BadSignature("The request's timestamp is more than three days old.")


def _kind(record: dict, name: str) -> BounceKind:
    if name == "spamreport":
        return BounceKind.COMPLAINT
    if name == "bounce":
        bounce_type = text(record, "type", required=False, max_length=64) or "bounce"
        return BOUNCE_TYPES.get(bounce_type, BounceKind.UNKNOWN)
    reason = text(record, "reason", required=False) or ""
    return DROPPED_REASONS.get(reason.strip().lower(), BounceKind.UNKNOWN)


def _event(record: dict, name: str) -> BounceEvent:
    address = email(record, "email")
    smtp_id = text(record, "smtp-id", required=False, max_length=998) or ""
    status = text(record, "status", required=False, max_length=64)
    return BounceEvent(
        source=NAME,
        event_key=f"{identifier(record, 'sg_event_id')}:{address.lower()}",
        kind=_kind(record, name),
        email=address,
        tokens=tuple(verp.find_tokens(smtp_id)),
        message_ids=angle_bracketed(smtp_id),
        status=status or name,
        detail=text(record, "reason", required=False) or name,
        raw=compact(record),
        occurred_at=moment(record.get("timestamp")),
        trusted_email=True,
    )
