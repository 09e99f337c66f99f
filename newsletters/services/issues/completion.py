"""An issue is sent: the one place its status becomes ``sent``, and what that tells others."""

from sqlalchemy import update

from newsletters.extensions import db
from newsletters.models import Issue, IssueStatus, utcnow
from newsletters.services.integrations import webhook_events
from newsletters.services.issues import delivery_tally


def mark_sent(issue: Issue) -> bool:
    """Mark a sending issue sent, in the caller's transaction; False if it was not sending.

    The conditional update makes two workers finishing at once mark it (and tell the
    webhooks) exactly once.
    """
    now = utcnow()
    result = db.session.execute(
        update(Issue)
        .where(Issue.id == issue.id, Issue.status == IssueStatus.SENDING)
        .values(status=IssueStatus.SENT, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.session.refresh(issue)
    webhook_events.issue_sent(issue, delivery_counts(issue))
    return True


def delivery_counts(issue: Issue) -> dict[str, int]:
    """Deliveries of an issue by status, every status named, pruned ones included."""
    return delivery_tally.status_counts([issue.id])[issue.id]
