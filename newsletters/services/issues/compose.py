"""Composing issues: which one a run sends, what goes in it, and rendering it once.

``flask digest send`` sends the issue of the period that ended last, for each rhythm
(daily, weekly, monthly) the newsletter offers; ``--force`` sends the issue of the
period running now (periods come from :mod:`.schedule`). Either way there is one issue
per newsletter, rhythm and period, so a second run finds it and sends nobody anything
twice. :func:`decide` is the one
answer to "what should a run do now?", for a real send and for ``--dry-run``.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from sqlalchemy import select, update

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import (
    Issue,
    IssueStatus,
    Newsletter,
    Story,
    utcnow,
)
from newsletters.services.catalogue import (
    newsletter_by_slug,
)
from newsletters.services.core.sql import insert
from newsletters.services.issues import deliveries
from newsletters.services.issues.lineup import lineup
from newsletters.services.issues.rendering import (  # noqa: F401 (the callers' names)
    DEFAULT_SUBJECT,
    render_issue,
    sending_values,
    subject_for,
)
from newsletters.services.issues.rhythms import (  # noqa: F401 (the callers' names)
    checked_frequency,
    frequencies_to_send,
    label,
)
from newsletters.services.issues.schedule import (
    Period,
    current_period,
    due_period,
    period_after,
)
from newsletters.services.issues.stories import stories_between
from newsletters.services.rhythm.choice import default_frequency, offered

# What a run says of a period whose issue has already left its draft.
ACTIONS = {
    IssueStatus.SENDING: "sending",
    IssueStatus.PAUSED: "paused",
    IssueStatus.SENT: "already sent",
    IssueStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class Decision:
    """What a run should do for one newsletter now, and why."""

    period: Period
    # send, sending, paused, scheduled, not due, empty, already sent, cancelled, no readers
    action: str
    issue: Issue | None
    stories: list[Story]
    frequency: str
    newsletter: Newsletter


def existing_issue(
    newsletter: Newsletter, period: Period, frequency: str | None = None
) -> Issue | None:
    return db.session.scalar(
        select(Issue).where(
            Issue.newsletter_id == newsletter.id,
            Issue.frequency == (frequency or default_frequency(newsletter)),
            Issue.period_start == period.start,
        )
    )


def next_period(newsletter: Newsletter, now: datetime, frequency: str | None = None) -> Period:
    """The period of the next issue to go out: the first, from the one that just ended,
    whose issue has not gone out yet.

    After ``--force`` has sent the running period's issue, that is the period after it.
    """
    frequency = frequency or default_frequency(newsletter)
    period = due_period(newsletter, now, frequency)
    if period.end <= newsletter.created_at:
        period = current_period(newsletter, now, frequency)
    for _ in range(3):  # the ended period, the running one, the one after it
        issue = existing_issue(newsletter, period, frequency)
        if issue is None or issue.status == IssueStatus.DRAFT:
            return period
        period = period_after(newsletter, period, frequency)
    return period


def issue_for(
    newsletter: Newsletter, period: Period, frequency: str | None = None, *, forced: bool = False
) -> Issue:
    """The one issue of this newsletter, rhythm and period, created if need be (race-free).

    It joins the caller's transaction; the caller commits.
    """
    db.session.execute(
        insert(Issue)
        .values(
            uuid=uuid4(),
            newsletter_id=newsletter.id,
            frequency=frequency or default_frequency(newsletter),
            period_start=period.start,
            period_end=period.end,
            status=IssueStatus.DRAFT,
            story_ids=[],
            forced=forced,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["newsletter_id", "frequency", "period_start"])
    )
    return existing_issue(newsletter, period, frequency)


def decide(
    newsletter: Newsletter, now: datetime, frequency: str | None = None, *, force: bool = False
) -> Decision:
    """What a run should do for this newsletter and rhythm now; nothing is written.

    A scheduled run looks at the period that ended last, ``force`` at the one
    running now. An issue that has left its draft state is never built again.
    A period without stories sends nothing, unless the newsletter says to send
    empty issues. A rhythm nobody is on for this period makes no issue ("no readers"),
    unless it is the newsletter's only one (see :func:`_nobody_gets_it`).
    """
    frequency = frequency or default_frequency(newsletter)
    period = (current_period if force else due_period)(newsletter, now, frequency)
    issue = existing_issue(newsletter, period, frequency)

    def decision(action: str, stories: list[Story]) -> Decision:
        return Decision(period, action, issue, stories, frequency, newsletter)

    if issue is None:
        stories = stories_between(newsletter, period.start, min(period.end, now))
    else:
        stories = lineup(newsletter, issue, now)
    if issue is not None and issue.status != IssueStatus.DRAFT:
        return decision(ACTIONS.get(issue.status, "empty"), stories)
    if issue is not None and issue.send_at is not None and not force:
        # An editor chose the time: the slot passes it by (see ``prepare_scheduled``).
        return decision("scheduled", stories)
    if not force and period.end <= newsletter.created_at:
        return decision("not due", stories)  # the newsletter did not exist yet
    if not stories and not newsletter.send_when_empty:
        return decision("empty", stories)
    if _nobody_gets_it(newsletter, frequency, period):
        return decision("no readers", stories)
    return decision("send", stories)


def _nobody_gets_it(newsletter: Newsletter, frequency: str, period: Period) -> bool:
    """Whether this period of a rhythm goes to nobody, so no issue is made (or a draft
    stays one): an issue nobody received would only repeat, in the archive and the
    feed, stories the other rhythms carried.

    A newsletter's only rhythm is exempt: its issues go out (and into its archive) with
    or without readers, as they always did. Checked on every run until the period's
    issue is made, so a reader who comes on the rhythm later still gets it, once. A
    dropped rhythm's first period nobody is on ends its chain of issues
    (:func:`rhythms.frequencies_to_send` stops looking at it).
    """
    if offered(newsletter) == [frequency]:
        return False
    return not deliveries.recipient_count(newsletter, frequency, period.start)


def prepare_issue(
    newsletter: Newsletter, now: datetime, frequency: str | None = None, *, force: bool = False
) -> Decision:
    """Carry out :func:`decide`: render the issue once and mark it sending, or mark an
    ended period without stories empty. A forced issue is created only to be sent."""
    decision = decide(newsletter, now, frequency, force=force)
    if decision.action == "send" or (decision.action == "empty" and not force):
        issue = issue_for(newsletter, decision.period, decision.frequency, forced=force)
        db.session.commit()
        if decision.action == "send":
            start_sending(newsletter, issue, decision.stories, now, forced=force)
        else:
            _move(issue, IssueStatus.DRAFT, status=IssueStatus.EMPTY, completed_at=now)
        db.session.refresh(issue)
        decision = Decision(
            decision.period,
            decision.action,
            issue,
            decision.stories,
            decision.frequency,
            newsletter,
        )
    return decision


def start_sending(
    newsletter: Newsletter, issue: Issue, stories: list[Story], now: datetime, *, forced: bool
) -> bool:
    """Render the draft once, as it stands, and mark it sending; False if it was no draft.

    Only one renderer wins; a concurrent run (or an editor's save) finds it sending.
    """
    rendering = sending_values(newsletter, issue, stories, now, forced)
    return _move(issue, IssueStatus.DRAFT, then=rendering.save_rows, **rendering.columns)


def scheduled_due(slug: str | None, now: datetime) -> list[Issue]:
    """Drafts whose editor-chosen time has come, earliest first."""
    query = (
        select(Issue)
        .join(Newsletter)
        .where(
            Issue.status == IssueStatus.DRAFT,
            Issue.send_at.is_not(None),
            Issue.send_at <= now,
            Newsletter.in_service,
        )
    )
    if slug:
        query = query.where(Newsletter.slug == slug)
    return list(db.session.scalars(query.order_by(Issue.send_at, Issue.id)))


def prepare_scheduled(slug: str | None, now: datetime) -> list[Issue]:
    """Start every draft whose editor-chosen time has come, with its stories up to now.

    A draft whose lineup is empty, and whose newsletter does not send empty issues,
    is marked empty instead: nobody gets a blank issue.
    """
    started = []
    for issue in scheduled_due(slug, now):
        newsletter = issue.newsletter
        stories = lineup(newsletter, issue, now)
        if stories or newsletter.send_when_empty:
            if start_sending(newsletter, issue, stories, now, forced=issue.period_end > now):
                started.append(issue)
        else:
            _move(issue, IssueStatus.DRAFT, status=IssueStatus.EMPTY, completed_at=now)
    return started


def _move(issue: Issue, expected: IssueStatus, then=None, **values) -> bool:
    """Move the issue out of ``expected``; ``then(issue)`` joins the move's transaction."""
    result = db.session.execute(
        update(Issue)
        .where(Issue.id == issue.id, Issue.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    moved = result.rowcount == 1
    if moved and then is not None:
        then(issue)
    db.session.commit()
    return moved


def newsletters_for_sending(slug: str | None = None) -> list[Newsletter]:
    """Every newsletter in service (public or not), or the one named if it is in service."""
    if slug:
        newsletter = newsletter_by_slug(slug)
        if not newsletter.in_service:
            raise InvalidInput(f"{newsletter.name} is archived: it sends no issues.")
        return [newsletter]
    return list(
        db.session.scalars(
            select(Newsletter).where(Newsletter.in_service).order_by(Newsletter.slug)
        )
    )


def unfinished_issues(slug: str | None = None) -> list[Issue]:
    """Issues still being sent: a crashed or interrupted run, or failures to retry."""
    query = (
        select(Issue)
        .join(Newsletter)
        .where(Issue.status == IssueStatus.SENDING, Newsletter.in_service)
    )
    if slug:
        query = query.where(Newsletter.slug == slug)
    return list(db.session.scalars(query.order_by(Issue.id)))
