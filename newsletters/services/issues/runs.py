"""What cron runs: send every due issue, then finish any issue a previous run left.

The CLI and the Celery tasks call these; the rules they apply live in
:mod:`digests` (what is due, rendered once) and :mod:`deliveries` (exactly once).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Issue, IssueStatus, utcnow
from newsletters.services.issues import batch_sender, compose, deliveries, recovery, workers
from newsletters.services.issues.deliveries import DeliveryReport
from newsletters.services.issues.lineup import lineup
from newsletters.services.issues.schedule import Period

WAIT_POLL_SECONDS = 0.5
# Counting a very large issue's deliveries takes a while: following it may cost the
# database at most this share of its time, so the poll slows down as counting does.
POLL_COST_SHARE = 0.05
RECOVER_EVERY_SECONDS = 2.0

# progress(digest, total) returns a callable taking how many more deliveries are done.
log = logging.getLogger(__name__)

ProgressFactory = Callable[[Issue, int], Callable[[int], None]]


@dataclass
class IssueRun:
    """What one run did for one newsletter."""

    newsletter: str  # its slug, or slug/frequency when it has more than one rhythm
    # sent, incomplete, paused, cancelled, empty, not due, scheduled, already sent,
    # no readers, would send, would resume
    outcome: str
    period: Period | None = None
    total: int = 0
    stories: int = 0
    report: DeliveryReport = field(default_factory=DeliveryReport)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Nothing failed in this run."""
        return self.report.ok

    def summary(self) -> str:
        """The one line cron mails."""
        period = ""
        if self.period:
            period = f" {self.period.start:%Y-%m-%d}..{self.period.end:%Y-%m-%d}"
        line = f"{self.newsletter}{period}: {self.outcome}"
        if self.outcome == "would send":
            return f"{line} {self.stories} stories to {self.total} readers"
        if self.outcome in ("sent", "incomplete", "paused", "cancelled"):
            r = self.report
            rate = r.sent / self.seconds if self.seconds > 0 else 0.0
            line += (
                f"; sent {r.sent}, failed {r.failed}, bounced {r.bounced}, suppressed "
                f"{r.suppressed}, skipped {r.skipped} of {self.total} in {self.seconds:.1f}s "
                f"({rate:.0f}/s)"
            )
        return line + (f"; stopped: {self.report.error}" if self.report.error else "")


def _period(issue: Issue) -> Period:
    return Period(issue.period_start, issue.period_end)


def _name(issue: Issue) -> str:
    return compose.label(issue.newsletter, issue.frequency)


def _decisions(slug: str | None, now: datetime, force: bool, decide) -> list[compose.Decision]:
    """One decision per newsletter and rhythm: those it offers, and one it no longer
    offers while readers are still on it (they move off it at a shared boundary)."""
    made = []
    for newsletter in compose.newsletters_for_sending(slug):
        for frequency in compose.frequencies_to_send(newsletter, now):
            made.append(decide(newsletter, now, frequency, force=force))
    return made


def plan_due_issues(slug: str | None, *, force: bool, now: datetime) -> list[IssueRun]:
    """What a run would do, without writing anything (``--dry-run``): the same decision."""
    plans = []
    for issue in compose.scheduled_due(slug, now):
        run = IssueRun(_name(issue), "would send", _period(issue))
        run.stories = len(lineup(issue.newsletter, issue, now))
        run.total = deliveries.recipient_count(
            issue.newsletter, issue.frequency, issue.period_start
        )
        plans.append(run)
    for decision in _decisions(slug, now, force, compose.decide):
        if decision.issue is not None and decision.issue.send_at is not None:
            if decision.action == "scheduled" and decision.issue.send_at <= now:
                continue  # already planned above
        newsletter = decision.newsletter
        run = IssueRun(
            compose.label(newsletter, decision.frequency), decision.action, decision.period
        )
        run.stories = len(decision.stories)
        if decision.action == "send":
            run.outcome = "would send"
            run.total = deliveries.recipient_count(
                newsletter, decision.frequency, decision.period.start
            )
        elif decision.action == "sending":
            run.outcome = "would resume"
        plans.append(run)
    return plans


def send_due_issues(
    slug: str | None = None,
    *,
    force: bool = False,
    executor: str = "inline",
    connections: int = 1,
    progress: ProgressFactory | None = None,
    now: datetime | None = None,
) -> list[IssueRun]:
    """Send every due issue, and finish every issue still being sent."""
    now = now or utcnow()
    runs = []
    compose.prepare_scheduled(slug, now)  # drafts whose editor-chosen time has come
    for decision in _decisions(slug, now, force, compose.prepare_issue):
        if decision.action not in ("send", "sending"):
            name = compose.label(decision.newsletter, decision.frequency)
            runs.append(IssueRun(name, decision.action, decision.period))
    for issue in compose.unfinished_issues(slug):
        runs.append(
            send_issue(issue, executor=executor, connections=connections, progress=progress)
        )
    return runs


def send_issue(
    issue: Issue,
    *,
    executor: str = "inline",
    connections: int = 1,
    progress: ProgressFactory | None = None,
) -> IssueRun:
    """Bring one issue as far as it can go: every reader sent, or failures noted for retry."""
    started = time.monotonic()
    deliveries.materialize(issue)
    deliveries.requeue_failed(issue)
    recovery.recover_abandoned_claims(issue)
    counts = deliveries.status_counts(issue)
    total = sum(counts.values())
    waiting = counts["pending"] + counts["sending"]
    advance = progress(issue, total) if progress else (lambda n: None)
    advance(total - waiting)
    if executor == "celery":
        report = _send_with_celery(issue, advance)
    else:
        report = _send_inline(issue, connections, advance)
    done = deliveries.finish_if_done(issue)
    db.session.refresh(issue)
    outcome = "sent" if done else "incomplete"
    if issue.status in (IssueStatus.PAUSED, IssueStatus.CANCELLED):
        outcome = issue.status.value
    return IssueRun(
        _name(issue),
        outcome,
        _period(issue),
        total=total,
        stories=len(issue.story_ids or []),
        report=report,
        seconds=time.monotonic() - started,
    )


def _send_inline(issue: Issue, connections: int, advance: Callable[[int], None]) -> DeliveryReport:
    if connections <= 1:
        return batch_sender.Sender(issue).run(advance)
    app = current_app._get_current_object()
    total, lock = DeliveryReport(), threading.Lock()

    def advance_safely(n: int) -> None:
        with lock:
            advance(n)

    def work() -> None:
        with app.app_context():
            try:
                report = batch_sender.Sender(db.session.get(Issue, issue.id)).run(advance_safely)
            finally:
                db.session.remove()
        with lock:
            total.add(report)

    threads = [threading.Thread(target=work, name=f"sender-{n}") for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total


def _send_with_celery(issue: Issue, advance: Callable[[int], None]) -> DeliveryReport:
    """Hand the batches to workers, then follow the issue until no delivery is waiting.

    A worker killed mid-batch leaves its claim behind, and its task is not
    handed to anyone else until the broker gives up on it. So while it waits,
    the run settles abandoned claims itself (from the dead worker's journal
    when it is on this machine) and hands the released deliveries out again.
    """
    counts = deliveries.status_counts(issue)
    workers.dispatch(issue, counts["pending"] + counts["sending"])
    start = previous = counts
    next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
    pause = WAIT_POLL_SECONDS
    while counts["pending"] + counts["sending"]:
        time.sleep(pause)
        db.session.expire_all()
        if time.monotonic() >= next_recovery:
            workers.dispatch(issue, recovery.recover_abandoned_claims(issue))
            next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
        counting = time.monotonic()
        counts = deliveries.status_counts(issue)
        pause = poll_pause(time.monotonic() - counting)
        advance(_settled(counts) - _settled(previous))
        previous = counts
        # Counted first: the workers may have finished (and marked the issue sent) while
        # this run slept, and what they sent belongs in its report.
        if _stopped(issue) and not counts["sending"]:
            break  # paused or cancelled, and every worker has given its batch back
    # What the workers did in this run, not what earlier runs had already settled.
    return DeliveryReport(
        **{name: counts[name] - start[name] for name in deliveries.OUTCOME_STATUS}
    )


def poll_pause(counting_seconds: float) -> float:
    """How long to wait before counting again, after a count that took this long."""
    return max(WAIT_POLL_SECONDS, counting_seconds / POLL_COST_SHARE)


def _stopped(issue: Issue) -> bool:
    status = db.session.scalar(select(Issue.status).where(Issue.id == issue.id))
    return status != IssueStatus.SENDING


def _settled(counts: dict[str, int]) -> int:
    return sum(counts.values()) - counts["pending"] - counts["sending"]


def send_in_background(issue: Issue) -> str:
    """Start sending an issue without waiting for it: on Celery workers when there is a
    broker, else on a thread of this process. Either way, if it stops halfway (a worker
    or this process dies), the next ``flask digest send`` finishes it, each reader once.

    Returns where it went: "celery" or "thread".
    """
    app = current_app._get_current_object()
    celery = app.extensions.get("celery")
    if app.config["CELERY_BROKER_URL"] and celery is not None:
        try:
            celery.send_task(workers.START_ISSUE_TASK, args=[issue.id])
            return "celery"
        except Exception:  # a broker outage must not stop the send: do it here
            log.warning("could not reach the Celery broker; sending issue %s here", issue.id)

    def work(issue_id: int) -> None:
        with app.app_context():
            try:
                send_issue(db.session.get(Issue, issue_id))
            except Exception:  # the next cron run finishes what this left
                log.exception("sending issue %s in the background stopped", issue_id)
            finally:
                db.session.remove()

    threading.Thread(target=work, args=(issue.id,), name=f"issue-{issue.id}", daemon=True).start()
    return "thread"
