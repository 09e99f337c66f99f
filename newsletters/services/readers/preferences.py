"""Choosing and leaving: the preference center, unsubscribe links, and lost links.

A preferences or unsubscribe link proves the reader owns the address, so the
changes made through one apply at once, with no confirmation email.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import after_this_request, current_app, has_request_context

from newsletters.errors import InvalidToken, NotFound, UnknownNewsletter
from newsletters.models import (
    EventKind,
    Newsletter,
    OutboxKind,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.catalogue import newsletter_by_uuid, public_newsletters
from newsletters.services.core.addresses import mask_email, normalize_email
from newsletters.services.core.tokens import Purpose, read_token
from newsletters.services.core.transactions import atomic
from newsletters.services.readers import notices
from newsletters.services.readers.confirm import claim_reader_mail
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

log = logging.getLogger(__name__)


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


def request_preferences_link(email: str, origin: Origin) -> None:
    """Check the address now; look it up, and mail a link if it is known, after the answer.

    Whether the address is known changes everything that follows (a lookup that
    finds a row, a write, an email rendered and queued), so none of it runs while
    the asker waits: every answer takes the time of the address check alone.
    Outside a request the link is sent at once.
    """
    address = normalize_email(email)
    if not has_request_context():
        send_preferences_link(address, origin)
        return
    app = current_app._get_current_object()

    def send_after_response() -> None:
        with app.app_context():
            try:
                send_preferences_link(address, origin)
            except Exception:  # the asker was answered already: they can ask again
                log.exception("could not send a preferences link to %s", mask_email(address))

    @after_this_request
    def schedule(response):
        response.call_on_close(send_after_response)
        return response


@atomic
def send_preferences_link(address: str, origin: Origin) -> bool:
    """Mail a fresh preferences link to a known (normalised) address, rationed; True if sent."""
    subscriber = subscriber_by_email(address)
    if subscriber is None:
        return False
    if not claim_reader_mail(subscriber, OutboxKind.PREFERENCES_LINK, utcnow()):
        return False
    notices.queue_preferences_link(subscriber)
    record_event(subscriber, EventKind.LINK_REQUESTED, [], origin)
    return True
