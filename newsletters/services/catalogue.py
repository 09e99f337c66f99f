"""Newsletters: which exist, which a reader may pick, and the rules of a subject line.

Adding and changing one is :mod:`.newsletter_settings`."""

import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select

from newsletters.errors import InvalidInput, NoNewsletterChosen, NotFound, UnknownNewsletter
from newsletters.extensions import db
from newsletters.locales import N_
from newsletters.models import Newsletter
from newsletters.services.core import sql
from newsletters.services.core.transactions import atomic
from newsletters.services.rhythm.choice import default_frequency, offered
from newsletters.services.rhythm.periods import Frequency

MAX_CHOICES = 100
# A signup naming more newsletters than exist: a reader may see it, so it is translated.
TOO_MANY = N_("That is more newsletters than we publish.")
SUBJECT_FIELDS = {"name", "date", "site"}
MAX_SUBJECT_TEMPLATE = 200  # what a newsletter's subject_template column holds

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


# Built once: the signup form asks for its newsletters on every signup.
PUBLIC = (
    select(Newsletter)
    .where(Newsletter.is_public.is_(True), Newsletter.in_service)
    .order_by(Newsletter.name)
)
PUBLIC_BY_SLUG = PUBLIC.where(Newsletter.slug.in_(bindparam("slugs", expanding=True)))


def public_newsletters() -> list[Newsletter]:
    """Every newsletter open for signup, in display order."""
    return list(db.session.scalars(PUBLIC))


def newsletters_for_signup(slugs: Iterable[str]) -> list[Newsletter]:
    """Resolve the slugs a reader ticked, refusing unknown, private or archived ones."""
    wanted = list(dict.fromkeys(s.strip() for s in slugs if s and s.strip()))
    if not wanted:
        raise NoNewsletterChosen()
    if len(wanted) > MAX_CHOICES:
        raise InvalidInput(TOO_MANY, field="newsletters")
    found = {n.slug: n for n in db.session.scalars(PUBLIC_BY_SLUG, {"slugs": wanted})}
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


@atomic
def add_demo_newsletters() -> int:
    """Add the demo newsletters when there are none at all; return how many were added."""
    if db.session.scalar(select(Newsletter.id).limit(1)) is not None:
        return 0
    db.session.add_all(Newsletter(**fields) for fields in DEMO_NEWSLETTERS)
    return len(DEMO_NEWSLETTERS)


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
