"""Demo content for an empty development database: enough to watch a whole issue go out.

The demo newsletters, a few stories each published during the running period
(so ``flask digest send --force`` has something to send), and a few readers
already subscribed to them, recorded as an attested import with a note saying
they are demo readers. Nothing is added to a database that has newsletters.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, utcnow
from newsletters.services import catalogue
from newsletters.services.core.transactions import atomic
from newsletters.services.issues import schedule, stories
from newsletters.services.readers.history import Origin
from newsletters.services.readers.signup import import_subscription

DEMO_CONSENT_NOTE = "demo reader: invented by `flask newsletter demo`, not a real person"
DEMO_ORIGIN = Origin(source="demo", user_agent="flask newsletter demo")

# (title, path on example.com, summary) for each demo newsletter.
DEMO_STORIES: dict[str, list[tuple[str, str, str]]] = {
    "the-weekly": [
        (
            "City council approves the riverside housing plan",
            "city/riverside-housing-vote",
            "After two years of hearings, 1,200 new homes get the go-ahead. "
            "What changes for the neighbourhood, and when building starts.",
        ),
        (
            "Inside the rail strike talks",
            "transport/rail-strike-talks",
            "Both sides say a deal is close. Here is what is still on the table.",
        ),
        (
            "The library that never closes",
            "culture/24-hour-library",
            "A small town tried keeping its library open around the clock. "
            "A year on, the night shift has regulars.",
        ),
    ],
    "ai-digest": [
        (
            "Open models close the gap on reasoning benchmarks",
            "ai/open-models-reasoning",
            "Three releases this week score within a few points of the best closed "
            "systems. What the benchmarks do and do not measure.",
        ),
        (
            "Hospitals test speech recognition for clinical notes",
            "ai/clinical-notes-pilot",
            "A pilot in four hospitals cut note-taking time by a third; doctors "
            "still check every line.",
        ),
        (
            "What the new transparency rules ask of model makers",
            "ai/transparency-rules-explained",
            "Training-data summaries, incident reports and labels: a plain guide "
            "to the obligations that start next year.",
        ),
    ],
    "climate-report": [
        (
            "Heat pumps outsell gas boilers for the first time",
            "climate/heat-pump-sales",
            "Installers report waiting lists into spring as prices fall and grants rise.",
        ),
        (
            "The glacier that moved a border",
            "climate/glacier-border",
            "As the ice retreats, two countries renegotiate a line drawn on a watershed.",
        ),
        (
            "Farmers bet on drought-tolerant wheat",
            "climate/drought-tolerant-wheat",
            "New varieties held their yield through a dry summer. Seed is now scarce.",
        ),
    ],
    "morning-briefing": [
        (
            "Markets open higher after the rate decision",
            "briefing/markets-rate-decision",
            "The central bank held rates steady and signalled cuts later in the year.",
        ),
        (
            "Storm warnings along the east coast",
            "briefing/storm-warnings",
            "Gusts of up to 90 km/h are expected overnight; ferries are cancelled.",
        ),
        (
            "A record year for the city marathon",
            "briefing/marathon-record",
            "More than 40,000 runners crossed the finish line, and the course record fell.",
        ),
    ],
}

# Every demo newsletter has at least one reader, so every one of them sends an issue.
DEMO_READERS: list[tuple[str, list[str]]] = [
    ("ada.reader@example.com", ["the-weekly", "ai-digest", "climate-report", "morning-briefing"]),
    ("grace.reader@example.org", ["the-weekly", "ai-digest"]),
    ("wangari.reader@example.com", ["climate-report", "morning-briefing"]),
]


@dataclass(frozen=True)
class DemoContent:
    """How much demo content was added (all zero when the database had newsletters)."""

    newsletters: int = 0
    stories: int = 0
    readers: int = 0


def _published_times(newsletter: Newsletter, count: int, now: datetime) -> list[datetime]:
    """``count`` moments, newest first, between the start of the running period and now."""
    start = schedule.current_period(newsletter, now).start
    return [now - (now - start) * (n + 1) / (count + 1) for n in range(count)]


def _add_stories(newsletter: Newsletter, now: datetime) -> int:
    """The newsletter's demo stories, published during its running period."""
    items = DEMO_STORIES.get(newsletter.slug, [])
    for (title, path, summary), when in zip(
        items, _published_times(newsletter, len(items), now), strict=True
    ):
        stories.add_story(
            newsletter.slug,
            stories.StoryInput(
                title=title, url=f"https://example.com/{path}", summary=summary, published_at=when
            ),
            source="demo",
        )
    return len(items)


@atomic
def add_demo_content() -> DemoContent:
    """Add the demo newsletters, stories and readers to a database without newsletters."""
    added = catalogue.add_demo_newsletters()
    if not added:
        return DemoContent()
    db.session.flush()
    now = utcnow()
    by_slug = {n.slug: n for n in db.session.scalars(select(Newsletter))}
    story_count = sum(_add_stories(newsletter, now) for newsletter in by_slug.values())
    for address, slugs in DEMO_READERS:
        chosen = [by_slug[slug] for slug in slugs]
        import_subscription(address, chosen, DEMO_ORIGIN, consent_note=DEMO_CONSENT_NOTE)
    return DemoContent(newsletters=added, stories=story_count, readers=len(DEMO_READERS))
