"""Newsletters: which exist, which a reader may pick, and adding new ones."""

import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from newsletters.errors import InvalidInput, NoNewsletterChosen, NotFound, UnknownNewsletter
from newsletters.extensions import db
from newsletters.locales import N_
from newsletters.models import Cadence, Newsletter, utcnow
from newsletters.services import branding
from newsletters.services.core import outbound, sql
from newsletters.services.core.transactions import atomic
from newsletters.services.rhythm.choice import default_frequency, offered, parse_frequencies
from newsletters.services.rhythm.offer import follow_new_offer
from newsletters.services.rhythm.periods import Frequency

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_CHOICES = 100
# A signup naming more newsletters than exist: a reader may see it, so it is translated.
TOO_MANY = N_("That is more newsletters than we publish.")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SUBJECT_FIELDS = {"name", "date", "site"}
MAX_SUBJECT_TEMPLATE = 200  # what a newsletter's subject_template column holds
MAX_FEED_URL = 2048  # what a newsletter's feed_url column holds

DEMO_NEWSLETTERS = [
    {
        "slug": "the-weekly",
        "name": "The Weekly",
        "description": "The week's most important stories, explained. Every Friday morning.",
        "send_weekday": 4,
        "send_hour": 7,
    },
    {
        "slug": "ai-digest",
        "name": "AI Digest",
        "description": "What changed in artificial intelligence this week, and why it matters.",
        "send_weekday": 1,
        "send_hour": 8,
    },
    {
        "slug": "climate-report",
        "name": "Climate Report",
        "description": "Science, policy and people on the front line of a warming world.",
        "send_weekday": 2,
        "send_hour": 8,
    },
    {
        "slug": "morning-briefing",
        "name": "Morning Briefing",
        "description": "Five stories to start your Monday, in five minutes.",
        "send_weekday": 0,
        "send_hour": 6,
    },
]


@dataclass(frozen=True)
class Card:
    """A newsletter as the signup pages show it: plain data, no database session."""

    slug: str
    name: str
    description: str
    cadence: Frequency  # its first rhythm: what a reader gets who does not choose
    send_weekday: int
    send_hour: int
    frequencies: tuple[str, ...] = ("weekly",)


LAST_KNOWN_KEY = "newsletters.last_known_cards"


def signup_cards() -> list[Card]:
    """The public newsletters for a signup page; remembered for when the database is down."""
    cards = [
        Card(
            n.slug,
            n.name,
            n.description,
            Frequency(default_frequency(n)),
            n.send_weekday,
            n.send_hour,
            tuple(offered(n)),
        )
        for n in public_newsletters()
    ]
    current_app.extensions[LAST_KNOWN_KEY] = cards
    return cards


def last_known_cards() -> list[Card]:
    """The newsletters the last signup page showed, without asking the database.

    Used to redraw a reader's form after the database failed to save it.
    """
    return current_app.extensions.get(LAST_KNOWN_KEY, [])


def public_newsletters() -> list[Newsletter]:
    """Every newsletter open for signup, in display order."""
    return list(
        db.session.scalars(
            select(Newsletter)
            .where(Newsletter.is_public.is_(True), Newsletter.in_service)
            .order_by(Newsletter.name)
        )
    )


def newsletters_for_signup(slugs: Iterable[str]) -> list[Newsletter]:
    """Resolve the slugs a reader ticked, refusing unknown, private or archived ones."""
    wanted = list(dict.fromkeys(s.strip() for s in slugs if s and s.strip()))
    if not wanted:
        raise NoNewsletterChosen()
    if len(wanted) > MAX_CHOICES:
        raise InvalidInput(TOO_MANY, field="newsletters")
    found = {n.slug: n for n in public_newsletters() if n.slug in wanted}
    if len(found) != len(wanted):
        raise UnknownNewsletter()
    return [found[slug] for slug in wanted]


def has_control_characters(text: str) -> bool:
    """True for line breaks, tabs and other invisible controls: never wanted in a name."""
    return any(unicodedata.category(char).startswith("C") for char in text)


def subject_template_problem(template: str) -> str | None:
    """What is wrong with a subject template, or None when it may be used.

    Fields are {name}, {date} and {site} exactly: a format spec such as {name:x>5000000}
    would make a subject of megabytes, and {name.attr} or {name[0]} reach into objects.
    """
    if len(template) > MAX_SUBJECT_TEMPLATE:
        return f"A subject has at most {MAX_SUBJECT_TEMPLATE} characters."
    if has_control_characters(template):
        return "A subject is one line of text."
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return "The subject has an unmatched { or }."
    for _, field, spec, conversion in parts:
        if field is not None and (field not in SUBJECT_FIELDS or spec or conversion):
            return "The subject may use {name}, {date} and {site} as they are, nothing more."
    return None


def check_subject_template(template: str) -> None:
    """Refuse a subject template that :func:`subject_template_problem` finds fault with."""
    problem = subject_template_problem(template)
    if problem:
        raise InvalidInput(problem, field="subject")


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


def add_newsletter(slug: str, name: str, **fields) -> Newsletter:
    """Create a newsletter (the CLI's way): any field of :class:`NewsletterInput` by keyword,
    the rest by default; raise :class:`InvalidInput` for a bad or taken slug or value."""
    return create_newsletter(NewsletterInput(slug=slug, name=name, **fields))


@atomic
def add_demo_newsletters() -> int:
    """Add the demo newsletters when there are none at all; return how many were added."""
    if db.session.scalar(select(Newsletter.id).limit(1)) is not None:
        return 0
    db.session.add_all(Newsletter(**fields) for fields in DEMO_NEWSLETTERS)
    return len(DEMO_NEWSLETTERS)


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


def newsletter_by_slug(slug: str) -> Newsletter:
    """The newsletter with this slug, or :class:`NotFound`."""
    newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == (slug or "")))
    if newsletter is None:
        raise NotFound(f"There is no newsletter with the slug {slug!r}.")
    return newsletter


def newsletter_by_uuid(public_id: str) -> Newsletter:
    """A newsletter by its public id, or :class:`NotFound`."""
    return sql.by_public_id(Newsletter, public_id, "There is no such newsletter.")


def all_newsletters() -> list[Newsletter]:
    """Every newsletter, archived last."""
    return list(
        db.session.scalars(select(Newsletter).order_by(Newsletter.is_archived, Newsletter.name))
    )


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
