"""What Celery workers run for an issue: a worker's share of its batches, and the start
of an issue that "Send now" or "Resume" handed over; and how batches are handed out.

Each task claims batches until none is left (:mod:`batch_sender`), so handing out
more tasks than there are batches costs nothing but an empty claim.
"""

import math

from flask import current_app

from newsletters.extensions import db
from newsletters.models import Issue, IssueStatus
from newsletters.services.issues import batch_sender, deliveries, recovery
from newsletters.services.issues.deliveries import DeliveryReport

SEND_DIGEST_TASK = "newsletters.send_digest"
START_ISSUE_TASK = "newsletters.start_issue"
MAX_FAN_OUT = 256


def dispatch(issue: Issue, waiting: int) -> None:
    """One task per batch waiting (each task keeps claiming until none is left)."""
    if waiting <= 0:
        return
    batches = math.ceil(waiting / current_app.config["DIGEST_BATCH_SIZE"])
    celery = current_app.extensions["celery"]
    for _ in range(min(batches, MAX_FAN_OUT)):
        celery.send_task(SEND_DIGEST_TASK, args=[issue.id])


def send_issue_batches(issue_id: int) -> DeliveryReport:
    """A worker's share of an issue (the Celery task): claim and send until none is left."""
    issue = db.session.get(Issue, issue_id)
    if issue is None or issue.status != IssueStatus.SENDING:
        return DeliveryReport()
    # A batch a dead worker on this machine left behind is settled from its journal first.
    recovery.recover_abandoned_claims(issue)
    report = batch_sender.Sender(issue).run()
    deliveries.finish_if_done(issue)  # the last worker out marks the issue sent
    return report


def start_issue(issue_id: int) -> None:
    """Make an issue's deliveries and hand its batches to Celery workers (the task behind
    "Send now" and "Resume"); the workers mark it sent when they are done."""
    issue = db.session.get(Issue, issue_id)
    if issue is None or issue.status != IssueStatus.SENDING:
        return
    deliveries.materialize(issue)
    deliveries.requeue_failed(issue)
    recovery.recover_abandoned_claims(issue)
    counts = deliveries.status_counts(issue)
    dispatch(issue, counts["pending"] + counts["sending"])
    deliveries.finish_if_done(issue)
