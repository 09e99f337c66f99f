"""Send control: schedule an issue, send it now, pause, resume and cancel it.

The states (``IssueStatus``) and who moves an issue between them::

    draft ──schedule/unschedule──> draft (send_at set or cleared)
    draft ──send now, or its time comes (cron)──> sending ──all done──> sent
    sending ──pause──> paused ──resume──> sending
    draft | sending | paused ──cancel──> cancelled

Every move is one conditional UPDATE (``WHERE status = <expected>``), so two
editors, or an editor and cron, cannot both win. Senders look at their issue's
status between messages (:mod:`.batch_sender`): within a second of a pause or a
cancel every sender stops, records what it sent, and gives back what it had not
sent. Nothing is claimed from an issue that is not sending, so a paused issue
sends nothing until it is resumed, and a cancelled one nothing ever again.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select, update

from newsletters.errors import InvalidInput, IssueStateConflict
from newsletters.extensions import db
from newsletters.models import Delivery, DeliveryStatus, Issue, IssueStatus, Newsletter
from newsletters.services.catalogue import newsletter_by_slug
from newsletters.services.core.transactions import atomic
from newsletters.services.issues import compose, deliveries, lineup
from newsletters.services.issues.overview import issue_by_uuid
from newsletters.services.issues.schedule import zone

MAX_SCHEDULE_AHEAD = timedelta(days=366)
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


@dataclass(frozen=True)
class Progress:
    """How far an issue has gone, for the console's live view and the CLI."""

    status: str
    total: int
    sent: int
    waiting: int  # pending or being sent now
    failed: int
    not_sent: int  # bounced, suppressed, skipped or cancelled
    send_at: datetime | None

    @property
    def done(self) -> int:
        """Deliveries that have reached an outcome."""
        return self.total - self.waiting

    @property
    def percent(self) -> int:
        """How much of the issue is done, in whole percent (0 before it starts)."""
        return int(100 * self.done / self.total) if self.total else 0

    def as_dict(self) -> dict:
        """The JSON the console polls."""
        return {
            "status": self.status,
            "total": self.total,
            "sent": self.sent,
            "waiting": self.waiting,
            "failed": self.failed,
            "not_sent": self.not_sent,
            "done": self.done,
            "percent": self.percent,
            "send_at": self.send_at.isoformat() if self.send_at else None,
        }


def find_issue(reference: str) -> Issue:
    """An issue by its id, or by a newsletter's slug: its issue sending or paused, else
    its earliest draft (what an operator means in a hurry: ``flask digest pause weekly``).
    ``slug/daily`` means that rhythm's issue, as ``flask digest send`` names it."""
    try:
        UUID(reference)
    except ValueError:
        pass
    else:
        return issue_by_uuid(reference)
    slug, _, frequency = reference.partition("/")
    newsletter = newsletter_by_slug(slug)
    of_newsletter = Issue.newsletter_id == newsletter.id
    if frequency:
        of_newsletter &= Issue.frequency == compose.checked_frequency(newsletter, frequency)
    for statuses in ((IssueStatus.SENDING, IssueStatus.PAUSED), (IssueStatus.DRAFT,)):
        issue = db.session.scalar(
            select(Issue)
            .where(of_newsletter, Issue.status.in_(statuses))
            .order_by(Issue.period_start)
            .limit(1)
        )
        if issue is not None:
            return issue
    raise InvalidInput(f"{newsletter.name} has no issue being sent, paused or drafted.")


def _move(issue: Issue, expected: tuple[IssueStatus, ...], **values) -> None:
    """Move the issue out of one of ``expected``, or say why it cannot be moved."""
    result = db.session.execute(
        update(Issue)
        .where(Issue.id == issue.id, Issue.status.in_(expected))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(issue)
        raise IssueStateConflict(_cannot(issue))
    db.session.refresh(issue)


def _cannot(issue: Issue) -> str:
    return {
        IssueStatus.DRAFT: "This issue has not started sending.",
        IssueStatus.SENDING: "This issue is sending.",
        IssueStatus.PAUSED: "This issue is paused.",
        IssueStatus.SENT: "This issue has been sent.",
        IssueStatus.EMPTY: "This issue had no stories and was never sent.",
        IssueStatus.CANCELLED: "This issue was cancelled.",
    }[issue.status]


def parse_send_time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is on the newsletter's clock (``TIMEZONE``)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            "Give the time as ISO 8601, like 2026-12-07T08:00 or 2026-12-07T08:00+01:00.", "send_at"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone())
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput("That time is out of range.", "send_at") from exc


@atomic
def schedule(public_id: str, send_at: datetime, now: datetime) -> Issue:
    """Send the draft at ``send_at`` instead of its newsletter's slot."""
    issue = issue_by_uuid(public_id)
    if send_at <= now:
        raise InvalidInput("That time has passed. Choose a time in the future, or send now.")
    if send_at > now + MAX_SCHEDULE_AHEAD:
        raise InvalidInput("An issue can be scheduled at most a year ahead.", "send_at")
    if send_at <= issue.period_start:
        raise InvalidInput("That is before the issue's stories: choose a later time.", "send_at")
    _move(issue, (IssueStatus.DRAFT,), send_at=send_at)
    return issue


@atomic
def schedule_next(
    slug: str, send_at: datetime, now: datetime, frequency: str | None = None
) -> Issue:
    """Schedule a newsletter's next issue of a rhythm (``flask digest schedule SLUG --at
    ... [--frequency daily]``; without one, its first rhythm)."""
    newsletter = newsletter_by_slug(slug)
    if not newsletter.in_service:
        raise InvalidInput(f"{newsletter.name} is archived: it sends no issues.")
    frequency = compose.checked_frequency(newsletter, frequency)
    period = compose.next_period(newsletter, now, frequency)
    issue = compose.issue_for(newsletter, period, frequency)
    return schedule(str(issue.uuid), send_at, now)


@atomic
def unschedule(public_id: str) -> Issue:
    """Give the draft back to its newsletter's slot."""
    issue = issue_by_uuid(public_id)
    _move(issue, (IssueStatus.DRAFT,), send_at=None)
    return issue


@atomic
def send_now(public_id: str, now: datetime) -> Issue:
    """Render the draft as it stands and mark it sending; the caller then starts the
    senders (:func:`runs.send_in_background`), or the next cron run does."""
    issue = issue_by_uuid(public_id)
    if issue.status != IssueStatus.DRAFT:
        raise IssueStateConflict(_cannot(issue))
    newsletter: Newsletter = issue.newsletter
    if not newsletter.in_service:
        raise InvalidInput(f"{newsletter.name} is archived: it sends no issues.")
    stories = lineup.lineup(newsletter, issue, now)
    if not stories and not newsletter.send_when_empty:
        raise InvalidInput("This issue has no stories. Add or include one before sending it.")
    rendering = compose.sending_values(newsletter, issue, stories, now, issue.period_end > now)
    _move(issue, (IssueStatus.DRAFT,), send_at=now, **rendering.columns)
    rendering.save_rows(issue)
    return issue


@atomic
def pause(public_id: str, now: datetime) -> Issue:
    """Stop the senders; what they had not sent waits for :func:`resume`."""
    issue = issue_by_uuid(public_id)
    _move(issue, (IssueStatus.SENDING,), status=IssueStatus.PAUSED, paused_at=now)
    return issue


@atomic
def resume(public_id: str) -> Issue:
    """Let a paused issue go on; the caller starts the senders (or cron does)."""
    issue = issue_by_uuid(public_id)
    _move(issue, (IssueStatus.PAUSED,), status=IssueStatus.SENDING, paused_at=None)
    return issue


@atomic
def cancel(public_id: str, now: datetime) -> Issue:
    """Stop the issue for good: nobody who has not had it yet will get it."""
    issue = issue_by_uuid(public_id)
    expected = (IssueStatus.DRAFT, IssueStatus.SENDING, IssueStatus.PAUSED)
    _move(issue, expected, status=IssueStatus.CANCELLED, completed_at=now, paused_at=None)
    close_waiting(issue)
    return issue


def close_waiting(issue: Issue) -> int:
    """Mark a cancelled issue's waiting deliveries cancelled (in the caller's transaction)."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.issue_id == issue.id, Delivery.status.in_(WAITING))
        .values(status=DeliveryStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def progress(issue: Issue) -> Progress:
    """How far the issue has gone: one grouped count of its deliveries."""
    if issue.materialized_at is None and issue.status in (
        IssueStatus.DRAFT,
        IssueStatus.SENDING,
        IssueStatus.PAUSED,
    ):  # no delivery rows yet: the readers it would go to now
        total = deliveries.recipient_count(issue.newsletter, issue.frequency, issue.period_start)
        return Progress(issue.status.value, total, 0, total, 0, 0, issue.send_at)
    counts = deliveries.status_counts(issue)
    waiting = counts["pending"] + counts["sending"]
    not_sent = sum(counts[s] for s in ("bounced", "suppressed", "skipped", "cancelled"))
    return Progress(
        issue.status.value,
        sum(counts.values()),
        counts["sent"],
        waiting,
        counts["failed"],
        not_sent,
        issue.send_at,
    )
