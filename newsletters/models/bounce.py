"""What the world told us after a message left: bounce reports, complaints, provider events."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class BounceKind(enum.StrEnum):
    """What a report says happened."""

    HARD = "hard"  # the address does not exist, or never will take mail
    SOFT = "soft"  # the address exists but refused for now (mailbox full, greylisted out)
    COMPLAINT = "complaint"  # the reader marked the message as spam
    WARNING = "warning"  # a delay or delivery notice: nothing failed yet
    AUTOREPLY = "autoreply"  # a vacation or out-of-office answer
    UNKNOWN = "unknown"  # anything else, kept for a person to read


class BounceReport(db.Model):
    """One report, stored once: the pair (source, event_key) is what stops a replay."""

    __tablename__ = "bounce_report"
    __table_args__ = (
        UniqueConstraint("source", "event_key"),
        Index("ix_bounce_report_email_hash_kind", "email_hash", "kind", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # "mailbox", or the provider whose webhook sent it: ses, postmark, mailgun, sendgrid, generic.
    source: Mapped[str] = mapped_column(String(32))
    # The provider's event id, or the report's own Message-ID, or a hash of its bytes.
    event_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[BounceKind] = mapped_column(enum_column_type(BounceKind))
    # What was done: suppressed, counted, unsubscribed, unmatched, ignored, kept.
    outcome: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    # Soft bounces are counted per address by this hash, so erasure can clear ``email``.
    email_hash: Mapped[str | None] = mapped_column(String(64))
    domain: Mapped[str | None] = mapped_column(String(255))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    newsletter_id: Mapped[int | None] = mapped_column(
        ForeignKey("newsletter.id", ondelete="SET NULL")
    )
    issue_id: Mapped[int | None] = mapped_column(
        ForeignKey("digest.id", ondelete="SET NULL"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(BigId)
    # "5.1.1", a provider's code, or an ARF feedback type.
    status: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    # The report as it arrived; cleared after BOUNCE_REPORT_RETENTION_DAYS with the row.
    raw: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<BounceReport {self.source} {self.kind} {self.outcome}>"
