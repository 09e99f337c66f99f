"""Which message, reader and issue a report is about: signed tokens first, then what is trusted.

A report that reaches the bounce mailbox may have been written by anyone who
knows the address, so the mailbox trusts only what we signed: a VERP token in
the return path or in an issue's Message-ID, or the random Message-ID of an
outbox message. A provider's webhook is signed by the provider, so its
recipient address is trusted too (``trusted_email``).
"""

from dataclasses import dataclass

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Delivery, Issue, OutboxMessage, Subscriber
from newsletters.services.mail import verp
from newsletters.services.readers.standing import subscriber_by_email


@dataclass
class Match:
    """Who and what a report turned out to be about. ``address`` is None when nobody matched."""

    address: str | None = None
    subscriber: Subscriber | None = None
    issue: Issue | None = None
    delivery: Delivery | None = None
    via: str = ""  # how it was found: token, message-id, email


def _from_ref(ref: verp.MessageRef) -> Match | None:
    if ref.kind == "delivery":
        delivery = db.session.get(Delivery, ref.row_id)
        if delivery is None or delivery.subscriber_id is None:
            return None  # pruned, or the reader was erased (and their address stays suppressed)
        subscriber = db.session.get(Subscriber, delivery.subscriber_id)
        issue = db.session.get(Issue, delivery.issue_id)
        return Match(subscriber.email, subscriber, issue, delivery)
    message = db.session.get(OutboxMessage, ref.row_id)
    if message is None:
        return None
    subscriber = (
        db.session.get(Subscriber, message.subscriber_id) if message.subscriber_id else None
    )
    return Match(message.to_address, subscriber)


def _from_tokens(tokens: tuple[str, ...] | list[str]) -> Match | None:
    for token in tokens:
        ref = verp.read_token(token)
        if ref is not None and (found := _from_ref(ref)) is not None:
            return found
    return None


def match_report(
    tokens: tuple[str, ...], message_ids: tuple[str, ...], email: str | None, trusted_email: bool
) -> Match:
    """Find the report's message and reader; an empty Match when nothing trustworthy names one."""
    if found := _from_tokens(tokens):
        found.via = "token"
        return found
    for message_id in message_ids:
        found = _from_tokens(verp.find_tokens(message_id))
        if found is None:
            outbox = db.session.scalar(
                select(OutboxMessage).where(OutboxMessage.message_id == message_id.strip())
            )
            found = _from_ref(verp.MessageRef("outbox", outbox.id)) if outbox else None
        if found is not None:
            found.via = "message-id"
            return found
    if trusted_email and email:
        address = email.strip().lower()
        return Match(address, subscriber_by_email(address), via="email")
    return Match()
