"""Newsletters: which exist, which a reader may pick, and adding new ones."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from newsletters.errors import InvalidInput, NoNewsletterChosen, UnknownNewsletter
from newsletters.extensions import db
from newsletters.models import Cadence, Newsletter
from newsletters.services.transactions import atomic

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_CHOICES = 100
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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
    cadence: Cadence
    send_weekday: int
    send_hour: int


LAST_KNOWN_KEY = "newsletters.last_known_cards"


def signup_cards() -> list[Card]:
    """The public newsletters for a signup page; remembered for when the database is down."""
    cards = [
        Card(n.slug, n.name, n.description, n.cadence, n.send_weekday, n.send_hour)
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
            .where(Newsletter.is_public.is_(True), Newsletter.is_archived.is_(False))
            .order_by(Newsletter.name)
        )
    )


def newsletters_for_signup(slugs: Iterable[str]) -> list[Newsletter]:
    """Resolve the slugs a reader ticked, refusing unknown, private or archived ones."""
    wanted = list(dict.fromkeys(s.strip() for s in slugs if s and s.strip()))
    if not wanted:
        raise NoNewsletterChosen()
    if len(wanted) > MAX_CHOICES:
        raise InvalidInput("That is more newsletters than we publish.", field="newsletters")
    found = {n.slug: n for n in public_newsletters() if n.slug in wanted}
    if len(found) != len(wanted):
        raise UnknownNewsletter()
    return [found[slug] for slug in wanted]


def has_control_characters(text: str) -> bool:
    """True for line breaks, tabs and other invisible controls: never wanted in a name."""
    return any(unicodedata.category(char).startswith("C") for char in text)


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


@atomic
def add_newsletter(
    slug: str,
    name: str,
    *,
    description: str = "",
    cadence: str = "weekly",
    send_day: str = "mon",
    send_hour: int = 8,
    feed_url: str | None = None,
    public: bool = True,
) -> Newsletter:
    """Create a newsletter; raise :class:`InvalidInput` for a bad or taken slug."""
    _check_fields(slug, name, send_day, send_hour)
    if cadence not in {c.value for c in Cadence}:
        raise InvalidInput(f"Unknown cadence {cadence!r}.", field="cadence")
    if db.session.scalar(select(Newsletter.id).where(Newsletter.slug == slug)):
        raise InvalidInput(f"A newsletter with the slug {slug!r} already exists.", field="slug")
    newsletter = Newsletter(
        slug=slug,
        name=name.strip(),
        description=description.strip(),
        cadence=Cadence(cadence),
        send_weekday=WEEKDAYS.index(send_day),
        send_hour=send_hour,
        feed_url=feed_url or None,
        is_public=public,
    )
    db.session.add(newsletter)
    return newsletter


@atomic
def add_demo_newsletters() -> int:
    """Add the demo newsletters when there are none at all; return how many were added."""
    if db.session.scalar(select(Newsletter.id).limit(1)) is not None:
        return 0
    db.session.add_all(Newsletter(**fields) for fields in DEMO_NEWSLETTERS)
    return len(DEMO_NEWSLETTERS)
