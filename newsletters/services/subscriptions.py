"""Every rule about a reader's lists: subscribe, confirm, choose, leave, get a new link.

The web, the CLI and the workers all go through these functions. Each one is a
single transaction (see :func:`atomic`): bad input raises before anything is
written, and the mail a change causes is written with it.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from newsletters.errors import InvalidToken, UnknownNewsletter
from newsletters.extensions import db
from newsletters.models import (
    Event,
    EventKind,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services import notices
from newsletters.services.addresses import normalize_email
from newsletters.services.newsletters import newsletters_for_signup, public_newsletters
from newsletters.services.tokens import Purpose, read_token
from newsletters.services.transactions import atomic

log = logging.getLogger(__name__)

LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)


@dataclass(frozen=True)
class Origin:
    """Who asked and from where: what a consent record needs to say."""

    source: str = "form"
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Choice:
    """One newsletter on the preference page and the reader's standing with it."""

    newsletter: Newsletter
    subscription: Subscription | None

    @property
    def status(self) -> SubscriptionStatus | None:
        """The reader's status for this newsletter, or None if they never asked for it."""
        return self.subscription.status if self.subscription else None


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
    chosen = newsletters_for_signup(slugs)
    if automated:
        log.info("ignored an automated-looking signup from %s", origin.ip)
        return
    subscriber = _subscriber_for(address)
    now = utcnow()
    consent_version = current_app.config["CONSENT_TEXT_VERSION"]
    _request(subscriber, chosen, origin, now, consent_version)
    _record(subscriber, EventKind.SIGNUP_REQUESTED, chosen, origin, consent_version)
    awaiting = awaiting_confirmation(subscriber, now)
    if not _claim_mail_slot(subscriber, Subscriber.confirmation_sent_at, now):
        return
    if awaiting:
        notices.queue_confirmation(subscriber, awaiting)
    else:
        notices.queue_already_subscribed(subscriber, chosen)


def _subscriber_for(address: str) -> Subscriber:
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        # A concurrent signup for the same address makes this insert fail on the
        # unique email; the transaction is retried and then finds that row.
        subscriber = Subscriber(email=address, status=SubscriberStatus.PENDING)
        db.session.add(subscriber)
        db.session.flush()
    return subscriber


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


def _claim_mail_slot(subscriber: Subscriber, column, now: datetime) -> bool:
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
        _activate(subscription, now)
    if confirmed:
        subscriber.status = SubscriberStatus.CONFIRMED
        subscriber.confirmed_at = subscriber.confirmed_at or now
        activated = [s.newsletter for s in confirmed]
        _record(
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


def _activate(subscription: Subscription, now: datetime) -> None:
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None


# --- choosing -----------------------------------------------------------------------


def subscriber_from_token(purpose: Purpose, token: str) -> Subscriber:
    """The subscriber a link was made for; :class:`InvalidToken` if none (any more)."""
    return _subscriber_from_payload(read_token(purpose, token))


def _subscriber_from_payload(payload) -> Subscriber:
    try:
        subscriber_uuid = uuid.UUID(payload["s"])
    except (TypeError, KeyError, ValueError) as exc:
        raise InvalidToken() from exc
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.uuid == subscriber_uuid))
    if subscriber is None:
        raise InvalidToken()
    return subscriber


def preference_choices(subscriber: Subscriber) -> list[Choice]:
    """Every public newsletter, plus any other the reader still gets, with their standing."""
    by_newsletter = {s.newsletter_id: s for s in subscriber.subscriptions}
    shown = {n.id: n for n in public_newsletters()}
    for subscription in subscriber.subscriptions:
        if subscription.status in LIVE:
            shown.setdefault(subscription.newsletter_id, subscription.newsletter)
    ordered = sorted(shown.values(), key=lambda n: n.name)
    return [Choice(n, by_newsletter.get(n.id)) for n in ordered]


@atomic
def update_preferences(token: str, slugs: list[str], origin: Origin) -> Outcome:
    """Make the reader's newsletters exactly the ticked ones, at once.

    The link itself proves the reader owns the address, so no confirmation
    email is needed.
    """
    subscriber = subscriber_from_token(Purpose.PREFERENCES, token)
    choices = {c.newsletter.slug: c for c in preference_choices(subscriber)}
    wanted = {slug.strip() for slug in slugs if slug and slug.strip()}
    if wanted - choices.keys():
        raise UnknownNewsletter()
    now = utcnow()
    outcome = Outcome(subscriber=subscriber)
    for slug, choice in choices.items():
        if slug in wanted and choice.status != SubscriptionStatus.ACTIVE:
            _activate(_subscription(subscriber, choice), now)
            outcome.added.append(choice.newsletter)
        elif slug not in wanted and choice.status in LIVE:
            _deactivate(choice.subscription, now)
            outcome.removed.append(choice.newsletter)
    if outcome.added or outcome.removed:
        _record_preferences(subscriber, outcome, origin, now)
    return outcome


def _subscription(subscriber: Subscriber, choice: Choice) -> Subscription:
    if choice.subscription is not None:
        return choice.subscription
    subscription = Subscription(newsletter=choice.newsletter, source="preferences")
    subscriber.subscriptions.append(subscription)
    return subscription


def _record_preferences(
    subscriber: Subscriber, outcome: Outcome, origin: Origin, now: datetime
) -> None:
    version = current_app.config["CONSENT_TEXT_VERSION"]
    for subscription in subscriber.subscriptions:
        if subscription.newsletter in outcome.added:
            subscription.consent_version = version
            subscription.requested_at = now
            subscription.source = origin.source
    if outcome.added:
        subscriber.status = SubscriberStatus.CONFIRMED
        subscriber.confirmed_at = subscriber.confirmed_at or now
    active = [
        s.newsletter for s in subscriber.subscriptions if s.status == SubscriptionStatus.ACTIVE
    ]
    _record(
        subscriber,
        EventKind.PREFERENCES_UPDATED,
        active,
        origin,
        consent_version=version if outcome.added else None,
        detail={
            "added": [n.slug for n in outcome.added],
            "removed": [n.slug for n in outcome.removed],
        },
    )


# --- leaving ------------------------------------------------------------------------


def unsubscribe_link_target(token: str) -> tuple[Subscriber, Newsletter | None]:
    """The reader and the newsletter (None: all of them) an unsubscribe link is for."""
    payload = read_token(Purpose.UNSUBSCRIBE, token)
    subscriber = _subscriber_from_payload(payload)
    if not payload.get("n"):
        return subscriber, None
    try:
        newsletter_uuid = uuid.UUID(payload["n"])
    except (TypeError, ValueError) as exc:
        raise InvalidToken() from exc
    newsletter = db.session.scalar(select(Newsletter).where(Newsletter.uuid == newsletter_uuid))
    if newsletter is None:
        raise InvalidToken()
    return subscriber, newsletter


@atomic
def unsubscribe(token: str, origin: Origin) -> Outcome:
    """Leave the newsletter the link names, or all of them. Repeating it is harmless."""
    subscriber, newsletter = unsubscribe_link_target(token)
    return _leave(subscriber, newsletter, origin)


@atomic
def unsubscribe_from_all(token: str, origin: Origin) -> Outcome:
    """Leave every newsletter, from the preference center."""
    return _leave(subscriber_from_token(Purpose.PREFERENCES, token), None, origin)


def _leave(subscriber: Subscriber, newsletter: Newsletter | None, origin: Origin) -> Outcome:
    now = utcnow()
    outcome = Outcome(subscriber=subscriber, newsletter=newsletter)
    for subscription in subscriber.subscriptions:
        if subscription.status in LIVE and newsletter in (None, subscription.newsletter):
            _deactivate(subscription, now)
            outcome.removed.append(subscription.newsletter)
    if outcome.removed:
        _record(subscriber, EventKind.UNSUBSCRIBED, outcome.removed, origin)
    return outcome


def _deactivate(subscription: Subscription, now: datetime) -> None:
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = now


# --- lost links ---------------------------------------------------------------------


@atomic
def request_preferences_link(email: str, origin: Origin) -> None:
    """Mail a fresh preferences link to a known address; do nothing, visibly the same, otherwise."""
    address = normalize_email(email)
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        return
    if _claim_mail_slot(subscriber, Subscriber.link_sent_at, utcnow()):
        notices.queue_preferences_link(subscriber)
        _record(subscriber, EventKind.LINK_REQUESTED, [], origin)


# --- history ------------------------------------------------------------------------


def _record(
    subscriber: Subscriber,
    kind: EventKind,
    newsletters: list[Newsletter],
    origin: Origin,
    consent_version: str | None = None,
    *,
    source: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append to the reader's history; never updated or deleted afterwards."""
    db.session.add(
        Event(
            subscriber_id=subscriber.id,
            kind=kind,
            newsletters=[n.slug for n in newsletters],
            ip=origin.ip,
            user_agent=(origin.user_agent or "")[:512] or None,
            source=source or origin.source,
            consent_version=consent_version,
            detail=detail or {},
        )
    )
