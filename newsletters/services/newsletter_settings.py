"""Adding and changing a newsletter: every field an admin sets, checked in one place.

Which newsletters exist and which a reader may pick stay in :mod:`.catalogue`, with
the rules a subject template follows (issues are rendered by them too).
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import Cadence, Newsletter, utcnow
from newsletters.services import branding
from newsletters.services.catalogue import (
    check_subject_template,
    has_control_characters,
    newsletter_by_uuid,
)
from newsletters.services.core import outbound
from newsletters.services.core.transactions import atomic
from newsletters.services.rhythm.choice import offered, parse_frequencies
from newsletters.services.rhythm.offer import follow_new_offer

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_FEED_URL = 2048  # what a newsletter's feed_url column holds


@dataclass(frozen=True)
class NewsletterInput:
    """A newsletter's editable fields, as an admin submitted them."""

    slug: str
    name: str
    description: str = ""
    cadence: str = "weekly"
    # The rhythms readers may choose, "daily,weekly" (the first is the default); None
    # keeps what the newsletter offers (weekly for a new one).
    frequencies: str | None = None
    send_day: str = "mon"
    send_hour: int = 8
    public: bool = True
    feed_url: str | None = None
    from_name: str | None = None
    subject_template: str = ""
    intro: str = ""
    archive: bool = True  # publish sent issues in the public web archive (public ones only)
    logo_url: str | None = None  # branding: see newsletters.services.branding
    accent: str | None = None
    footer: str = ""


def add_newsletter(slug: str, name: str, **fields) -> Newsletter:
    """Create a newsletter (the CLI's way): any field of :class:`NewsletterInput` by keyword,
    the rest by default; raise :class:`InvalidInput` for a bad or taken slug or value."""
    return create_newsletter(NewsletterInput(slug=slug, name=name, **fields))


def _check_fields(slug: str, name: str, send_day: str, send_hour: int) -> None:
    if not SLUG_PATTERN.match(slug) or len(slug) > 64:
        raise InvalidInput(
            "A slug uses lower-case letters, digits and single hyphens, like ai-digest.",
            field="slug",
        )
    if not name.strip() or len(name) > 120 or has_control_characters(name):
        raise InvalidInput(
            "A name is required, on one line, with at most 120 characters.", field="name"
        )
    if send_day not in WEEKDAYS:
        raise InvalidInput(f"The send day is one of {', '.join(WEEKDAYS)}.", field="send_day")
    if not 0 <= send_hour <= 23:
        raise InvalidInput("The send hour is between 0 and 23.", field="send_hour")


def _apply(newsletter: Newsletter, data: NewsletterInput, now: datetime | None = None) -> None:
    """Check and copy every editable field; the one place that knows what is allowed."""
    _check_fields(data.slug, data.name, data.send_day, data.send_hour)
    if data.cadence not in {c.value for c in Cadence}:
        raise InvalidInput(f"Unknown cadence {data.cadence!r}.", field="cadence")
    frequencies = None if data.frequencies is None else parse_frequencies(data.frequencies)
    if data.feed_url:
        _check_feed_url(data.feed_url)
    if data.from_name and (len(data.from_name) > 120 or has_control_characters(data.from_name)):
        raise InvalidInput(
            "A sender name is one line of at most 120 characters.", field="from_name"
        )
    if data.subject_template:
        check_subject_template(data.subject_template)
    logo_url = branding.clean_logo_url(data.logo_url)
    accent = branding.clean_accent(data.accent)
    footer = branding.clean_footer(data.footer)
    clash = db.session.scalar(
        select(Newsletter.id).where(Newsletter.slug == data.slug, Newsletter.id != newsletter.id)
    )
    if clash:
        raise InvalidInput(
            f"A newsletter with the slug {data.slug!r} already exists.", field="slug"
        )
    newsletter.slug = data.slug
    newsletter.name = data.name.strip()
    newsletter.description = data.description.strip()
    newsletter.cadence = Cadence(data.cadence)
    newsletter.send_weekday = WEEKDAYS.index(data.send_day)
    newsletter.send_hour = data.send_hour
    newsletter.is_public = data.public
    newsletter.feed_url = data.feed_url or None
    newsletter.from_name = (data.from_name or "").strip() or None
    newsletter.subject_template = data.subject_template.strip()
    newsletter.intro = data.intro.strip()
    newsletter.web_archive = data.archive
    newsletter.brand_logo_url, newsletter.brand_accent = logo_url, accent
    newsletter.brand_footer = footer
    if frequencies is not None:
        _offer(newsletter, frequencies, now or utcnow())


def _offer(newsletter: Newsletter, frequencies: list[str], now: datetime) -> None:
    """Offer these rhythms; readers on one it drops move to its first at a shared
    boundary (:func:`rhythm.offer.follow_new_offer`)."""
    before = offered(newsletter) if newsletter.id is not None else None
    newsletter.frequencies = ",".join(frequencies)
    if before is not None:
        db.session.flush()
        follow_new_offer(newsletter, before, now)


def _check_feed_url(url: str) -> None:
    """Refuse a feed URL by its form; where it leads is checked at every fetch (DNS changes)."""
    if len(url) > MAX_FEED_URL:
        raise InvalidInput(f"A feed URL has at most {MAX_FEED_URL} characters.", field="feed_url")
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise InvalidInput(f"This feed URL cannot be used: {exc}.", field="feed_url") from None


@atomic
def create_newsletter(data: NewsletterInput) -> Newsletter:
    """A new newsletter with every editable field."""
    newsletter = Newsletter()
    _apply(newsletter, data)
    db.session.add(newsletter)
    db.session.flush()
    return newsletter


@atomic
def update_newsletter(
    public_id: str, data: NewsletterInput, now: datetime | None = None
) -> Newsletter:
    """Change a newsletter; links already mailed keep working, slugs may change freely.
    Readers of a rhythm it stops offering move at a boundary after ``now``."""
    newsletter = newsletter_by_uuid(public_id)
    _apply(newsletter, data, now or utcnow())
    return newsletter


@atomic
def set_archived(public_id: str, archived: bool) -> Newsletter:
    """Archive (no more signups or issues; subscribers kept) or bring a newsletter back."""
    newsletter = newsletter_by_uuid(public_id)
    newsletter.is_archived = archived
    return newsletter
