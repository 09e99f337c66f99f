"""A newsletter: one list a reader can subscribe to."""

import enum
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import Boolean, ColumnElement, Integer, String, Text, Uuid
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow


class Cadence(enum.StrEnum):
    """How often a newsletter's digest goes out."""

    WEEKLY = "weekly"


class Newsletter(db.Model):
    """A list readers subscribe to, with its digest schedule."""

    __tablename__ = "newsletter"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    cadence: Mapped[Cadence] = mapped_column(enum_column_type(Cadence), default=Cadence.WEEKLY)
    # 0 is Monday, as in ``datetime.weekday()``.
    send_weekday: Mapped[int] = mapped_column(Integer, default=0)
    send_hour: Mapped[int] = mapped_column(Integer, default=8)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    feed_url: Mapped[str | None] = mapped_column(String(2048))
    # Conditional-GET validators from the last feed pull, so unchanged feeds cost nothing.
    feed_etag: Mapped[str | None] = mapped_column(String(255))
    feed_modified: Mapped[str | None] = mapped_column(String(255))
    # The name in the From header of this newsletter's issues; the site's name when empty.
    from_name: Mapped[str | None] = mapped_column(String(120))
    # "{name}: {date}" by default; {name}, {date} and {site} are filled in.
    subject_template: Mapped[str] = mapped_column(String(200), default="")
    intro: Mapped[str] = mapped_column(Text, default="")
    # Send an issue even when its period has no stories (off: an empty week sends nothing).
    send_when_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    # The public web archive of its sent issues (the contract's setting ``archive``); a
    # private newsletter never has one, whatever this says.
    web_archive: Mapped[bool] = mapped_column(Boolean, default=True)
    # Branding of its emails and archive pages, validated by the catalogue on save.
    brand_logo_url: Mapped[str | None] = mapped_column(String(2048))
    brand_accent: Mapped[str | None] = mapped_column(String(7))  # "#rrggbb"
    brand_footer: Mapped[str] = mapped_column(Text, default="")
    # The rhythms readers may choose, comma-separated in order ("daily,weekly"); the first
    # is what a reader gets until they choose.
    frequencies: Mapped[str] = mapped_column(String(32), default="weekly", server_default="weekly")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @hybrid_property
    def in_service(self) -> bool:
        """The rule, in one place: an archived newsletter takes no readers and gets no mail.

        Signup, confirmation, imports, feeds and sending all ask this, in Python
        or, as ``Newsletter.in_service``, in SQL.
        """
        return not self.is_archived

    @in_service.inplace.expression
    @classmethod
    def _in_service_expression(cls) -> ColumnElement[bool]:
        return cls.is_archived.is_(False)

    def __repr__(self) -> str:
        return f"<Newsletter {self.slug}>"
