"""Signed outgoing webhooks: the endpoints a publisher registered, the events, each try.

An event is written in the transaction that causes it, with one delivery row for
each endpoint that wanted it at that moment; the dispatcher claims due deliveries,
posts them, and records every try, so the console can show what the receiver said.
"""

import enum
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow


class WebhookDeliveryStatus(enum.StrEnum):
    """Where one event is on its way to one endpoint."""

    PENDING = "pending"  # waiting for its first try, or for the next retry
    SENDING = "sending"  # claimed by a dispatcher; retaken if the claim goes stale
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: the retry window passed, or the endpoint was disabled


class WebhookEndpoint(db.Model):
    """A URL that receives signed events of the types it chose."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(300), default="")
    # Space-separated event types, e.g. "subscription.confirmed subscriber.erased".
    events: Mapped[str] = mapped_column(String(300))
    # Kept whole (not hashed): every request is signed with it. "whsec_" + base64.
    secret: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its deliveries started failing without a success since; None while healthy.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def event_list(self) -> list[str]:
        """The event types, in the order they were chosen."""
        return self.events.split()

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.uuid} {self.url}>"


class WebhookEvent(db.Model):
    """One thing that happened; its ``msg_id`` is the ``webhook-id`` of every request for it."""

    __tablename__ = "webhook_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The reader it is about (their public id), so that erasing them forgets it too.
    subscriber_key: Mapped[str | None] = mapped_column(String(36), index=True)
    # Their reader was erased: deleted as soon as every endpoint has had it.
    forget: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.msg_id} {self.type}>"


class WebhookDelivery(db.Model):
    """One event for one endpoint, tried until it is delivered or given up."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_event.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        enum_column_type(WebhookDeliveryStatus), default=WebhookDeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retries stop here: WEBHOOK_RETRY_HOURS after the event, or after a replay.
    retry_until: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    event: Mapped[WebhookEvent] = relationship()

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.status}>"


class WebhookAttempt(db.Model):
    """One try of a delivery: when, what the receiver answered, how long it took."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
