"""The events webhooks carry, each written in the transaction of the change it reports.

Each change that a publisher's other systems care about calls one function here
from the one place it happens; the event and one delivery row per enabled endpoint
that subscribed to its type are added to the caller's session, so a change that
rolls back takes its event with it, and a committed one is delivered at least
once. Bodies follow Standard Webhooks: ``{"type", "timestamp", "data"}``. They
carry what a CRM needs to keep its contacts right, never what a reader opened
or clicked.
"""

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import (
    Issue,
    Newsletter,
    Subscriber,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)

SUBSCRIPTION_CONFIRMED = "subscription.confirmed"
SUBSCRIPTION_UNSUBSCRIBED = "subscription.unsubscribed"
SUBSCRIBER_ERASED = "subscriber.erased"
DELIVERY_BOUNCED = "delivery.bounced"
DELIVERY_COMPLAINED = "delivery.complained"
ISSUE_SENT = "issue.sent"
EVENT_TYPES = (
    SUBSCRIPTION_CONFIRMED,
    SUBSCRIPTION_UNSUBSCRIBED,
    SUBSCRIBER_ERASED,
    DELIVERY_BOUNCED,
    DELIVERY_COMPLAINED,
    ISSUE_SENT,
)


def new_msg_id() -> str:
    """A message id, the ``webhook-id`` header: unique, and the same on every retry."""
    return "msg_" + secrets.token_urlsafe(18)


def _when(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def emit(
    event_type: str, data: dict, now: datetime | None = None, subscriber_key: str | None = None
) -> WebhookEvent | None:
    """Write one event, and its deliveries, in the caller's transaction.

    Nothing is written when no enabled endpoint wants the type: an event nobody
    will receive is not kept.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [
        e
        for e in db.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
        )
        if event_type in e.event_list
    ]
    if not endpoints:
        return None
    now = now or utcnow()
    payload = {"type": event_type, "timestamp": _when(now), "data": data}
    event = WebhookEvent(
        msg_id=new_msg_id(),
        type=event_type,
        payload=payload,
        created_at=now,
        subscriber_key=subscriber_key,
    )
    db.session.add(event)
    db.session.flush()
    until = now + timedelta(hours=current_app.config["WEBHOOK_RETRY_HOURS"])
    for endpoint in endpoints:
        db.session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, event_id=event.id, next_attempt_at=now, retry_until=until
            )
        )
    return event


def _reader(subscriber: Subscriber) -> dict:
    return {"id": str(subscriber.uuid), "email": subscriber.email, "locale": subscriber.locale}


def _slugs(newsletters: Iterable[Newsletter]) -> list[str]:
    return sorted(n.slug for n in newsletters)


def subscription_confirmed(subscriber: Subscriber, newsletters: list[Newsletter]) -> None:
    """The reader confirmed by email: these newsletters are now active for them."""
    emit(
        SUBSCRIPTION_CONFIRMED,
        {"subscriber": _reader(subscriber), "newsletters": _slugs(newsletters)},
        subscriber_key=str(subscriber.uuid),
    )


def subscription_unsubscribed(
    subscriber: Subscriber, newsletters: list[Newsletter], source: str
) -> None:
    """The reader left these newsletters (``source``: link, preferences, admin, report:...)."""
    data = {"subscriber": _reader(subscriber), "newsletters": _slugs(newsletters), "source": source}
    emit(SUBSCRIPTION_UNSUBSCRIBED, data, subscriber_key=str(subscriber.uuid))


def subscriber_erased(subscriber_id: str, email: str) -> None:
    """The reader was forgotten: a CRM should delete what it holds about the address too.

    Every event about them, this one included, is marked to be forgotten: it goes on to
    the endpoints still waiting for it, and is deleted by the first dispatch pass after
    (:func:`webhook_dispatch.prune`), instead of after WEBHOOK_RETENTION_DAYS."""
    emit(
        SUBSCRIBER_ERASED,
        {"subscriber": {"id": subscriber_id, "email": email}},
        subscriber_key=subscriber_id,
    )
    db.session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.subscriber_key == subscriber_id)
        .values(forget=True)
        .execution_options(synchronize_session=False)
    )


def delivery_reported(
    complaint: bool, email: str, details: dict, issue: Issue | None, subscriber_id: str | None
) -> None:
    """A bounce or complaint report was applied to an address."""
    data = {
        "email": email,
        "subscriber_id": subscriber_id,
        **details,
        "issue": str(issue.uuid) if issue else None,
        "newsletter": issue.newsletter.slug if issue else None,
    }
    emit(DELIVERY_COMPLAINED if complaint else DELIVERY_BOUNCED, data, subscriber_key=subscriber_id)


def issue_sent(issue: Issue, counts: dict[str, int]) -> None:
    """An issue finished sending: every delivery is done, one way or another."""
    data = {
        "issue": {
            "id": str(issue.uuid),
            "subject": issue.subject,
            "newsletter": issue.newsletter.slug,
            "frequency": issue.frequency,
            "period_start": _when(issue.period_start),
            "period_end": _when(issue.period_end),
        },
        "counts": counts,
    }
    emit(ISSUE_SENT, data)
