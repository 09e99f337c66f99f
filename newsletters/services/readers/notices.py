"""The emails a reader gets about their own subscription, queued in the outbox."""

from newsletters.models import Newsletter, OutboxKind, Subscriber
from newsletters.services.mail import links, outbox
from newsletters.services.mail.render import render_email


def _names(newsletters: list[Newsletter]) -> str:
    names = [n.name for n in newsletters]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def queue_confirmation(subscriber: Subscriber, newsletters: list[Newsletter]) -> None:
    """Ask the reader to confirm the newsletters they asked for."""
    email = render_email(
        "confirm",
        subject=f"Confirm your subscription to {_names(newsletters)}",
        newsletters=newsletters,
        confirm_url=links.confirm_url(subscriber),
    )
    outbox.enqueue(
        kind=OutboxKind.CONFIRMATION, to=subscriber.email, email=email, subscriber=subscriber
    )


def queue_welcome(subscriber: Subscriber, newsletters: list[Newsletter]) -> None:
    """Welcome a reader who just confirmed, with their preferences and unsubscribe links."""
    email = render_email(
        "welcome",
        subject=f"Welcome to {_names(newsletters)}",
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
    email = render_email(
        "already_subscribed",
        subject="You're already subscribed",
        newsletters=newsletters,
        preferences_url=links.preferences_url(subscriber),
    )
    outbox.enqueue(
        kind=OutboxKind.ALREADY_SUBSCRIBED, to=subscriber.email, email=email, subscriber=subscriber
    )


def queue_preferences_link(subscriber: Subscriber) -> None:
    """Send a fresh link to the preference center."""
    email = render_email(
        "preferences_link",
        subject="Your link to manage your newsletters",
        preferences_url=links.preferences_url(subscriber),
    )
    outbox.enqueue(
        kind=OutboxKind.PREFERENCES_LINK, to=subscriber.email, email=email, subscriber=subscriber
    )
