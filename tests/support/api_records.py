"""Readers and sent issues for the API tests: a small publisher with a known history."""

import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueLink,
    IssueStatus,
    Newsletter,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    utcnow,
)

ANN = "ann@example.com"  # confirmed, gets the-weekly; left climate-report
BEN = "ben@example.com"  # never confirmed; asked for the-weekly
WEEKLY, DAILY, CLIMATE = "the-weekly", "ai-digest", "climate-report"
INSIDERS, OLD = "insiders", "old-times"  # private; archived
PREFIX = "/api/v1"
STORY_URL = "https://news.example.com/the-river"
# HEAD and OPTIONS come with every route from Flask itself (and CORS), not from a view.
IMPLICIT = {"HEAD", "OPTIONS"}
ALL_SCOPES = "stories:write,subscribers:read,subscribers:write,webhooks:write"


@dataclass
class Seeded:
    """What :func:`seed` made, by public id."""

    issue_ids: list[str]  # newest first


def _newsletters() -> dict[str, Newsletter]:
    made = {
        WEEKLY: Newsletter(slug=WEEKLY, name="The Weekly", frequencies="weekly,monthly"),
        DAILY: Newsletter(slug=DAILY, name="AI Digest", frequencies="daily,weekly"),
        CLIMATE: Newsletter(slug=CLIMATE, name="Climate Report"),
        INSIDERS: Newsletter(slug=INSIDERS, name="Insiders", is_public=False),
        OLD: Newsletter(slug=OLD, name="Old Times", is_archived=True),
    }
    for newsletter in made.values():
        newsletter.created_at = utcnow() - timedelta(days=60)
    db.session.add_all(made.values())
    return made


def _reader(email, status, subscriptions: dict[Newsletter, SubscriptionStatus]) -> Subscriber:
    now = utcnow()
    confirmed = status == SubscriberStatus.CONFIRMED
    reader = Subscriber(email=email, status=status, confirmed_at=now if confirmed else None)
    for newsletter, state in subscriptions.items():
        reader.subscriptions.append(
            Subscription(
                newsletter=newsletter,
                status=state,
                confirmed_at=now if state != SubscriptionStatus.PENDING else None,
                unsubscribed_at=now if state == SubscriptionStatus.UNSUBSCRIBED else None,
            )
        )
    db.session.add(reader)
    return reader


def _issue(newsletter: Newsletter, weeks_ago: int, status: IssueStatus, **fields) -> Issue:
    end = utcnow().replace(microsecond=0) - timedelta(weeks=weeks_ago)
    issue = Issue(
        newsletter=newsletter,
        frequency="weekly",
        period_start=end - timedelta(weeks=1),
        period_end=end,
        status=status,
        subject=f"{newsletter.name}, {weeks_ago} weeks ago",
        story_ids=[],
        **fields,
    )
    db.session.add(issue)
    return issue


def seed(app) -> Seeded:
    """Five newsletters, Ann and Ben, and four issues: two sent, one sending, one draft.

    The newest sent issue went to three readers: one delivery sent, one sent and then
    bounced, one failed; and a complaint names the sent one. The older one counted opens
    and clicks: 5 opens and 7 by machines, 3 + 2 clicks and 1 by a machine.
    """
    with app.app_context():
        n = _newsletters()
        ann = _reader(
            ANN,
            SubscriberStatus.CONFIRMED,
            {n[WEEKLY]: SubscriptionStatus.ACTIVE, n[CLIMATE]: SubscriptionStatus.UNSUBSCRIBED},
        )
        ben = _reader(BEN, SubscriberStatus.PENDING, {n[WEEKLY]: SubscriptionStatus.PENDING})
        cat = _reader("cat@example.com", SubscriberStatus.CONFIRMED, {})
        now = utcnow()
        newest = _issue(n[WEEKLY], 1, IssueStatus.SENT, rendered_at=now - timedelta(days=6))
        newest.completed_at = now - timedelta(days=6)
        older = _issue(
            n[WEEKLY],
            2,
            IssueStatus.SENT,
            rendered_at=now - timedelta(days=13),
            track_opens=True,
            track_clicks=True,
            opens=5,
            machine_opens=7,
        )
        sending = _issue(n[DAILY], 0, IssueStatus.SENDING, rendered_at=now - timedelta(hours=1))
        _issue(n[WEEKLY], 0, IssueStatus.DRAFT)
        db.session.flush()
        db.session.add_all(
            [
                IssueLink(issue_id=older.id, position=1, url=STORY_URL, clicks=3, machine_clicks=1),
                IssueLink(issue_id=older.id, position=2, url=STORY_URL, clicks=2),
            ]
        )
        sent_at = now - timedelta(days=6)
        ok = Delivery(issue_id=newest.id, subscriber_id=ann.id, status=DeliveryStatus.SENT)
        ok.sent_at = sent_at
        bounced = Delivery(issue_id=newest.id, subscriber_id=cat.id, sent_at=sent_at)
        bounced.status = DeliveryStatus.BOUNCED
        failed = Delivery(issue_id=newest.id, subscriber_id=ben.id, status=DeliveryStatus.FAILED)
        db.session.add_all([ok, bounced, failed])
        db.session.flush()
        for key in ("first", "again"):  # one message reported twice counts once
            db.session.add(
                BounceReport(
                    source="mailbox",
                    event_key=f"complaint-{key}",
                    kind=BounceKind.COMPLAINT,
                    outcome="unsubscribed",
                    subscriber_id=ann.id,
                    issue_id=newest.id,
                    delivery_id=ok.id,
                )
            )
        db.session.commit()
        return Seeded([str(sending.uuid), str(newest.uuid), str(older.uuid)])


def make_token(runner, name: str, scopes: str = ALL_SCOPES) -> str:
    """A new secret token with these scopes, made as an operator would."""
    result = runner.invoke(args=["admin", "token", name, "--scopes", scopes])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def reader_row(app, email: str) -> Subscriber | None:
    """The reader with this address, detached, or None."""
    with app.app_context():
        reader = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
        if reader is not None:
            _ = [(s.newsletter.slug, s.status) for s in reader.subscriptions]
            db.session.expunge_all()
        return reader


def new_id() -> str:
    """A public id nobody has."""
    return str(uuid4())


def api_routes(app) -> dict[str, set[str]]:
    """Every path under /api/v1 as OpenAPI writes it (``{email}``), with its methods."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX) :])
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - IMPLICIT)
    return routes
