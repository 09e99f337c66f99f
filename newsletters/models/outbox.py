"""Every email waiting to leave, written in the transaction that caused it."""

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow


class OutboxKind(enum.StrEnum):
    """Why a message was written; stored as its value, so existing rows keep theirs."""

    CONFIRMATION = "confirmation"
    WELCOME = "welcome"
    ALREADY_SUBSCRIBED = "already_subscribed"
    PREFERENCES_LINK = "preferences_link"
    # An issue mailed to one address by an editor, to see how it looks.
    TEST = "test"
    # A notice to the site's admins, e.g. a webhook endpoint that was disabled.
    ADMIN_NOTICE = "admin_notice"


class OutboxStatus(enum.StrEnum):
    """Where a message is on its way out."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Never sent: the address is on the suppression list.
    SUPPRESSED = "suppressed"


class OutboxMessage(db.Model):
    """One rendered email and its delivery state."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(enum_column_type(OutboxKind))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Extra headers such as List-Unsubscribe, fixed when the message is written.
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Fixed at enqueue time so a retried send carries the same Message-ID.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column_type(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"
