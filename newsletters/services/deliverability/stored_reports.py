"""The stored reports themselves: the latest, to read, and pruning the old ones.

Raw reports (and the addresses in them) are kept ``BOUNCE_REPORT_RETENTION_DAYS``
days, then deleted. Never sooner than ``BOUNCE_SOFT_WINDOW_DAYS``, though: the
soft-bounce rule counts an address's reports over that window, so deleting them
earlier would let an address that keeps soft-bouncing escape suppression.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from flask import current_app
from sqlalchemy import delete, select

from newsletters.extensions import db
from newsletters.models import BounceReport, Issue, Newsletter, Subscriber, utcnow
from newsletters.services.deliverability.stats import issue_date

PRUNE_CHUNK = 5000
LATEST = 25


@dataclass(frozen=True)
class ReportLine:
    """One report as the console lists it."""

    report: BounceReport
    reader: UUID | None  # the reader's public id, for a link to their page
    issue: str | None  # "The Weekly, 23 Nov 2026", when the report named an issue


def latest(limit: int = LATEST) -> list[ReportLine]:
    """The newest reports of every kind, matched or not, with their reader and issue."""
    rows = db.session.execute(
        select(BounceReport, Subscriber.uuid, Newsletter.name, Issue)
        .outerjoin(Subscriber, Subscriber.id == BounceReport.subscriber_id)
        .outerjoin(Issue, Issue.id == BounceReport.issue_id)
        .outerjoin(Newsletter, Newsletter.id == Issue.newsletter_id)
        .order_by(BounceReport.received_at.desc(), BounceReport.id.desc())
        .limit(limit)
    ).all()
    return [
        ReportLine(report, reader, f"{name}, {issue_date(issue)}" if issue else None)
        for report, reader, name, issue in rows
    ]


def kept_days() -> int:
    """How many days reports are kept: the retention, but never less than the soft window."""
    config = current_app.config
    return max(config["BOUNCE_REPORT_RETENTION_DAYS"], config["BOUNCE_SOFT_WINDOW_DAYS"])


@dataclass(frozen=True)
class Pruned:
    """What a prune deleted."""

    deleted: int
    chunks: int  # statements that deleted something, each committed on its own
    kept_days: int
    cutoff: datetime

    def summary(self) -> str:
        """One line for cron and the worker's log."""
        return (
            f"deleted {self.deleted:,} bounce reports received before "
            f"{self.cutoff:%Y-%m-%d %H:%M} UTC (kept {self.kept_days} days)"
        )


def prune(now: datetime | None = None, chunk: int = PRUNE_CHUNK) -> Pruned:
    """Delete the reports older than :func:`kept_days`, ``chunk`` rows per committed statement,
    so a large backlog never holds one long transaction or lock."""
    days = kept_days()
    cutoff = (now or utcnow()) - timedelta(days=days)
    deleted = chunks = 0
    while True:
        oldest = (
            select(BounceReport.id)
            .where(BounceReport.received_at < cutoff)
            .order_by(BounceReport.id)
            .limit(chunk)
        )
        result = db.session.execute(
            delete(BounceReport)
            .where(BounceReport.id.in_(oldest.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if not result.rowcount:
            break
        deleted += result.rowcount
        chunks += 1
        if result.rowcount < chunk:
            break
    return Pruned(deleted, chunks, days, cutoff)
