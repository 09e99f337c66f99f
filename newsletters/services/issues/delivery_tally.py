"""The one home for counting an issue's deliveries: the live rows plus the folded counts of
the rows ``flask deliveries prune`` deleted (see :mod:`retention`).

Only finished issues (sent or cancelled) ever have folded counts, and only their settled
rows are folded, so nothing waiting (pending, sending, a failure still to be retried) is
ever in them: what the senders decide from these counts is what the live rows say.
"""

from dataclasses import dataclass

from sqlalchemy import case, func, select

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    Delivery,
    DeliveryStatus,
    IssueDeliveryCount,
)


@dataclass
class StatusTally:
    """The deliveries of one issue in one status."""

    deliveries: int = 0
    handed_over: int = 0  # with a sent_at: given to the mail server
    complained: int = 0  # named by a complaint report

    def add(self, deliveries: int, handed_over: int, complained: int) -> None:
        """Count more rows in."""
        self.deliveries += deliveries
        self.handed_over += handed_over
        self.complained += complained


Tally = dict[DeliveryStatus, StatusTally]


def _empty() -> Tally:
    return {status: StatusTally() for status in DeliveryStatus}


def status_counts(issue_ids: list[int]) -> dict[int, dict[str, int]]:
    """{issue id: {status: deliveries}}, every status named: live rows plus folded counts."""
    names = [status.value for status in DeliveryStatus]
    found = {issue_id: dict.fromkeys(names, 0) for issue_id in issue_ids}
    if not issue_ids:
        return found
    live = db.session.execute(
        select(Delivery.issue_id, Delivery.status, func.count())
        .where(Delivery.issue_id.in_(issue_ids))
        .group_by(Delivery.issue_id, Delivery.status)
    )
    folded_count = IssueDeliveryCount
    folded = db.session.execute(
        select(folded_count.issue_id, folded_count.status, folded_count.deliveries).where(
            folded_count.issue_id.in_(issue_ids)
        )
    )
    for rows in (live, folded):
        for issue_id, status, count in rows:
            found[issue_id][status.value] += count
    return found


def _number(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def live_tallies(where) -> dict[int, Tally]:
    """{issue id: tally} of the live deliveries matching ``where`` (SQL conditions)."""
    found: dict[int, Tally] = {}
    rows = db.session.execute(
        select(
            Delivery.issue_id,
            Delivery.status,
            func.count(),
            _number(Delivery.sent_at.is_not(None)),
        )
        .where(*where)
        .group_by(Delivery.issue_id, Delivery.status)
    )
    for issue_id, status, count, handed_over in rows:
        found.setdefault(issue_id, _empty())[status].add(count, handed_over, 0)
    complaints = db.session.execute(
        select(Delivery.issue_id, Delivery.status, func.count(func.distinct(Delivery.id)))
        .join(BounceReport, BounceReport.delivery_id == Delivery.id)
        .where(*where, BounceReport.kind == BounceKind.COMPLAINT)
        .group_by(Delivery.issue_id, Delivery.status)
    )
    for issue_id, status, complained in complaints:
        found.setdefault(issue_id, _empty())[status].add(0, 0, complained)
    return found


def tallies(issue_ids: list[int]) -> dict[int, Tally]:
    """{issue id: tally by status} of every issue named: live rows plus folded counts."""
    found = {issue_id: _empty() for issue_id in issue_ids}
    if not issue_ids:
        return found
    for issue_id, tally in live_tallies([Delivery.issue_id.in_(issue_ids)]).items():
        for status, counted in tally.items():
            found[issue_id][status].add(counted.deliveries, counted.handed_over, counted.complained)
    folded = db.session.scalars(
        select(IssueDeliveryCount).where(IssueDeliveryCount.issue_id.in_(issue_ids))
    )
    for row in folded:
        found[row.issue_id][row.status].add(row.deliveries, row.handed_over, row.complained)
    return found
