"""Readers, what they subscribe to, and the history of what they asked for."""

import enum
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletters.extensions import db
from newsletters.models.newsletter import Newsletter
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow


class SubscriberStatus(enum.StrEnum):
    """Whether the reader has ever proved they own the address."""

    PENDING = "pending"
    CONFIRMED = "confirmed"


class SubscriptionStatus(enum.StrEnum):
    """Where one reader stands with one newsletter."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class EventKind(enum.StrEnum):
    """What an entry in a reader's history records."""

    SIGNUP_REQUESTED = "signup_requested"
    CONFIRMED = "confirmed"
    PREFERENCES_UPDATED = "preferences_updated"
    UNSUBSCRIBED = "unsubscribed"
    LINK_REQUESTED = "link_requested"
    IMPORTED = "imported"
    ADMIN_CHANGED = "admin_changed"
    BOUNCED = "bounced"  # a report said mail to the address failed
    COMPLAINED = "complained"  # the reader marked a message as spam


class Subscriber(db.Model):
    """One email address and the person behind it."""

    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    # Normalised by the subscriptions service and lower-cased, so uniqueness ignores case.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[SubscriberStatus] = mapped_column(
        enum_column_type(SubscriberStatus), default=SubscriberStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When we last mailed a confirmation or a fresh link: the throttle against mail bombing.
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    link_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language the reader reads us in ("es"), from the page they signed up on; None:
    # whatever their browser asks for.
    locale: Mapped[str | None] = mapped_column(String(16))

    subscriptions: Mapped[list["Subscription"]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Subscriber {self.uuid}>"


class Subscription(db.Model):
    """One reader's standing with one newsletter."""

    __tablename__ = "subscription"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "newsletter_id"),
        Index("ix_subscription_newsletter_status", "newsletter_id", "status", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"))
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletter.id", ondelete="CASCADE"))
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_column_type(SubscriptionStatus), default=SubscriptionStatus.PENDING
    )
    # Where the latest request came from: form, embed, api, preferences, import...
    source: Mapped[str] = mapped_column(String(32), default="form")
    # The version of the consent wording the reader saw when they asked.
    consent_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The rhythm the reader chose (None: the newsletter's first). A change waits for a
    # period boundary both rhythms share (``frequency_from``), so that no story is
    # skipped or sent twice; until then ``next_frequency`` holds it.
    frequency: Mapped[str | None] = mapped_column(String(8))
    next_frequency: Mapped[str | None] = mapped_column(String(8))
    frequency_from: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    newsletter: Mapped[Newsletter] = relationship()

    def __repr__(self) -> str:
        return f"<Subscription {self.subscriber_id}:{self.newsletter_id} {self.status}>"


class Event(db.Model):
    """Append-only history of a reader, and the record of their consent."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_subscriber_created", "subscriber_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL")
    )
    kind: Mapped[EventKind] = mapped_column(enum_column_type(EventKind))
    newsletters: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(32))
    consent_version: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<Event {self.kind} {self.subscriber_id}>"
