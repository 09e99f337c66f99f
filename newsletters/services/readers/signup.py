"""Joining: signing up, confirming by email, and the rules every change of standing shares.

The web, the CLI and the workers all go through these functions. Each public
change is a single transaction (see :func:`atomic`): bad input raises before
anything is written, and the mail a change causes is written with it. Choosing
and leaving live in :mod:`newsletters.services.readers.preferences`.
"""

import logging
from datetime import datetime

from flask import current_app

from newsletters.extensions import db
from newsletters.models import (
    EventKind,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.catalogue import newsletters_for_signup
from newsletters.services.core.addresses import check_not_disposable, normalize_email
from newsletters.services.core.transactions import atomic
from newsletters.services.mail import suppressions
from newsletters.services.readers import notices
from newsletters.services.readers.confirm import awaiting_confirmation, claim_confirmation_mail
from newsletters.services.readers.history import Origin, record_event
from newsletters.services.readers.standing import (
    activate,
    has_left,
    mark_confirmed,
    subscriber_by_email,
)

log = logging.getLogger(__name__)

# What every signup is told, whatever happened to the address: nothing to enumerate.
SIGNUP_ANSWER = "Thank you for submitting your email!"


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
    wanted = [n for n in chosen if not has_left(existing.get(n.id))]
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
    subscriber = subscriber_by_email(address)
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


# --- confirming -------------------------------------------------------------------


# --- links ------------------------------------------------------------------------------
