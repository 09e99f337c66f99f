"""Issues as the console sees them: the latest with their deliveries counted, and what an
editor may do about failures (give up on them, or try them again with the next run)."""

from sqlalchemy import select, update

from newsletters.errors import IssueStateConflict
from newsletters.extensions import db
from newsletters.models import Delivery, DeliveryStatus, Issue, IssueStatus
from newsletters.services.core import sql
from newsletters.services.core.transactions import atomic
from newsletters.services.issues import completion, delivery_tally


def issue_by_uuid(public_id: str) -> Issue:
    """An issue by its public id, or :class:`NotFound`."""
    return sql.by_public_id(Issue, public_id, "There is no such issue.")


def issues_overview(limit: int = 20) -> list[tuple[Issue, dict[str, int]]]:
    """The latest issues with their deliveries by status (pruned ones included): three queries,
    whatever the size."""
    issues = list(db.session.scalars(select(Issue).order_by(Issue.id.desc()).limit(limit)))
    counts = delivery_tally.status_counts([d.id for d in issues])
    return [(d, counts[d.id]) for d in issues]


@atomic
def cancel_failures(public_id: str) -> int:
    """Give up on an issue's failed deliveries; the issue is then complete."""
    issue = issue_by_uuid(public_id)
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.issue_id == issue.id, Delivery.status == DeliveryStatus.FAILED)
        .values(status=DeliveryStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    if issue.status == IssueStatus.SENDING and issue.materialized_at is not None:
        completion.mark_sent(issue)
    return result.rowcount


@atomic
def resend_failures(public_id: str) -> int:
    """Put an issue's failed deliveries back in line, with fresh attempts, for the next run.

    Not for a cancelled issue: nobody still waiting gets one of those, ever.
    """
    issue = issue_by_uuid(public_id)
    if issue.status == IssueStatus.CANCELLED:
        raise IssueStateConflict("This issue was cancelled; nothing more is sent.")
    result = db.session.execute(
        update(Delivery)
        .where(
            Delivery.issue_id == issue.id,
            Delivery.status.in_([DeliveryStatus.FAILED, DeliveryStatus.CANCELLED]),
        )
        .values(status=DeliveryStatus.PENDING, attempts=0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount and issue.status == IssueStatus.SENT:
        issue.status, issue.completed_at = IssueStatus.SENDING, None
    return result.rowcount
