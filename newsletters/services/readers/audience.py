"""Readers as the audience team sees them: find, inspect, change, export, erase.

Lists page by subscriber id (keyset), so the thousandth page costs what the
first does, and search matches the start of an address through its index.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import (
    BounceReport,
    Delivery,
    Event,
    Newsletter,
    OutboxKind,
    OutboxMessage,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.catalogue import newsletter_by_slug
from newsletters.services.core import sql
from newsletters.services.core.transactions import atomic
from newsletters.services.integrations import webhook_events
from newsletters.services.mail import suppressions
from newsletters.services.readers import notices, preferences
from newsletters.services.readers.confirm import awaiting_confirmation, claim_reader_mail
from newsletters.services.readers.history import Origin

PAGE_SIZE = 50
# Above every character an address can contain, to turn a prefix into a range.
PREFIX_END = "\U0010ffff"


@dataclass(frozen=True)
class Filters:
    """What the subscriber list is narrowed to."""

    query: str = ""
    newsletter: str = ""
    status: str = ""

    def check(self) -> "Filters":
        """Refuse a status that does not exist."""
        if self.status and self.status not in {s.value for s in SubscriptionStatus}:
            raise InvalidInput("Filter by active, pending or unsubscribed.", field="status")
        return self


@dataclass
class Page:
    """One page of readers, and where the neighbouring pages start."""

    subscribers: list[Subscriber]
    next_after: int | None
    previous_before: int | None


def filtered(filters: Filters):
    """A query for the readers matching the filters, and the column to page it by.

    With a newsletter, the query is driven by the subscription index
    (newsletter, status, subscriber), so even the last page of a million
    readers is a short index range.
    """
    query = select(Subscriber)
    prefix = filters.query.strip().lower()
    if prefix:
        # A range the email index can serve, then the exact test.
        query = query.where(
            Subscriber.email >= prefix,
            Subscriber.email < prefix + PREFIX_END,
            Subscriber.email.startswith(prefix, autoescape=True),
        )
    status = SubscriptionStatus(filters.status) if filters.status else None
    if filters.newsletter:
        newsletter_id = db.session.scalar(
            select(Newsletter.id).where(Newsletter.slug == filters.newsletter)
        )
        query = query.join(
            Subscription,
            (Subscription.subscriber_id == Subscriber.id)
            & (Subscription.newsletter_id == (newsletter_id or -1)),
        )
        if status:
            query = query.where(Subscription.status == status)
    elif status:
        query = query.where(
            select(Subscription.id)
            .where(Subscription.subscriber_id == Subscriber.id, Subscription.status == status)
            .exists()
        )
    # Paging by the subscription's copy of the id lets the database walk that index.
    key = Subscription.subscriber_id if filters.newsletter else Subscriber.id
    return query, key


def page_of(filters: Filters, after: int | None = None, before: int | None = None) -> Page:
    """A page of readers, oldest first, after (or before) a subscriber id."""
    query, key = filtered(filters.check())
    if before:
        rows = list(
            db.session.scalars(query.where(key < before).order_by(key.desc()).limit(PAGE_SIZE + 1))
        )
        more_before = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        return Page(rows, rows[-1].id if rows else None, rows[0].id if more_before else None)
    if after:
        query = query.where(key > after)
    rows = list(db.session.scalars(query.order_by(key).limit(PAGE_SIZE + 1)))
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(
        rows,
        rows[-1].id if has_more and rows else None,
        rows[0].id if after and rows else None,
    )


def newsletters_of(subscribers: list[Subscriber]) -> dict[int, list[tuple[str, str]]]:
    """(newsletter name, status) per reader, for a page, in one query."""
    ids = [s.id for s in subscribers]
    rows = (
        db.session.execute(
            select(Subscription.subscriber_id, Newsletter.name, Subscription.status)
            .join(Newsletter)
            .where(Subscription.subscriber_id.in_(ids))
            .order_by(Newsletter.name)
        ).all()
        if ids
        else []
    )
    found: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for subscriber_id, name, status in rows:
        found[subscriber_id].append((name, status.value))
    return found


def by_uuid(public_id: str) -> Subscriber:
    """A reader by their public id, or :class:`NotFound`."""
    return sql.by_public_id(
        Subscriber,
        public_id,
        "There is no such reader (they may have been erased).",
        "There is no such reader.",
    )


def history(subscriber: Subscriber) -> list[Event]:
    """The reader's whole history, newest first, consent records included."""
    return list(
        db.session.scalars(
            select(Event).where(Event.subscriber_id == subscriber.id).order_by(Event.id.desc())
        )
    )


@atomic
def unsubscribe(public_id: str, newsletter_slug: str | None, origin: Origin) -> list[str]:
    """Take a reader off one newsletter, or all; returns the slugs they left."""
    subscriber = by_uuid(public_id)
    newsletter = newsletter_by_slug(newsletter_slug) if newsletter_slug else None
    return [n.slug for n in preferences.leave(subscriber, newsletter, origin).removed]


@atomic
def resend_confirmation(public_id: str) -> bool:
    """Mail the confirmation link again, if something awaits confirmation (throttle applies)."""
    subscriber = by_uuid(public_id)
    awaiting = awaiting_confirmation(subscriber)
    if not awaiting:
        raise InvalidInput("Nothing is waiting for this reader's confirmation.")
    if not claim_reader_mail(subscriber, OutboxKind.CONFIRMATION, utcnow()):
        raise InvalidInput(
            "A confirmation went to this reader in the last few minutes, or several today."
        )
    notices.queue_confirmation(subscriber, awaiting)
    return True


def export_one(public_id: str) -> dict[str, Any]:
    """Everything we hold about one reader, as JSON-ready data (a subject access request)."""
    subscriber = by_uuid(public_id)

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    deliveries = db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.subscriber_id == subscriber.id)
    )
    return {
        "id": str(subscriber.uuid),
        "email": subscriber.email,
        "status": subscriber.status.value,
        "created_at": when(subscriber.created_at),
        "confirmed_at": when(subscriber.confirmed_at),
        "subscriptions": [
            {
                "newsletter": s.newsletter.slug,
                "status": s.status.value,
                "source": s.source,
                "requested_at": when(s.requested_at),
                "confirmed_at": when(s.confirmed_at),
                "unsubscribed_at": when(s.unsubscribed_at),
                "consent_version": s.consent_version,
            }
            for s in subscriber.subscriptions
        ],
        "history": [
            {
                "what": e.kind.value,
                "newsletters": e.newsletters,
                "when": when(e.created_at),
                "ip": e.ip,
                "user_agent": e.user_agent,
                "source": e.source,
                "consent_version": e.consent_version,
                "detail": e.detail,
            }
            for e in history(subscriber)
        ],
        "issues_delivered": deliveries,
    }


@atomic
def erase(public_id: str) -> str:
    """Forget a reader: their row, history and mail go; a hash keeps the address suppressed.

    Every link they were ever sent stops working, because it names a reader
    who no longer exists. Returns the reader's public id, for the audit log.
    """
    subscriber = by_uuid(public_id)
    address, key = subscriber.email, str(subscriber.uuid)
    suppressions.suppress_erased(address)
    db.session.execute(delete(Event).where(Event.subscriber_id == subscriber.id))
    db.session.execute(
        delete(OutboxMessage).where(
            or_(OutboxMessage.subscriber_id == subscriber.id, OutboxMessage.to_address == address)
        )
    )
    # Reports about them keep their counts (rates stay true) but lose the address and text.
    db.session.execute(
        update(BounceReport)
        .where(
            or_(
                BounceReport.subscriber_id == subscriber.id,
                BounceReport.email_hash == suppressions.address_hash(address),
            )
        )
        .values(email=None, raw=None, detail="")
        .execution_options(synchronize_session=False)
    )
    db.session.delete(subscriber)
    webhook_events.subscriber_erased(key, address)
    return key
