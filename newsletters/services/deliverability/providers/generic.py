"""The generic webhook: for a sending service we have no module for, or a publisher's own relay.

The body is one JSON object::

    {"email": "reader@example.com", "type": "hard" | "soft" | "complaint",
     "message_id": "<...>", "reason": "550 5.1.1 no such user", "id": "evt-123"}

``message_id``, ``reason`` and ``id`` may be left out; any other field is
refused, so a misspelt one is noticed at once. ``X-Signature`` is the hex
HMAC-SHA256 of the exact body under ``BOUNCE_WEBHOOK_SECRET``. ``id`` names
the event: the same id twice is one event. Without it the body is the event's
identity: the same fields twice are one event.
"""

import hashlib

from flask import current_app

from newsletters.models import BounceKind
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.deliverability.providers.base import (
    MAX_ID,
    BadSignature,
    Batch,
    MalformedPayload,
    WebhookRequest,
    as_object,
    compact,
    email,
    parse_json,
    text,
)
from newsletters.services.deliverability.providers.signatures import hex_hmac_matches
from newsletters.services.mail import verp

NAME = "generic"
SIGNATURE_HEADER = "X-Signature"
KINDS = {"hard": BounceKind.HARD, "soft": BounceKind.SOFT, "complaint": BounceKind.COMPLAINT}
FIELDS = {"email", "type", "message_id", "reason", "id"}


def enabled(config) -> bool:
    """On when the shared secret is set."""
    return bool(config["BOUNCE_WEBHOOK_SECRET"])


def read(request: WebhookRequest) -> Batch:
    """Check the body's HMAC, then read the one event it reports."""
    secret = current_app.config["BOUNCE_WEBHOOK_SECRET"]
    if not hex_hmac_matches(secret, request.body, request.header(SIGNATURE_HEADER)):
        raise BadSignature(f"{SIGNATURE_HEADER} is missing or is not the body's HMAC-SHA256.")
    report = as_object(parse_json(request.body), "The body")
    if unknown := sorted(set(report) - FIELDS):
        raise MalformedPayload(f"Unknown field {unknown[0]!r}: the fields are {sorted(FIELDS)}.")
    kind = report.get("type")
    if kind not in KINDS:
        raise MalformedPayload('\'type\' must be "hard", "soft" or "complaint".')
    address = email(report, "email")
    message_id = text(report, "message_id", required=False, max_length=998)
    reason = text(report, "reason", required=False) or ""
    event_id = text(report, "id", required=False, max_length=MAX_ID)
    digest = hashlib.sha256(compact(report).encode("utf-8")).hexdigest()
    key = f"id:{event_id}" if event_id else f"body:{digest}"
    return Batch(
        [
            BounceEvent(
                source=NAME,
                event_key=key,
                kind=KINDS[kind],
                email=address,
                tokens=tuple(verp.find_tokens(message_id or "")),
                message_ids=(message_id.strip(),) if message_id and message_id.strip() else (),
                status=kind,
                detail=reason,
                raw=compact(report),
                trusted_email=True,
            )
        ]
    )
