"""Mailgun: the ``failed`` and ``complained`` webhooks, signed with the webhook signing key.

Mailgun's signature, ``{"timestamp", "token", "signature"}`` in the body, is the
hex HMAC-SHA256 of the timestamp and the token (no separator) under
``MAILGUN_WEBHOOK_SIGNING_KEY``. It does not cover ``event-data``, so:

- a timestamp more than ``MAX_SKEW`` (15 minutes) away from now is refused;
- a token is accepted with one body only, once: the same request again gets
  the first answer; the token with another body is refused. Tokens are
  remembered for a day, well past the 15 minutes they are accepted.

``failed`` with ``severity`` permanent is a hard bounce, temporary a soft one;
``complained`` is a complaint. Deliveries, opens, clicks and the rest are
answered and left alone.
"""

import re
from datetime import timedelta

from flask import current_app

from newsletters.models import BounceKind, utcnow
from newsletters.services.core import idempotency
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.deliverability.providers.base import (
    BadSignature,
    Batch,
    MalformedPayload,
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
from newsletters.services.deliverability.providers.signatures import hex_hmac_matches, is_fresh
from newsletters.services.mail import verp

NAME = "mailgun"
MAX_SKEW = timedelta(minutes=15)
TOKEN = re.compile(r"[A-Za-z0-9]{10,100}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SEVERITIES = {"permanent": BounceKind.HARD, "temporary": BounceKind.SOFT}


def enabled(config) -> bool:
    """On when the webhook signing key is set."""
    return bool(config["MAILGUN_WEBHOOK_SIGNING_KEY"])


def read(request: WebhookRequest) -> Batch:
    """Check the signature and its age, then read the event."""
    payload = as_object(parse_json(request.body), "The body")
    token = _verified_token(payload.get("signature"))
    data = as_object(payload.get("event-data"), "'event-data'")
    event = text(data, "event", max_length=64)
    if event == "failed":
        severity = text(data, "severity", max_length=64)
        events = [_event(data, SEVERITIES.get(severity, BounceKind.UNKNOWN), severity)]
    elif event == "complained":
        events = [_event(data, BounceKind.COMPLAINT, "complaint")]
    else:
        events = []  # delivered, opened, clicked, accepted, unsubscribed...
    return Batch(events, single_use=(token, idempotency.fingerprint(data)))


def _verified_token(signature) -> str:
    """The signature's token, once the HMAC and the timestamp pass."""
    if not isinstance(signature, dict):
        raise BadSignature("The body has no Mailgun signature.")
    timestamp, token = str(signature.get("timestamp", "")), signature.get("token")
    given = signature.get("signature")
    if not (TIMESTAMP.fullmatch(timestamp) and isinstance(token, str) and TOKEN.fullmatch(token)):
        raise BadSignature("The Mailgun signature has no timestamp or token.")
    key = current_app.config["MAILGUN_WEBHOOK_SIGNING_KEY"]
    if not isinstance(given, str) or not hex_hmac_matches(key, (timestamp + token).encode(), given):
        raise BadSignature()
    if not is_fresh(moment(int(timestamp)), utcnow(), MAX_SKEW, MAX_SKEW):
        raise BadSignature("The Mailgun signature is more than 15 minutes old.")
    return token


def _event(data: dict, kind: BounceKind, status: str) -> BounceEvent:
    address = email(data, "recipient")
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    message_id = headers.get("message-id") if isinstance(headers.get("message-id"), str) else ""
    envelope = data.get("envelope") if isinstance(data.get("envelope"), dict) else {}
    sender = envelope.get("sender") if isinstance(envelope.get("sender"), str) else ""
    delivery = data.get("delivery-status")
    if delivery is not None and not isinstance(delivery, dict):
        raise MalformedPayload("'delivery-status' must be a JSON object.")
    delivery = delivery or {}
    code = delivery.get("enhanced-code") or delivery.get("code")
    code = None if isinstance(code, bool) else code
    detail = (
        text(delivery, "description", required=False)
        or text(delivery, "message", required=False)
        or text(data, "reason", required=False)
        or ""
    )
    return BounceEvent(
        source=NAME,
        event_key=f"{identifier(data, 'id')}:{address.lower()}",
        kind=kind,
        email=address,
        tokens=tuple(verp.find_tokens(f"{sender} {message_id}")),
        message_ids=angle_bracketed(message_id),
        status=str(code) if isinstance(code, str | int) and str(code).strip() else status,
        detail=detail,
        raw=compact(data),
        occurred_at=moment(data.get("timestamp")),
        trusted_email=True,
    )
