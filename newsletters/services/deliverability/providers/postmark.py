"""Postmark: the bounce and spam complaint webhooks, behind HTTP basic authentication.

Postmark signs nothing; it sends the user name and password written into the
webhook's URL (``https://user:password@host/webhooks/bounces/postmark``) as
``Authorization: Basic``. Those must be ``POSTMARK_WEBHOOK_USER`` and
``POSTMARK_WEBHOOK_PASSWORD``. A record is a bounce (``RecordType`` Bounce,
its ``Type`` saying which) or a spam complaint (``RecordType`` SpamComplaint);
deliveries, opens, clicks and subscription changes are answered and left alone.
"""

from flask import current_app

from newsletters.models import BounceKind
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.deliverability.providers.base import (
    BadSignature,
    Batch,
    MalformedPayload,
    WebhookRequest,
    as_object,
    compact,
    email,
    identifier,
    moment,
    parse_json,
    text,
)
from newsletters.services.deliverability.providers.signatures import basic_auth_matches
from newsletters.services.mail import verp

NAME = "postmark"
CHALLENGE = 'Basic realm="bounce webhooks"'
# Postmark's bounce types: the reader's address is gone, or failing for now, or it is mail
# about mail (auto-replies). Anything else (DMARC refusals, template errors, address changes,
# challenge-response mail...) is kept for a person to read.
KINDS = {
    "HardBounce": BounceKind.HARD,
    "BadEmailAddress": BounceKind.HARD,
    "SoftBounce": BounceKind.SOFT,
    "Transient": BounceKind.SOFT,
    "DnsError": BounceKind.SOFT,
    "SpamNotification": BounceKind.SOFT,
    "Blocked": BounceKind.SOFT,
    "AutoResponder": BounceKind.AUTOREPLY,
    "SpamComplaint": BounceKind.COMPLAINT,
}
RECORDS = ("Bounce", "SpamComplaint")


def enabled(config) -> bool:
    """On when both the user name and the password are set."""
    return bool(config["POSTMARK_WEBHOOK_USER"] and config["POSTMARK_WEBHOOK_PASSWORD"])


def read(request: WebhookRequest) -> Batch:
    """Check the credentials, then read the one record Postmark posts."""
    config = current_app.config
    user, password = config["POSTMARK_WEBHOOK_USER"], config["POSTMARK_WEBHOOK_PASSWORD"]
    if not basic_auth_matches(request.header("Authorization"), user, password):
        raise BadSignature("The webhook's user name and password are missing or wrong.", CHALLENGE)
    record = as_object(parse_json(request.body), "The body")
    record_type = text(record, "RecordType", max_length=64)
    if record_type not in RECORDS:
        return Batch()  # a delivery, an open, a click, a subscription change
    return Batch([_event(record, record_type)])


def _event(record: dict, record_type: str) -> BounceEvent:
    address = email(record, "Email")
    bounce_type = "SpamComplaint" if record_type == "SpamComplaint" else None
    bounce_type = bounce_type or text(record, "Type", max_length=64)
    type_code = record.get("TypeCode")
    if type_code is not None and (not isinstance(type_code, int) or isinstance(type_code, bool)):
        raise MalformedPayload("'TypeCode' must be a number.")
    content = text(record, "Content", required=False, max_length=1024 * 1024) or ""
    message_id = text(record, "MessageID", required=False, max_length=200)
    details = text(record, "Details", required=False) or text(record, "Description", required=False)
    return BounceEvent(
        source=NAME,
        event_key=f"{record_type}:{identifier(record, 'ID')}:{address.lower()}",
        kind=KINDS.get(bounce_type, BounceKind.UNKNOWN),
        email=address,
        # Postmark's MessageID is its own; ours, and the VERP token, are in the bounce's text.
        tokens=tuple(verp.find_tokens(content)),
        status=bounce_type,
        detail=details or (f"Postmark message {message_id}" if message_id else ""),
        raw=compact(record),
        occurred_at=moment(record.get("BouncedAt")),
        trusted_email=True,
    )
