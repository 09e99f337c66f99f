"""A newsletter's clock moved day by day: stories published, real sends run, and what
each reader received, read back from the SMTP server's messages."""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Story, Subscriber, Subscription
from newsletters.services.issues import runs
from newsletters.services.mail.links import preferences_url
from newsletters.services.readers import preferences
from newsletters.services.readers.history import Origin

ZONE = ZoneInfo("Europe/Berlin")
TITLE = re.compile(r"^\d+\. (Story [^\r\n]+)", re.MULTILINE)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A wall-clock moment in Berlin, in UTC."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=ZONE).astimezone(UTC)


def add_paper(app, frequencies: str, weekday: int = 0) -> int:
    """A newsletter offering ``frequencies``, sending at 8:00, made long before the test."""
    with app.app_context():
        paper = Newsletter(
            slug="paper",
            name="The Paper",
            send_weekday=weekday,
            send_hour=8,
            frequencies=frequencies,
            created_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        db.session.add(paper)
        db.session.commit()
        return paper.id


def set_rhythm(app, address: str, frequency: str) -> None:
    """A reader who was on ``frequency`` from before the test began."""
    with app.app_context():
        subscription = db.session.scalar(
            select(Subscription).join(Subscriber).where(Subscriber.email == address)
        )
        subscription.frequency = frequency
        db.session.commit()


def choose(app, address: str, frequency: str, now: datetime) -> None:
    """The reader picks ``frequency`` on their preference page at ``now``."""
    with app.app_context(), app.test_request_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
        token = preferences_url(subscriber).rstrip("/").rsplit("/", 1)[-1]
        preferences.update_preferences(
            token, ["paper"], Origin(source="preferences"), {"paper": frequency}, now=now
        )


@dataclass
class Run:
    """What happened over the days: every story published, in order."""

    published: list[str] = field(default_factory=list)


def publish(app, newsletter_id: int, moment: datetime, run: Run) -> None:
    title = f"Story {moment.astimezone(ZONE):%Y-%m-%d %H:%M:%S}"
    with app.app_context():
        db.session.add(
            Story(
                newsletter_id=newsletter_id,
                title=title,
                url=f"https://news.example.com/{len(run.published)}",
                guid=f"story-{len(run.published)}",
                published_at=moment,
            )
        )
        db.session.commit()
    run.published.append(title)


def live_through(
    app, newsletter_id: int, start: date, end: date, switches: dict[date, list]
) -> Run:
    """Each day from ``start`` (a boundary of every rhythm at 8:00) to ``end`` (another):
    stories at 8:00:00 and just before (the edges of a daily period), at noon and in the
    evening; the real send at 8:30; readers' switches at 14:00. A last send on ``end``."""
    run = Run()
    day = start
    while day <= end:
        if day > start:
            publish(app, newsletter_id, at(day, 7, 59, 59), run)
        with app.app_context():
            runs.send_due_issues(now=at(day, 8, 30))
        if day == end:
            break
        publish(app, newsletter_id, at(day, 8), run)
        publish(app, newsletter_id, at(day, 12), run)
        for change in switches.get(day, []):
            if callable(change):  # something else that happens at 14:00
                change(at(day, 14))
            else:
                choose(app, *change, at(day, 14))
        publish(app, newsletter_id, at(day, 20), run)
        day += timedelta(days=1)
    return run


def received(smtp_server) -> dict[str, Counter]:
    """address -> how many times each story title reached it."""
    found: dict[str, Counter] = defaultdict(Counter)
    for message in smtp_server.messages:
        text = message.get_body(("plain",)).get_content()
        found[str(message["To"])].update(TITLE.findall(text))
    return found


def messages_to(smtp_server, address: str) -> int:
    return sum(1 for to in smtp_server.recipients if to == address)
