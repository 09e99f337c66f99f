"""Joining: signing up, confirming by email, and the rules every change of standing shares.

The web, the CLI and the workers all go through these functions. Each public
change is a single transaction (see :func:`atomic`): bad input raises before
anything is written, and the mail a change causes is written with it. Choosing
and leaving live in :mod:`newsletters.services.readers.preferences`.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from newsletters.errors import InvalidToken
from newsletters.extensions import db
from newsletters.models import (
    EventKind,
    Newsletter,
    OutboxMessage,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.catalogue import newsletters_for_signup
from newsletters.services.core.addresses import check_not_disposable, normalize_email
from newsletters.services.core.tokens import Purpose, read_token
from newsletters.services.core.transactions import atomic
from newsletters.services.mail import suppressions
from newsletters.services.readers import notices
from newsletters.services.readers.history import Origin, record_event

log = logging.getLogger(__name__)

LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)
# What every signup is told, whatever happened to the address: nothing to enumerate.
SIGNUP_ANSWER = "Thank you for submitting your email!"


@dataclass
class Outcome:
    """What a change did, for the page that reports it."""

    subscriber: Subscriber
    added: list[Newsletter] = field(default_factory=list)
    removed: list[Newsletter] = field(default_factory=list)
    newsletter: Newsletter | None = None


# --- signing up -----------------------------------------------------------------


@atomic
def subscribe(email: str, slugs: list[str], origin: Origin, *, automated: bool = False) -> None:
    """Record a signup request and mail a confirmation link.

    The caller learns nothing about the address: new, pending and subscribed
    readers all get the same (absent) answer. Newsletters the reader already
    gets stay as they are; everything else waits for confirmation by email.
    At most one such email goes to an address per ``CONFIRMATION_EMAIL_INTERVAL``.
    A request that looks ``automated`` (honeypot, too fast) is checked like any
    other, so a person still sees their typo, but then stores and sends nothing.
    """
    address = normalize_email(email)
    check_not_disposable(address)
    chosen = newsletters_for_signup(slugs)
    if automated:
        log.info("ignored an automated-looking signup from %s", origin.ip)
        return
    # An erased reader who signs up again is asking for mail themselves: the erasure's
    # suppression only stops the address coming back by import.
    suppressions.lift_erasure(address)
    now = utcnow()
    # A new reader's first confirmation is claimed as the row is made: nothing to count.
    subscriber, new = _subscriber_for(address, confirmation_sent_at=now)
    consent_version = current_app.config["CONSENT_TEXT_VERSION"]
    _request(subscriber, chosen, origin, now, consent_version)
    record_event(subscriber, EventKind.SIGNUP_REQUESTED, chosen, origin, consent_version)
    awaiting = awaiting_confirmation(subscriber, now)
    if not (new or claim_confirmation_mail(subscriber, now)):
        return
    if awaiting:
        notices.queue_confirmation(subscriber, awaiting)
    else:
        notices.queue_already_subscribed(subscriber, chosen)


ATTESTED_CONSENT = "attested"


@atomic
def import_subscription(
    address: str, chosen: list[Newsletter], origin: Origin, consent_note: str | None = None
) -> bool:
    """One row of an import (joining the importer's transaction); True if anything changed.

    Without a consent note the newsletters wait for the reader to confirm by
    email, as after a signup. With one, the admin attests that the reader gave
    consent elsewhere: the newsletters are active at once and the note is the
    consent record. Newsletters the reader left are never touched by an import.
    """
    subscriber, _ = _subscriber_for(address)
    now = utcnow()
    existing = {s.newsletter_id: s for s in subscriber.subscriptions}
    wanted = [
        n
        for n in chosen
        if getattr(existing.get(n.id), "status", None) != SubscriptionStatus.UNSUBSCRIBED
    ]
    if consent_note:
        added = [n for n in wanted if _activate_attested(subscriber, existing.get(n.id), n, now)]
        if added:
            mark_confirmed(subscriber, now)
            record_event(
                subscriber,
                EventKind.IMPORTED,
                added,
                origin,
                ATTESTED_CONSENT,
                detail={"attested": True, "consent_note": consent_note},
            )
        return bool(added)
    version = current_app.config["CONSENT_TEXT_VERSION"]
    _request(subscriber, wanted, origin, now, version)
    record_event(
        subscriber, EventKind.IMPORTED, wanted, origin, version, detail={"attested": False}
    )
    awaiting = awaiting_confirmation(subscriber, now)
    if awaiting and claim_confirmation_mail(subscriber, now):
        notices.queue_confirmation(subscriber, awaiting)
    return bool(wanted)


def _activate_attested(subscriber, subscription, newsletter, now) -> bool:
    if subscription is None:
        subscription = Subscription(newsletter=newsletter, source="import")
        subscriber.subscriptions.append(subscription)
    elif subscription.status == SubscriptionStatus.ACTIVE:
        return False
    activate(subscription, now)
    subscription.source = "import"
    subscription.requested_at = now
    subscription.consent_version = ATTESTED_CONSENT
    return True


def _subscriber_for(address: str, **new_fields) -> tuple[Subscriber, bool]:
    """The reader with this address, or a new one with ``new_fields``; and whether it is new."""
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is not None:
        return subscriber, False
    # A concurrent signup for the same address makes this insert fail on the
    # unique email; the transaction is retried and then finds that row.
    subscriber = Subscriber(
        email=address,
        status=SubscriberStatus.PENDING,
        subscriptions=[],  # known to be empty: no query to find out
        **new_fields,
    )
    db.session.add(subscriber)
    db.session.flush()
    return subscriber, True


def _request(
    subscriber: Subscriber,
    chosen: list[Newsletter],
    origin: Origin,
    now: datetime,
    consent_version: str,
) -> None:
    """Mark each chosen newsletter as asked for, unless the reader already gets it."""
    existing = {s.newsletter_id: s for s in subscriber.subscriptions}
    for newsletter in chosen:
        subscription = existing.get(newsletter.id)
        if subscription is None:
            subscription = Subscription(newsletter=newsletter)
            subscriber.subscriptions.append(subscription)
        elif subscription.status == SubscriptionStatus.ACTIVE:
            continue
        subscription.status = SubscriptionStatus.PENDING
        subscription.requested_at = now
        subscription.source = origin.source
        subscription.consent_version = consent_version
    db.session.flush()


def awaiting_confirmation(subscriber: Subscriber, now: datetime | None = None) -> list[Newsletter]:
    """Newsletters the reader asked for recently enough that a confirm link may activate them."""
    cutoff = (now or utcnow()) - timedelta(seconds=current_app.config["CONFIRM_TOKEN_MAX_AGE"])
    return [s.newsletter for s in _pending_since(subscriber, cutoff)]


def _pending_since(subscriber: Subscriber, cutoff: datetime) -> list[Subscription]:
    return sorted(
        (
            s
            for s in subscriber.subscriptions
            if s.status == SubscriptionStatus.PENDING
            and s.requested_at >= cutoff
            and not s.newsletter.is_archived
        ),
        key=lambda s: s.newsletter.name,
    )


CONFIRMATION_KINDS = ("confirmation", "already_subscribed")


def claim_confirmation_mail(subscriber: Subscriber, now: datetime) -> bool:
    """The rule against mail bombing: may this reader get a confirmation email now?

    At most one per ``CONFIRMATION_EMAIL_INTERVAL`` and ``CONFIRMATIONS_PER_DAY``
    in any 24 hours, however many signups arrive for the address.
    """
    sent_today = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.subscriber_id == subscriber.id,
            OutboxMessage.kind.in_(CONFIRMATION_KINDS),
            OutboxMessage.created_at > now - timedelta(days=1),
        )
    )
    if sent_today >= current_app.config["CONFIRMATIONS_PER_DAY"]:
        return False
    return claim_mail_slot(subscriber, Subscriber.confirmation_sent_at, now)


def claim_mail_slot(subscriber: Subscriber, column, now: datetime) -> bool:
    """Take the right to mail this reader now, at most once per interval, race-free."""
    cutoff = now - timedelta(seconds=current_app.config["CONFIRMATION_EMAIL_INTERVAL"])
    result = db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber.id, or_(column.is_(None), column <= cutoff))
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# --- confirming -------------------------------------------------------------------


@atomic
def confirm_subscription(token: str, origin: Origin) -> Outcome:
    """Activate every newsletter the reader asked for and record their consent.

    Confirming twice is harmless: the second time nothing is pending and
    nothing is sent.
    """
    subscriber = subscriber_from_token(Purpose.CONFIRM, token)
    now = utcnow()
    cutoff = now - timedelta(seconds=current_app.config["CONFIRM_TOKEN_MAX_AGE"])
    confirmed = _pending_since(subscriber, cutoff)
    for subscription in confirmed:
        activate(subscription, now)
    if confirmed:
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


# --- links ------------------------------------------------------------------------------


def subscriber_from_token(purpose: Purpose, token: str) -> Subscriber:
    """The subscriber a link was made for; :class:`InvalidToken` if none (any more)."""
    return subscriber_from_payload(read_token(purpose, token))


def subscriber_from_payload(payload) -> Subscriber:
    """The subscriber a verified token payload names; :class:`InvalidToken` if gone."""
    try:
        subscriber_uuid = uuid.UUID(payload["s"])
    except (TypeError, KeyError, ValueError) as exc:
        raise InvalidToken() from exc
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.uuid == subscriber_uuid))
    if subscriber is None:
        raise InvalidToken()
    return subscriber
