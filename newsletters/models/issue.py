"""The content side: stories, the issues built from them, and their deliveries.

The code calls an edition of a newsletter an issue. The tables keep the names
they were created with (``digest``, ``delivery.digest_id``), so no data moves.
"""

import enum
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import (
    JSON,
    BigInteger,
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
from newsletters.models.newsletter import Newsletter
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets room for billions.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Story(db.Model):
    """One article a newsletter may carry."""

    __tablename__ = "story"
    __table_args__ = (
        UniqueConstraint("newsletter_id", "guid"),
        Index("ix_story_newsletter_published", "newsletter_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletter.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(2048))
    summary: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2048))
    # The publisher's own identifier (feed entry id, CMS id); the URL when there is none.
    guid: Mapped[str] = mapped_column(String(512))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    newsletter: Mapped[Newsletter] = relationship()

    def __repr__(self) -> str:
        return f"<Story {self.guid!r}>"


class IssueStatus(enum.StrEnum):
    """Where an issue is in its life."""

    DRAFT = "draft"  # being edited (and perhaps scheduled: ``send_at``); not rendered yet
    SENDING = "sending"  # rendered once; deliveries being made
    PAUSED = "paused"  # rendered; an editor stopped the senders, the rest are waiting
    SENT = "sent"  # every delivery has an outcome
    EMPTY = "empty"  # its period had no stories, so nobody got it
    CANCELLED = "cancelled"  # an editor stopped it for good; nobody else gets it


class Issue(db.Model):
    """One issue of a newsletter, for one period; there is never a second one."""

    __tablename__ = "digest"  # the table's original name; see the module docstring
    __table_args__ = (UniqueConstraint("newsletter_id", "frequency", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    newsletter_id: Mapped[int] = mapped_column(ForeignKey("newsletter.id", ondelete="CASCADE"))
    # Which of the newsletter's rhythms this issue is for: daily, weekly or monthly. Each
    # rhythm has its own issues, and a reader gets those of the rhythm they chose.
    frequency: Mapped[str] = mapped_column(String(8), default="weekly", server_default="weekly")
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[IssueStatus] = mapped_column(
        enum_column_type(IssueStatus), default=IssueStatus.DRAFT
    )
    # The editor's desk: overrides of the newsletter's subject template and intro, the
    # preview line inboxes show after the subject, and the stories' order and choice.
    subject_override: Mapped[str | None] = mapped_column(String(300))
    intro_override: Mapped[str | None] = mapped_column(Text)
    preheader: Mapped[str | None] = mapped_column(String(250))
    # Story ids in the editor's order (stories added by URL among them); the period's
    # other stories follow in their usual order. None until an editor arranges them.
    story_order: Mapped[list[int] | None] = mapped_column(JSON)
    excluded_story_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # When an editor scheduled it (or pressed "Send now"); None: the newsletter's slot.
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What every recipient gets, rendered once; only their own links differ.
    subject: Mapped[str | None] = mapped_column(String(300))
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    story_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once a delivery row exists for every subscriber who was active then.
    materialized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counting, privately: whether it was on when the issue was rendered, and the issue's
    # totals. Totals only; nothing here or anywhere says which reader opened or clicked.
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    track_opens: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    machine_opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    newsletter: Mapped[Newsletter] = relationship()

    def __repr__(self) -> str:
        return f"<Digest {self.newsletter_id} {self.period_start:%Y-%m-%d} {self.status}>"


class IssueTranslation(db.Model):
    """An issue rendered in one more of the site's languages: its frame (headings, links,
    footer, dates) in that language, the editor's words and the stories as written.

    The issue's own columns hold the default language; a reader whose saved language has
    a row here gets this one. Written in the same transaction that starts the sending.
    """

    __tablename__ = "issue_translation"
    __table_args__ = (UniqueConstraint("digest_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column("digest_id", ForeignKey("digest.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<IssueTranslation {self.issue_id} {self.language}>"


class DeliveryStatus(enum.StrEnum):
    """What happened to one issue for one reader."""

    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender
    SENT = "sent"
    FAILED = "failed"  # temporarily; the next run tries again
    BOUNCED = "bounced"  # the server refused the address for good; it is suppressed
    SUPPRESSED = "suppressed"  # not sent: the address is on the suppression list
    SKIPPED = "skipped"  # not sent: the reader left before their turn came
    CANCELLED = "cancelled"  # not sent: an editor cancelled the issue, or gave up retrying


class Delivery(db.Model):
    """One issue to one reader: the row that makes 'exactly once' hold."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("digest_id", "subscriber_id"),
        Index("ix_delivery_digest_status", "digest_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    issue_id: Mapped[int] = mapped_column("digest_id", ForeignKey("digest.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL")
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column_type(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Which sender holds the row while it is 'sending' (host:pid:uuid), and since when.
    claim_token: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Filled by earlier versions only: a Message-ID now carries the delivery's signed
    # token (see services/mail/verp.py), so it is derived from the id, not stored.
    message_id: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"<Delivery {self.issue_id}:{self.subscriber_id} {self.status}>"


class IssueDeliveryCount(db.Model):
    """The pruned deliveries of a finished issue, counted by status.

    ``flask deliveries prune`` folds the rows of issues finished more than
    DELIVERY_RETENTION_DAYS ago into these counts and deletes them, in the same
    transaction; every count of an issue's deliveries reads these plus the live rows.
    """

    __tablename__ = "issue_delivery_count"

    issue_id: Mapped[int] = mapped_column(
        "digest_id", ForeignKey("digest.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column_type(DeliveryStatus), primary_key=True
    )
    deliveries: Mapped[int] = mapped_column(BigInteger)
    # Of those, the ones handed to the mail server (with a ``sent_at``), and the ones a
    # complaint report named then: what the API's sent and complained counts need.
    handed_over: Mapped[int] = mapped_column(BigInteger)
    complained: Mapped[int] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        return f"<IssueDeliveryCount {self.issue_id} {self.status} {self.deliveries}>"
