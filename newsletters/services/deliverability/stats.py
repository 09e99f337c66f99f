"""Bounce and complaint rates over a window: per issue, per newsletter, per recipient domain.

What is counted:

- **sent**: issue deliveries handed to the mail server inside the window
  (``sent_at`` in it, status ``sent``, or ``bounced`` by a report since).
  A refusal during the SMTP conversation itself never left, has no
  ``sent_at``, and is not in these figures. Transactional mail (confirmations,
  welcomes, links) is not either: it is small, goes mostly to addresses not
  yet confirmed, and its bounces are the typos double opt-in exists to catch.
- **hard**, **soft**, **complaints**: the messages sent in the window that a
  stored report (``bounce_report``) calls a hard bounce, a soft bounce or a
  complaint. A message is counted once per kind however many reports name it.
  Only reports tied to a delivery count; a report that named no message of
  ours (unmatched, or a provider's report found by address alone) is listed
  on the page but is in no rate.
- **bounce rate** = hard / sent (the usual industry figure; soft bounces are
  temporary and shown as a count; an address that keeps soft-bouncing is
  suppressed by the soft rule). **complaint rate** = complaints / sent.

Gmail and Yahoo ask bulk senders to keep the complaint rate below 0.1% and
never to reach 0.3%: a row is ``warning`` at or above 0.1%, ``danger`` at or
above 0.3%. A rate from a handful of messages is noise, so a row is only
*judged* (and only a judged row makes ``flask bounces stats`` fail) with at
least ``min_sent`` messages; its rate is shown either way.

Cost: two grouped queries over the window's deliveries (one per issue, one
per domain joined to the reader's address), and two over its reports. Only
issues not finished before the window began are read, through the
delivery's (issue, status) index.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import joinedload

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    Delivery,
    DeliveryStatus,
    Issue,
    Subscriber,
    utcnow,
)

WINDOW_DAYS = 30
# The complaint-rate lines, in complaints per 1,000 messages: 1 (warning) and 3 (danger).
WARNING_PER_THOUSAND, DANGER_PER_THOUSAND = 1, 3
WARNING_LINE, DANGER_LINE = WARNING_PER_THOUSAND / 1000, DANGER_PER_THOUSAND / 1000
# Below this many messages a rate is shown but not judged: 3 complaints in 1,000 is a line.
MIN_SENT = 1000
TOP_DOMAINS = 20
OK, WARNING, DANGER = "ok", "warning", "danger"
SENT_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.BOUNCED)


@dataclass(frozen=True)
class Rates:
    """One row: a group of messages and what became of them."""

    key: str  # the issue's uuid, the newsletter's slug, or the domain
    label: str
    sent: int
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    detail: str = ""  # the issue's subject
    min_sent: int = MIN_SENT

    @property
    def bounce_rate(self) -> float | None:
        """Hard bounces per message sent; None when nothing was sent."""
        return self.hard / self.sent if self.sent else None

    @property
    def complaint_rate(self) -> float | None:
        """Complaints per message sent; None when nothing was sent."""
        return self.complaints / self.sent if self.sent else None

    @property
    def level(self) -> str:
        """``ok``, ``warning`` (complaints at or above 0.1%) or ``danger`` (at or above 0.3%).

        Compared in whole numbers, so exactly 3 in 1,000 is ``danger``."""
        if not self.sent:
            return OK
        if self.complaints * 1000 >= DANGER_PER_THOUSAND * self.sent:
            return DANGER
        if self.complaints * 1000 >= WARNING_PER_THOUSAND * self.sent:
            return WARNING
        return OK

    @property
    def enough_volume(self) -> bool:
        """Whether enough messages were sent for the level to mean something."""
        return self.sent >= self.min_sent

    @property
    def judged_level(self) -> str:
        """The level when there is enough volume to judge, else ``ok``."""
        return self.level if self.enough_volume else OK

    @property
    def standing(self) -> str:
        """The level in words, for the page and the terminal (never colour alone)."""
        words = {
            OK: f"below {WARNING_LINE:.1%}",
            WARNING: f"at or above {WARNING_LINE:.1%}",
            DANGER: f"at or above {DANGER_LINE:.1%}",
        }[self.level]
        if not self.sent:
            return "nothing sent"
        return words if self.enough_volume else f"{words}, too few messages to judge"

    def plus(self, other: "Rates") -> "Rates":
        """The two groups together (they must not share a message)."""
        return Rates(
            self.key,
            self.label,
            self.sent + other.sent,
            self.hard + other.hard,
            self.soft + other.soft,
            self.complaints + other.complaints,
            self.detail,
            self.min_sent,
        )


@dataclass(frozen=True)
class Stats:
    """The rates of a window, as the page and ``flask bounces stats`` show them."""

    days: int
    since: datetime
    until: datetime
    min_sent: int
    total: Rates
    issues: list[Rates]
    newsletters: list[Rates]
    domains: list[Rates]  # the busiest, and any other judged above a line
    other_domains: Rates | None = None  # the rest, together
    domain_count: int = 0

    def above(self, level: str) -> list[tuple[str, Rates]]:
        """Every judged row at exactly this level, as (table, row): the total first."""
        rows = [("total", self.total)]
        rows += [("issue", r) for r in self.issues]
        rows += [("newsletter", r) for r in self.newsletters]
        rows += [("domain", r) for r in self.domains]
        return [(table, r) for table, r in rows if r.judged_level == level]


def domain_of(address):
    """SQL for the domain of an address column (addresses are stored with a single ``@``)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.split_part(address, "@", 2)
    return func.substr(address, func.instr(address, "@") + 1)


def _distinct_messages(kind: BounceKind):
    return func.count(func.distinct(case((BounceReport.kind == kind, Delivery.id))))


def _sent_in(since: datetime, until: datetime):
    """Deliveries sent in the window, read only from issues still sending when it began."""
    open_then = select(Issue.id).where(
        or_(Issue.completed_at.is_(None), Issue.completed_at >= since)
    )
    return (
        Delivery.issue_id.in_(open_then),
        Delivery.status.in_(SENT_STATUSES),
        Delivery.sent_at >= since,
        Delivery.sent_at <= until,
    )


def _reported(group, since: datetime, until: datetime) -> dict:
    """{group: (hard, soft, complaints)} over the reports of messages sent in the window."""
    rows = db.session.execute(
        select(
            group,
            _distinct_messages(BounceKind.HARD),
            _distinct_messages(BounceKind.SOFT),
            _distinct_messages(BounceKind.COMPLAINT),
        )
        .select_from(BounceReport)
        .join(Delivery, Delivery.id == BounceReport.delivery_id)
        .where(
            BounceReport.received_at >= since,
            BounceReport.received_at <= until,
            BounceReport.kind.in_([BounceKind.HARD, BounceKind.SOFT, BounceKind.COMPLAINT]),
            *_sent_in(since, until),
        )
        .group_by(group)
    )
    return {key: (hard, soft, complaints) for key, hard, soft, complaints in rows}


def issue_date(issue: Issue) -> str:
    """The date an issue is known by: the end of its week, e.g. "27 Nov 2026"."""
    return f"{issue.period_end.day} {issue.period_end:%b %Y}"


def _per_issue(since: datetime, until: datetime, min_sent: int) -> list[tuple[Issue, Rates]]:
    sent = dict(
        db.session.execute(
            select(Delivery.issue_id, func.count())
            .where(*_sent_in(since, until))
            .group_by(Delivery.issue_id)
        ).all()
    )
    reported = _reported(Delivery.issue_id, since, until)
    issues = db.session.scalars(
        select(Issue).options(joinedload(Issue.newsletter)).where(Issue.id.in_(sent))
    ).all()
    rows = []
    for issue in issues:
        label = f"{issue.newsletter.name}, {issue_date(issue)}"
        counts = reported.get(issue.id, (0, 0, 0))
        rates = Rates(
            str(issue.uuid), label, sent[issue.id], *counts, issue.subject or "", min_sent
        )
        rows.append((issue, rates))
    rows.sort(key=lambda pair: pair[0].period_end, reverse=True)
    return rows


def _per_newsletter(issue_rows: list[tuple[Issue, Rates]], min_sent: int) -> list[Rates]:
    """Each newsletter: the sum of its issues (a message belongs to one issue)."""
    sums: dict[int, Rates] = {}
    for issue, rates in issue_rows:
        start = sums.get(issue.newsletter_id) or Rates(
            issue.newsletter.slug, issue.newsletter.name, 0, min_sent=min_sent
        )
        sums[issue.newsletter_id] = start.plus(rates)
    return sorted(sums.values(), key=lambda r: (-r.sent, r.label))


def _per_domain(since: datetime, until: datetime, min_sent: int) -> list[Rates]:
    """Every domain, busiest first. Numerators use the report's domain, which outlives an
    erased reader: their messages leave the denominator, so the rate errs high, never low."""
    domain = domain_of(Subscriber.email).label("domain")
    sent = dict(
        db.session.execute(
            select(domain, func.count())
            .select_from(Delivery)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(*_sent_in(since, until))
            .group_by(domain)
        ).all()
    )
    reported = _reported(BounceReport.domain, since, until)
    names = set(sent) | {name for name in reported if name}
    rows = [
        Rates(name, name, sent.get(name, 0), *reported.get(name, (0, 0, 0)), min_sent=min_sent)
        for name in names
    ]
    return sorted(rows, key=lambda r: (-r.sent, r.key))


def window_stats(
    days: int = WINDOW_DAYS,
    now: datetime | None = None,
    min_sent: int = MIN_SENT,
    top_domains: int = TOP_DOMAINS,
) -> Stats:
    """The rates of the messages sent in the ``days`` days up to ``now`` (edges included)."""
    until = now or utcnow()
    since = until - timedelta(days=days)
    issue_rows = _per_issue(since, until, min_sent)
    total = Rates("all", "All issues", 0, min_sent=min_sent)
    for _, rates in issue_rows:
        total = total.plus(rates)
    domains = _per_domain(since, until, min_sent)
    shown: list[Rates] = []
    rest: list[Rates] = []
    for n, rates in enumerate(domains):
        (shown if n < top_domains or rates.judged_level != OK else rest).append(rates)
    other = None
    if rest:
        other = Rates("other", f"{len(rest)} other domains", 0, min_sent=min_sent)
        for rates in rest:
            other = other.plus(rates)
    return Stats(
        days=days,
        since=since,
        until=until,
        min_sent=min_sent,
        total=total,
        issues=[rates for _, rates in issue_rows],
        newsletters=_per_newsletter(issue_rows, min_sent),
        domains=shown,
        other_domains=other,
        domain_count=len(domains),
    )
