"""The numbers on the admin dashboard: a few grouped queries, whatever the list sizes."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import (
    Event,
    EventKind,
    Newsletter,
    Subscription,
    SubscriptionStatus,
    utcnow,
)

SERIES = {
    "signups": EventKind.SIGNUP_REQUESTED,
    "confirmations": EventKind.CONFIRMED,
    "unsubscribes": EventKind.UNSUBSCRIBED,
}


@dataclass(frozen=True)
class NewsletterCounts:
    """One newsletter's readers by standing."""

    newsletter: Newsletter
    active: int
    pending: int
    unsubscribed: int


@dataclass(frozen=True)
class Activity:
    """Daily counts of signups, confirmations and unsubscribes."""

    days: list[date]
    series: dict[str, list[int]]

    def total(self, name: str) -> int:
        """The sum of one series over the whole period."""
        return sum(self.series[name])

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmations per signup request over the period (None before any signup)."""
        signups = self.total("signups")
        return self.total("confirmations") / signups if signups else None


def subscription_counts() -> list[NewsletterCounts]:
    """Every newsletter with its active, pending and unsubscribed readers."""
    rows = db.session.execute(
        select(Subscription.newsletter_id, Subscription.status, func.count()).group_by(
            Subscription.newsletter_id, Subscription.status
        )
    ).all()
    counts: dict[int, dict[SubscriptionStatus, int]] = {}
    for newsletter_id, status, count in rows:
        counts.setdefault(newsletter_id, {})[status] = count
    newsletters = db.session.scalars(
        select(Newsletter).order_by(Newsletter.is_archived, Newsletter.name)
    )
    return [
        NewsletterCounts(
            n,
            counts.get(n.id, {}).get(SubscriptionStatus.ACTIVE, 0),
            counts.get(n.id, {}).get(SubscriptionStatus.PENDING, 0),
            counts.get(n.id, {}).get(SubscriptionStatus.UNSUBSCRIBED, 0),
        )
        for n in newsletters
    ]


def activity(days: int = 90, now: datetime | None = None) -> Activity:
    """Signups, confirmations and unsubscribes per day (UTC) over the last ``days`` days."""
    today = (now or utcnow()).date()
    first = today - timedelta(days=days - 1)
    day = func.date(Event.created_at)
    rows = db.session.execute(
        select(day, Event.kind, func.count())
        .where(
            Event.created_at
            >= datetime.combine(first, datetime.min.time(), tzinfo=(now or utcnow()).tzinfo),
            Event.kind.in_(list(SERIES.values())),
        )
        .group_by(day, Event.kind)
    ).all()
    calendar = [first + timedelta(days=n) for n in range(days)]
    index = {d: n for n, d in enumerate(calendar)}
    series = {name: [0] * days for name in SERIES}
    names = {kind: name for name, kind in SERIES.items()}
    for when, kind, count in rows:
        position = index.get(when if isinstance(when, date) else date.fromisoformat(str(when)))
        if position is not None:
            series[names[kind]][position] += count
    return Activity(calendar, series)
