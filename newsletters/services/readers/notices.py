"""The emails a reader gets about their own subscription, queued in the outbox.

Each is written in the reader's saved language (:func:`newsletters.locales.writing_to`).
"""

from flask_babel import gettext

from newsletters.locales import writing_to
from newsletters.models import Newsletter, OutboxKind, Subscriber
from newsletters.services.mail import links, outbox
from newsletters.services.mail.render import render_email


def _names(newsletters: list[Newsletter]) -> str:
    names = [n.name for n in newsletters]
    if len(names) == 1:
        return names[0]
    return gettext("%(names)s and %(last)s", names=", ".join(names[:-1]), last=names[-1])


def queue_confirmation(subscriber: Subscriber, newsletters: list[Newsletter]) -> None:
    """Ask the reader to confirm the newsletters they asked for."""
    with writing_to(subscriber.locale):
        email = render_email(
            "confirm",
            subject=gettext("Confirm your subscription to %(names)s", names=_names(newsletters)),
            newsletters=newsletters,
            confirm_url=links.confirm_url(subscriber),
        )
    outbox.enqueue(
        kind=OutboxKind.CONFIRMATION, to=subscriber.email, email=email, subscriber=subscriber
    )


def queue_welcome(subscriber: Subscriber, newsletters: list[Newsletter]) -> None:
    """Welcome a reader who just confirmed, with their preferences and unsubscribe links."""
    with writing_to(subscriber.locale):
        email = render_email(
            "welcome",
            subject=gettext("Welcome to %(names)s", names=_names(newsletters)),
            newsletters=newsletters,
            preferences_url=links.preferences_url(subscriber),
            unsubscribe_url=links.unsubscribe_url(subscriber),
        )
    outbox.enqueue(
        kind=OutboxKind.WELCOME,
        to=subscriber.email,
        email=email,
        subscriber=subscriber,
        headers=links.unsubscribe_headers(subscriber),
    )


def queue_already_subscribed(subscriber: Subscriber, newsletters: list[Newsletter]) -> None:
    """Tell a reader who signed up again that they already get these newsletters."""
    with writing_to(subscriber.locale):
        email = render_email(
            "already_subscribed",
            subject=gettext("You're already subscribed"),
            newsletters=newsletters,
            preferences_url=links.preferences_url(subscriber),
        )
    outbox.enqueue(
        kind=OutboxKind.ALREADY_SUBSCRIBED, to=subscriber.email, email=email, subscriber=subscriber
    )


def queue_preferences_link(subscriber: Subscriber) -> None:
    """Send a fresh link to the preference center."""
    with writing_to(subscriber.locale):
        email = render_email(
            "preferences_link",
            subject=gettext("Your link to manage your newsletters"),
            preferences_url=links.preferences_url(subscriber),
        )
    outbox.enqueue(
        kind=OutboxKind.PREFERENCES_LINK, to=subscriber.email, email=email, subscriber=subscriber
    )
