"""What every change of a reader's standing shares: the states, the lookups, the links.

Signing up, confirming, choosing and leaving all move a subscription between
the same states through these functions, so each state change is written once.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from newsletters.errors import InvalidToken, NotFound
from newsletters.extensions import db
from newsletters.models import (
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from newsletters.services.core import sql
from newsletters.services.core.tokens import Purpose, read_token

log = logging.getLogger(__name__)


LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)


@dataclass
class Outcome:
    """What a change did, for the page that reports it."""

    subscriber: Subscriber
    added: list[Newsletter] = field(default_factory=list)
    removed: list[Newsletter] = field(default_factory=list)
    newsletter: Newsletter | None = None
    rhythms: list[Newsletter] = field(default_factory=list)  # a new rhythm chosen


def activate(subscription: Subscription, now: datetime) -> None:
    """The reader gets this newsletter from now on."""
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None


def mark_confirmed(subscriber: Subscriber, now: datetime) -> None:
    """The reader has proved they own the address, by a confirm or preferences link."""
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmed_at = subscriber.confirmed_at or now


def deactivate(subscription: Subscription, now: datetime) -> None:
    """The reader stops getting this newsletter."""
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = now


def active_newsletters(subscriber: Subscriber) -> list[Newsletter]:
    """What the reader receives now, by name."""
    return sorted(
        (s.newsletter for s in subscriber.subscriptions if s.status == SubscriptionStatus.ACTIVE),
        key=lambda n: n.name,
    )


def subscriber_from_token(purpose: Purpose, token: str) -> Subscriber:
    """The subscriber a link was made for; :class:`InvalidToken` if none (any more)."""
    return subscriber_from_payload(read_token(purpose, token))


def subscriber_from_payload(payload) -> Subscriber:
    """The subscriber a verified token payload names; :class:`InvalidToken` if gone."""
    try:
        return sql.by_public_id(Subscriber, payload["s"], "gone")
    except (TypeError, KeyError, NotFound) as exc:
        raise InvalidToken() from exc


def saved_locale(purpose: str, token: str) -> str | None:
    """The saved language of the reader a link names; None for a link that names nobody.

    Asked while a page picks its language, so it never raises: a bad link, or a
    database that cannot answer, leaves the page to the reader's browser.
    """
    try:
        return subscriber_from_token(Purpose(purpose), token).locale
    except (InvalidToken, SQLAlchemyError) as exc:
        log.debug("no saved language for this %s link: %r", purpose, exc)
        return None


def subscriber_by_email(address: str) -> Subscriber | None:
    """The reader with this (normalised) address, if there is one."""
    return db.session.scalar(select(Subscriber).where(Subscriber.email == address))


def has_left(subscription: Subscription | None) -> bool:
    """The rule, in one place: a reader who left a newsletter is put back only by themselves.

    Imports and admins never re-add them; only the reader's own signup or
    preference change does.
    """
    return subscription is not None and subscription.status == SubscriptionStatus.UNSUBSCRIBED


# The same rule, for a query over many readers at once.
HAS_LEFT = Subscription.status == SubscriptionStatus.UNSUBSCRIBED
