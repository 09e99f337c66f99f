"""Amazon SES: bounce and complaint notifications, delivered by Amazon SNS.

SES publishes either notifications (``notificationType``) or, through a
configuration set's event destination, events (``eventType``); both carry the
same ``bounce``, ``complaint`` and ``mail`` objects, and both are read here.
``bounceType`` Permanent is a hard bounce, Transient a soft one, Undetermined
is kept for a person to read. A complaint whose feedback type is ``not-spam``
is kept too: the reader said the opposite of a complaint.

SES's own ``mail.messageId`` is not our Message-ID; the original headers
(``mail.headers``, when the identity is set to include them) hold ours, and
the return path (``mail.source``) holds the VERP token.
"""

import logging

from newsletters.models import BounceKind
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.deliverability.providers import sns
from newsletters.services.deliverability.providers.base import (
    Batch,
    MalformedPayload,
    WebhookRequest,
    angle_bracketed,
    as_object,
    email,
    moment,
    parse_json,
    text,
)
from newsletters.services.mail import verp

log = logging.getLogger(__name__)

NAME = "ses"
BOUNCE_KINDS = {"Permanent": BounceKind.HARD, "Transient": BounceKind.SOFT}
NOT_A_COMPLAINT = "not-spam"


def enabled(config) -> bool:
    """SES is on once a topic is allowed: without that, any AWS account could post here."""
    return bool(config["SES_TOPIC_ARNS"])


def read(request: WebhookRequest) -> Batch:
    """Check the SNS signature, confirm a subscription, or read a notification's events."""
    message = sns.verified_message(request)
    if message.type == "SubscriptionConfirmation":
        sns.confirm_subscription(message)
        return Batch()
    if message.type == "UnsubscribeConfirmation":
        log.info("SNS ended the subscription to %s", message.topic_arn)
        return Batch()
    return Batch(events_of(message.message, message.message_id))


def events_of(message: str, sns_message_id: str) -> list[BounceEvent]:
    """One event per bounced or complaining recipient; none for deliveries, opens and the rest."""
    notification = as_object(parse_json(message.encode("utf-8")), "The SES notification")
    kind = notification.get("notificationType", notification.get("eventType"))
    if not isinstance(kind, str):
        raise MalformedPayload("The SES notification has no 'notificationType' or 'eventType'.")
    if kind == "Bounce":
        return _bounces(notification, message, sns_message_id)
    if kind == "Complaint":
        return _complaints(notification, message, sns_message_id)
    return []


def _recipients(report: dict, key: str) -> list[dict]:
    recipients = report.get(key)
    if not isinstance(recipients, list) or not recipients:
        raise MalformedPayload(f"'{key}' must be a list of recipients.")
    return [as_object(recipient, f"Each of '{key}'") for recipient in recipients]


def _bounces(notification: dict, raw: str, sns_message_id: str) -> list[BounceEvent]:
    bounce = as_object(notification.get("bounce"), "'bounce'")
    bounce_type = text(bounce, "bounceType", max_length=64)
    subtype = text(bounce, "bounceSubType", required=False, max_length=64) or ""
    feedback_id = text(bounce, "feedbackId", required=False, max_length=200) or sns_message_id
    tokens, message_ids = _original(notification)
    events = []
    for recipient in _recipients(bounce, "bouncedRecipients"):
        address = email(recipient, "emailAddress")
        diagnostic = text(recipient, "diagnosticCode", required=False) or ""
        events.append(
            BounceEvent(
                source=NAME,
                event_key=f"{feedback_id}:{address.lower()}",
                kind=BOUNCE_KINDS.get(bounce_type, BounceKind.UNKNOWN),
                email=address,
                tokens=tokens,
                message_ids=message_ids,
                status=text(recipient, "status", required=False, max_length=64) or bounce_type,
                detail=diagnostic or f"{bounce_type} {subtype}".strip(),
                raw=raw,
                occurred_at=moment(bounce.get("timestamp")),
                trusted_email=True,
            )
        )
    return events


def _complaints(notification: dict, raw: str, sns_message_id: str) -> list[BounceEvent]:
    complaint = as_object(notification.get("complaint"), "'complaint'")
    feedback = text(complaint, "complaintFeedbackType", required=False, max_length=64) or ""
    feedback_id = text(complaint, "feedbackId", required=False, max_length=200) or sns_message_id
    kind = BounceKind.UNKNOWN if feedback.lower() == NOT_A_COMPLAINT else BounceKind.COMPLAINT
    tokens, message_ids = _original(notification)
    return [
        BounceEvent(
            source=NAME,
            event_key=f"{feedback_id}:{address.lower()}",
            kind=kind,
            email=address,
            tokens=tokens,
            message_ids=message_ids,
            status=feedback or "complaint",
            detail=f"complaint ({feedback})" if feedback else "complaint",
            raw=raw,
            occurred_at=moment(complaint.get("timestamp")),
            trusted_email=True,
        )
        for address in (
            email(recipient, "emailAddress")
            for recipient in _recipients(complaint, "complainedRecipients")
        )
    ]


def _original(notification: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """VERP tokens and Message-IDs of the original message, from what SES kept of it."""
    mail = notification.get("mail")
    mail = mail if isinstance(mail, dict) else {}
    places: list[str] = []
    message_ids: list[str] = []
    if isinstance(mail.get("source"), str):
        places.append(mail["source"])
    for header in mail.get("headers") if isinstance(mail.get("headers"), list) else []:
        if not isinstance(header, dict) or not isinstance(header.get("value"), str):
            continue
        name = str(header.get("name", "")).lower()
        if name in ("return-path", "message-id"):
            places.append(header["value"])
        if name == "message-id":
            message_ids.extend(angle_bracketed(header["value"]))
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and isinstance(common.get("messageId"), str):
        places.append(common["messageId"])
        message_ids.extend(angle_bracketed(common["messageId"]))
    tokens = verp.find_tokens(" ".join(places))
    return tuple(tokens), tuple(dict.fromkeys(message_ids))
