"""Choosing and leaving: the preference center, unsubscribe links, and lost links.

A preferences or unsubscribe link proves the reader owns the address, so the
changes made through one apply at once, with no confirmation email.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

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
from newsletters.services.integrations import webhook_events
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
from newsletters.services.rhythm import choice as rhythm
from newsletters.services.rhythm.periods import local

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    """One newsletter on the preference page and the reader's standing with it."""

    newsletter: Newsletter
    subscription: Subscription | None
    now: datetime = field(default_factory=utcnow)

    @property
    def status(self) -> SubscriptionStatus | None:
        """The reader's status for this newsletter, or None if they never asked for it."""
        return self.subscription.status if self.subscription else None

    @property
    def checked(self) -> bool:
        """Whether the reader gets this newsletter now: its box is ticked."""
        return self.status == SubscriptionStatus.ACTIVE

    @property
    def frequencies(self) -> list[str]:
        """The rhythms the reader may choose, the newsletter's default first."""
        return rhythm.offered(self.newsletter)

    @property
    def current(self) -> str:
        """The rhythm the reader gets now."""
        if self.subscription is None:
            return rhythm.default_frequency(self.newsletter)
        return rhythm.rhythm_at(self.subscription, self.newsletter, self.now)

    @property
    def pending(self) -> tuple[str, date] | None:
        """The rhythm the reader moves to and the local day it starts, while that is ahead."""
        change = rhythm.pending_change(self.subscription, self.now)
        return (change[0], local(change[1]).date()) if change else None

    @property
    def chosen(self) -> str:
        """The rhythm the reader chose: the one they get now, or the one they move to."""
        return self.pending[0] if self.pending else self.current


def preference_choices(subscriber: Subscriber, now: datetime | None = None) -> list[Choice]:
    """Every public newsletter, plus any other the reader still gets, with their standing
    (and rhythm) at ``now``."""
    now = now or utcnow()
    by_newsletter = {s.newsletter_id: s for s in subscriber.subscriptions}
    shown = {n.id: n for n in public_newsletters()}
    for subscription in subscriber.subscriptions:
        if subscription.status in LIVE:
            shown.setdefault(subscription.newsletter_id, subscription.newsletter)
    ordered = sorted(shown.values(), key=lambda n: n.name)
    return [Choice(n, by_newsletter.get(n.id), now) for n in ordered]


def checked_frequencies(choices: dict[str, Choice], asked: dict[str, str]) -> dict[str, str]:
    """The rhythms asked for (``frequency-<slug>`` fields), each one the newsletter offers;
    anything else is refused before anything is written."""
    for slug, value in asked.items():
        choice = choices.get(slug)
        if choice is None:
            raise UnknownNewsletter()
        rhythm.check_offered(choice.newsletter, value)
    return asked


@atomic
def update_preferences(
    token: str,
    slugs: list[str],
    origin: Origin,
    frequencies: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Make the reader's newsletters exactly the ticked ones, at once, each at the rhythm
    chosen in ``frequencies`` (slug -> daily, weekly or monthly).

    The link itself proves the reader owns the address, so no confirmation
    email is needed.
    """
    subscriber = subscriber_from_token(Purpose.PREFERENCES, token)
    return apply_preferences(subscriber, slugs, origin, frequencies, now)


def apply_preferences(
    subscriber: Subscriber,
    slugs: list[str] | None,
    origin: Origin,
    frequencies: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """The preference page's rules, in the caller's transaction: the reader's newsletters
    become exactly ``slugs`` (None: they stay as they are), each at the rhythm chosen in
    ``frequencies``. Unknown, private or archived newsletters the reader does not get
    are refused before anything is written.

    A change of rhythm waits for the boundary both rhythms share
    (:func:`rhythm.choose`), so no story is skipped or sent twice.
    """
    now = now or utcnow()
    choices = {c.newsletter.slug: c for c in preference_choices(subscriber, now)}
    if slugs is None:
        wanted = {slug for slug, choice in choices.items() if choice.checked}
    else:
        wanted = {slug.strip() for slug in slugs if slug and slug.strip()}
    if wanted - choices.keys():
        raise UnknownNewsletter()
    asked = checked_frequencies(choices, frequencies or {})
    outcome = Outcome(subscriber=subscriber)
    for slug, value in asked.items():  # before activation: a returning reader starts on it
        choice = choices[slug]
        if slug in wanted and value != choice.chosen:
            subscription = _subscription(subscriber, choice)
            rhythm.choose(subscription, choice.newsletter, value, now)
            outcome.rhythms.append(choice.newsletter)
    for slug, choice in choices.items() if slugs is not None else ():
        if slug in wanted and choice.status != SubscriptionStatus.ACTIVE:
            activate(_subscription(subscriber, choice), now)
            outcome.added.append(choice.newsletter)
        elif slug not in wanted and choice.status in LIVE:
            deactivate(choice.subscription, now)
            outcome.removed.append(choice.newsletter)
    if outcome.added or outcome.removed or outcome.rhythms:
        _record_preferences(subscriber, outcome, origin, now)
    return outcome


def _subscription(subscriber: Subscriber, choice: Choice) -> Subscription:
    """The reader's subscription to the choice's newsletter, made if there is none yet."""
    for subscription in subscriber.subscriptions:
        if subscription.newsletter is choice.newsletter:
            return subscription
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
    detail = {
        "added": [n.slug for n in outcome.added],
        "removed": [n.slug for n in outcome.removed],
    }
    if outcome.rhythms:
        detail["frequencies"] = {
            s.newsletter.slug: s.next_frequency or s.frequency
            for s in subscriber.subscriptions
            if s.newsletter in outcome.rhythms
        }
    record_event(
        subscriber,
        EventKind.PREFERENCES_UPDATED,
        active_newsletters(subscriber),
        origin,
        consent_version=version if outcome.added else None,
        detail=detail,
    )
    # The preference link proves the address, so a newsletter ticked there is confirmed.
    if outcome.added:
        webhook_events.subscription_confirmed(subscriber, outcome.added)
    if outcome.removed:
        webhook_events.subscription_unsubscribed(subscriber, outcome.removed, origin.source)


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
        webhook_events.subscription_unsubscribed(subscriber, outcome.removed, origin.source)
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
