"""Reading the counts back: one issue's totals and links, and the audience over time.

Everything here is a total for an issue or a link; there is nothing finer to read.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select

from newsletters.extensions import db
from newsletters.models import Issue, IssueLink, IssueStatus, Newsletter


@dataclass(frozen=True)
class LinkTotal:
    """One story link of an issue, with its clicks."""

    position: int
    url: str
    clicks: int
    machine_clicks: int


@dataclass(frozen=True)
class IssueTotals:
    """What was counted for one issue: only what was on when it was rendered."""

    clicks_on: bool
    opens_on: bool
    opens: int = 0
    machine_opens: int = 0
    links: list[LinkTotal] = field(default_factory=list)

    @property
    def counted(self) -> bool:
        """Whether this issue counted anything at all."""
        return self.clicks_on or self.opens_on

    @property
    def clicks(self) -> int:
        """People's clicks on every link of the issue."""
        return sum(link.clicks for link in self.links)

    @property
    def machine_clicks(self) -> int:
        """Scanners' and proxies' clicks on every link of the issue."""
        return sum(link.machine_clicks for link in self.links)


def issue_totals(issue: Issue) -> IssueTotals:
    """The issue's opens and its links' clicks (nothing when it counted nothing)."""
    if not (issue.track_clicks or issue.track_opens):
        return IssueTotals(False, False)
    rows = db.session.execute(
        select(IssueLink.position, IssueLink.url, IssueLink.clicks, IssueLink.machine_clicks)
        .where(IssueLink.issue_id == issue.id)
        .order_by(IssueLink.position)
    ).all()
    return IssueTotals(
        issue.track_clicks,
        issue.track_opens,
        issue.opens,
        issue.machine_opens,
        [LinkTotal(*row) for row in rows],
    )


@dataclass(frozen=True)
class AudiencePoint:
    """One sent issue that counted: when it went, and its people's opens and clicks."""

    sent_at: datetime
    newsletter: str
    frequency: str
    opens: int | None  # None: the issue did not count opens
    clicks: int | None  # None: it did not count clicks


def audience_over_time(limit: int = 20) -> list[AudiencePoint]:
    """The last ``limit`` issues that went out counting something, oldest first."""
    clicks = (
        select(func.coalesce(func.sum(IssueLink.clicks), 0))
        .where(IssueLink.issue_id == Issue.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            Issue.rendered_at,
            Newsletter.name,
            Issue.frequency,
            Issue.track_opens,
            Issue.opens,
            Issue.track_clicks,
            clicks,
        )
        .join(Newsletter, Newsletter.id == Issue.newsletter_id)
        .where(
            Issue.status.in_((IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT)),
            Issue.rendered_at.is_not(None),
            or_(Issue.track_opens, Issue.track_clicks),
        )
        .order_by(Issue.rendered_at.desc(), Issue.id.desc())
        .limit(limit)
    ).all()
    return [
        AudiencePoint(sent, name, frequency, opens if o_on else None, total if c_on else None)
        for sent, name, frequency, o_on, opens, c_on, total in reversed(rows)
    ]
