"""Choosing and leaving: the preference center, unsubscribe links, and lost links.

A preferences or unsubscribe link proves the reader owns the address, so the
changes made through one apply at once, with no confirmation email.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from newsletters.errors import InvalidToken, NotFound, UnknownNewsletter
from newsletters.models import (
    EventKind,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.catalogue import newsletter_by_uuid, public_newsletters
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.tokens import Purpose, read_token
from newsletters.services.core.transactions import atomic
from newsletters.services.readers import notices
from newsletters.services.readers.confirm import claim_mail_slot
from newsletters.services.readers.history import Origin, record_event
from newsletters.services.readers.standing import (
    LIVE,
    Outcome,
    activate,
    active_newsletters,
    deactivate,
    mark_confirmed,
    subscriber_by_email,
    subscriber_from_payload,
    subscriber_from_token,
)


@dataclass(frozen=True)
class Choice:
    """One newsletter on the preference page and the reader's standing with it."""

    newsletter: Newsletter
    subscription: Subscription | None

    @property
    def status(self) -> SubscriptionStatus | None:
        """The reader's status for this newsletter, or None if they never asked for it."""
        return self.subscription.status if self.subscription else None

    @property
    def checked(self) -> bool:
        """Whether the reader gets this newsletter now: its box is ticked."""
        return self.status == SubscriptionStatus.ACTIVE


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
            activate(_subscription(subscriber, choice), now)
            outcome.added.append(choice.newsletter)
        elif slug not in wanted and choice.status in LIVE:
            deactivate(choice.subscription, now)
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
        mark_confirmed(subscriber, now)
    record_event(
        subscriber,
        EventKind.PREFERENCES_UPDATED,
        active_newsletters(subscriber),
        origin,
        consent_version=version if outcome.added else None,
        detail={
            "added": [n.slug for n in outcome.added],
            "removed": [n.slug for n in outcome.removed],
        },
    )


def unsubscribe_link_target(token: str) -> tuple[Subscriber, Newsletter | None]:
    """The reader and the newsletter (None: all of them) an unsubscribe link is for."""
    payload = read_token(Purpose.UNSUBSCRIBE, token)
    subscriber = subscriber_from_payload(payload)
    if not payload.get("n"):
        return subscriber, None
    try:
        return subscriber, newsletter_by_uuid(payload["n"])
    except (TypeError, NotFound) as exc:
        raise InvalidToken() from exc


@atomic
def unsubscribe(token: str, origin: Origin) -> Outcome:
    """Leave the newsletter the link names, or all of them. Repeating it is harmless."""
    subscriber, newsletter = unsubscribe_link_target(token)
    return leave(subscriber, newsletter, origin)


@atomic
def unsubscribe_from_all(token: str, origin: Origin) -> Outcome:
    """Leave every newsletter, from the preference center."""
    return leave(subscriber_from_token(Purpose.PREFERENCES, token), None, origin)


def leave(subscriber: Subscriber, newsletter: Newsletter | None, origin: Origin) -> Outcome:
    """Leave one newsletter, or all; in the caller's transaction. Repeating it is harmless."""
    now = utcnow()
    outcome = Outcome(subscriber=subscriber, newsletter=newsletter)
    for subscription in subscriber.subscriptions:
        if subscription.status in LIVE and newsletter in (None, subscription.newsletter):
            deactivate(subscription, now)
            outcome.removed.append(subscription.newsletter)
    if outcome.removed:
        record_event(subscriber, EventKind.UNSUBSCRIBED, outcome.removed, origin)
    return outcome


@atomic
def request_preferences_link(email: str, origin: Origin) -> None:
    """Mail a fresh preferences link to a known address; do nothing, visibly the same, otherwise."""
    address = normalize_email(email)
    subscriber = subscriber_by_email(address)
    if subscriber is None:
        return
    if claim_mail_slot(subscriber, Subscriber.link_sent_at, utcnow()):
        notices.queue_preferences_link(subscriber)
        record_event(subscriber, EventKind.LINK_REQUESTED, [], origin)
