"""Confirming by email: who is waiting, when they may be mailed again, and the click.

A confirmation link activates every newsletter the reader asked for within
``CONFIRM_TOKEN_MAX_AGE``, and is the one thing that ends an erasure. Every email
that typing an address into a form can cause is rationed here, so that nobody can
use the forms to bomb an address.
"""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Integer, bindparam, func, or_, select, update

from newsletters.extensions import db
from newsletters.models import (
    EventKind,
    Newsletter,
    OutboxKind,
    OutboxMessage,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.core.tokens import Purpose
from newsletters.services.core.transactions import atomic
from newsletters.services.integrations import webhook_events
from newsletters.services.mail import suppressions
from newsletters.services.readers import notices
from newsletters.services.readers.history import Origin, record_event
from newsletters.services.readers.standing import (
    Outcome,
    activate,
    mark_confirmed,
    subscriber_from_token,
)

log = logging.getLogger(__name__)


def awaiting_confirmation(subscriber: Subscriber, now: datetime | None = None) -> list[Newsletter]:
    """Newsletters the reader asked for recently enough that a confirm link may activate them."""
    return [s.newsletter for s in _confirmable(subscriber, now or utcnow())]


def _confirmable(subscriber: Subscriber, now: datetime) -> list[Subscription]:
    """The rule: pending, asked for within one confirm link's lifetime, and still in service."""
    cutoff = now - timedelta(seconds=current_app.config["CONFIRM_TOKEN_MAX_AGE"])
    return sorted(
        (
            s
            for s in subscriber.subscriptions
            if s.status == SubscriptionStatus.PENDING
            and s.requested_at >= cutoff
            and s.newsletter.in_service
        ),
        key=lambda s: s.newsletter.name,
    )


# The mail anyone can make us send to an address by typing it into a form: rationed
# together, so no mix of signups and lost-link requests can bomb an address.
READER_MAIL_SLOTS = {
    OutboxKind.CONFIRMATION: Subscriber.__table__.c.confirmation_sent_at,
    OutboxKind.ALREADY_SUBSCRIBED: Subscriber.__table__.c.confirmation_sent_at,
    OutboxKind.PREFERENCES_LINK: Subscriber.__table__.c.link_sent_at,
}


def claim_reader_mail(subscriber: Subscriber, kind: OutboxKind, now: datetime) -> bool:
    """The rule against mail bombing: may this reader get an email of ``kind`` now?

    Every email a form or an import can trigger goes through here: at most one of
    each kind per ``CONFIRMATION_EMAIL_INTERVAL``, and ``CONFIRMATIONS_PER_DAY`` of
    them all together in any 24 hours, however many requests arrive for the address.
    The welcome is not rationed: only the reader's own click on a confirm link sends it.
    """
    config = current_app.config
    result = db.session.execute(
        SLOT_CLAIMS[kind],
        {
            "reader_id": subscriber.id,
            "now": now,
            "cutoff": now - timedelta(seconds=config["CONFIRMATION_EMAIL_INTERVAL"]),
            "day_ago": now - timedelta(days=1),
            "per_day": config["CONFIRMATIONS_PER_DAY"],
        },
    )
    return result.rowcount == 1


def _slot_claim(column):
    """The one statement that takes a reader's mail slot, race-free, while the day's
    count is under the cap. Built once, of tables, not models: it runs on every
    signup, and the session has nothing to keep in step with it."""
    reader, outbox = Subscriber.__table__, OutboxMessage.__table__
    reader_id = bindparam("reader_id", type_=reader.c.id.type)
    now = bindparam("now", type_=column.type)
    sent_today = (
        select(func.count())
        .select_from(outbox)
        .where(
            outbox.c.subscriber_id == reader_id,
            outbox.c.kind.in_(READER_MAIL_SLOTS),
            outbox.c.created_at > bindparam("day_ago", type_=column.type),
        )
        .scalar_subquery()
    )
    return (
        update(reader)
        .where(
            reader.c.id == reader_id,
            or_(column.is_(None), column <= bindparam("cutoff", type_=column.type)),
            sent_today < bindparam("per_day", type_=Integer()),
        )
        .values({column: now})
    )


SLOT_CLAIMS = {kind: _slot_claim(column) for kind, column in READER_MAIL_SLOTS.items()}


@atomic
def confirm_subscription(token: str, origin: Origin) -> Outcome:
    """Activate every newsletter the reader asked for and record their consent.

    Confirming twice is harmless: the second time nothing is pending and
    nothing is sent.
    """
    subscriber = subscriber_from_token(Purpose.CONFIRM, token)
    now = utcnow()
    confirmed = _confirmable(subscriber, now)
    for subscription in confirmed:
        activate(subscription, now)
    if confirmed:
        # Only here, where the reader proves they own the address, does an erasure end.
        suppressions.lift_erasure(subscriber.email)
        mark_confirmed(subscriber, now)
        activated = [s.newsletter for s in confirmed]
        record_event(
            subscriber,
            EventKind.CONFIRMED,
            activated,
            origin,
            consent_version=confirmed[-1].consent_version,
            source=confirmed[-1].source,
            detail={"requests": _request_details(confirmed)},
        )
        notices.queue_welcome(subscriber, activated)
        webhook_events.subscription_confirmed(subscriber, activated)
    return Outcome(subscriber=subscriber, added=[s.newsletter for s in confirmed])


def _request_details(subscriptions: list[Subscription]) -> dict:
    """Where and when each confirmed newsletter was asked for: the consent trail."""
    return {
        s.newsletter.slug: {
            "source": s.source,
            "requested_at": s.requested_at.isoformat(),
            "consent_version": s.consent_version,
        }
        for s in subscriptions
    }
