"""Answers to requests that may be retried, so a retry is applied once."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, utcnow


class IdempotencyRecord(db.Model):
    """The first answer to a request with an Idempotency-Key, written with its change."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the key is for: an endpoint and, for a reader's own page, which reader.
    scope: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(100))
    # A hash of the request, so the same key with a different request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<IdempotencyRecord {self.scope} {self.key}>"
