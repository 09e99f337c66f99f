"""Addresses we must never mail again."""

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow


class SuppressionReason(enum.StrEnum):
    """Why an address is suppressed."""

    BOUNCED = "bounce"
    COMPLAINED = "complaint"
    MANUAL = "manual"
    ERASED = "erased"
    # The reader had left the list at the system it was imported from.
    UNSUBSCRIBED = "unsubscribed"


class Suppression(db.Model):
    """One suppressed address, found by the hash of its normalised form.

    The hash is what matching uses, so an erased reader's address can be
    kept suppressed (the readable ``email`` is then cleared) without keeping it.
    """

    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[SuppressionReason] = mapped_column(enum_column_type(SuppressionReason))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Suppression {self.reason} {self.email_hash[:8]}>"
