"""Composing issues: which one a run sends, what goes in it, and rendering it once.

``flask digest send`` sends the issue of the period that ended last;
``--force`` sends the issue of the period running now (periods come from
:mod:`.schedule`). Either way there is one issue per newsletter and period, so
a second run finds it and sends nobody anything twice. :func:`decide` is the one
answer to "what should a run do now?", for a real send and for ``--dry-run``.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from flask import current_app
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
from newsletters.services.branding import brand_of
from newsletters.services.catalogue import (
    newsletter_by_slug,
    subject_template_problem,
)
from newsletters.services.core.sql import insert
from newsletters.services.issues import archive
from newsletters.services.issues.lineup import lineup
from newsletters.services.issues.schedule import (
    Period,
    current_period,
    due_period,
    local,
    period_after,
    period_label,
)
from newsletters.services.issues.stories import stories_between
from newsletters.services.mail.links import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from newsletters.services.mail.render import RenderedEmail, render_email, subject_text

DEFAULT_SUBJECT = "{name}: {date}"
MAX_ISSUE_SUBJECT = Issue.subject.type.length  # what the issue's subject column holds


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
    action: str  # send, sending, paused, scheduled, not due, empty, already sent, cancelled
    issue: Issue | None
    stories: list[Story]


def existing_issue(newsletter: Newsletter, period: Period) -> Issue | None:
    return db.session.scalar(
        select(Issue).where(
            Issue.newsletter_id == newsletter.id, Issue.period_start == period.start
        )
    )


def next_period(newsletter: Newsletter, now: datetime) -> Period:
    """The period of the next issue to go out: the first, from the one that just ended,
    whose issue has not gone out yet.

    After ``--force`` has sent the running period's issue, that is the period after it.
    """
    period = due_period(newsletter, now)
    if period.end <= newsletter.created_at:
        period = current_period(newsletter, now)
    for _ in range(3):  # the ended period, the running one, the one after it
        issue = existing_issue(newsletter, period)
        if issue is None or issue.status == IssueStatus.DRAFT:
            return period
        period = period_after(newsletter, period)
    return period


def subject_for(newsletter: Newsletter, issue: Issue) -> str:
    """The issue's subject: its own override, the newsletter's template, or the default.

    A stored template the rules refuse (written before they existed, or straight into
    the database) gives the default; the result is cut to what an issue's row holds.
    """
    template = issue.subject_override or newsletter.subject_template or DEFAULT_SUBJECT
    if subject_template_problem(template):
        template = DEFAULT_SUBJECT
    local_end = local(issue.period_end)
    values = {
        "name": newsletter.name,
        "date": f"{local_end.day} {local_end:%B %Y}",
        "site": current_app.config["SITE_NAME"],
    }
    return subject_text(template.format_map(values), MAX_ISSUE_SUBJECT)


def render_issue(
    newsletter: Newsletter,
    issue: Issue,
    stories: list[Story],
    *,
    preferences_url: str = PREFERENCES_PLACEHOLDER,
    unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER,
    view_url: str | None = None,
) -> RenderedEmail:
    """The issue's text and HTML, with placeholders where each reader's own links go.

    ``view_url`` is its "View in browser" link (none without one): see ``archive.view_link``.
    """
    return render_email(
        "issue",
        subject=subject_for(newsletter, issue),
        newsletter=newsletter,
        brand=brand_of(newsletter),
        stories=stories,
        intro=issue.intro_override or newsletter.intro,
        preheader=issue.preheader or "",
        period_label=period_label(issue.period_start, issue.period_end),
        preferences_url=preferences_url,
        unsubscribe_url=unsubscribe_url,
        view_url=view_url,
    )


def issue_for(newsletter: Newsletter, period: Period, *, forced: bool = False) -> Issue:
    """The one issue of this newsletter for this period, created if need be (race-free).

    It joins the caller's transaction; the caller commits.
    """
    db.session.execute(
        insert(Issue)
        .values(
            uuid=uuid4(),
            newsletter_id=newsletter.id,
            period_start=period.start,
            period_end=period.end,
            status=IssueStatus.DRAFT,
            story_ids=[],
            forced=forced,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["newsletter_id", "period_start"])
    )
    return existing_issue(newsletter, period)


def decide(newsletter: Newsletter, now: datetime, *, force: bool = False) -> Decision:
    """What a run should do for this newsletter now; nothing is written.

    A scheduled run looks at the period that ended last, ``force`` at the one
    running now. An issue that has left its draft state is never built again.
    A period without stories sends nothing, unless the newsletter says to send
    empty issues.
    """
    period = current_period(newsletter, now) if force else due_period(newsletter, now)
    issue = existing_issue(newsletter, period)
    if issue is None:
        stories = stories_between(newsletter, period.start, min(period.end, now))
    else:
        stories = lineup(newsletter, issue, now)
    if issue is not None and issue.status != IssueStatus.DRAFT:
        return Decision(period, ACTIONS.get(issue.status, "empty"), issue, stories)
    if issue is not None and issue.send_at is not None and not force:
        # An editor chose the time: the slot passes it by (see ``prepare_scheduled``).
        return Decision(period, "scheduled", issue, stories)
    if not force and period.end <= newsletter.created_at:
        return Decision(period, "not due", issue, stories)  # the newsletter did not exist yet
    if not stories and not newsletter.send_when_empty:
        return Decision(period, "empty", issue, stories)
    return Decision(period, "send", issue, stories)


def prepare_issue(newsletter: Newsletter, now: datetime, *, force: bool = False) -> Decision:
    """Carry out :func:`decide`: render the issue once and mark it sending, or mark an
    ended period without stories empty. A forced issue is created only to be sent."""
    decision = decide(newsletter, now, force=force)
    if decision.action == "send" or (decision.action == "empty" and not force):
        issue = issue_for(newsletter, decision.period, forced=force)
        db.session.commit()
        if decision.action == "send":
            start_sending(newsletter, issue, decision.stories, now, forced=force)
        else:
            _move(issue, IssueStatus.DRAFT, status=IssueStatus.EMPTY, completed_at=now)
        db.session.refresh(issue)
        decision = Decision(decision.period, decision.action, issue, decision.stories)
    return decision


def start_sending(
    newsletter: Newsletter, issue: Issue, stories: list[Story], now: datetime, *, forced: bool
) -> bool:
    """Render the draft once, as it stands, and mark it sending; False if it was no draft.

    Only one renderer wins; a concurrent run (or an editor's save) finds it sending.
    """
    return _move(
        issue, IssueStatus.DRAFT, **sending_values(newsletter, issue, stories, now, forced)
    )


def sending_values(
    newsletter: Newsletter, issue: Issue, stories: list[Story], now: datetime, forced: bool
) -> dict:
    """The issue's columns once rendered, as every reader will get it: the one rendering."""
    email = render_issue(newsletter, issue, stories, view_url=archive.view_link(newsletter, issue))
    return {
        "status": IssueStatus.SENDING,
        "subject": email.subject,
        "text_body": email.text,
        "html_body": email.html,
        "story_ids": [story.id for story in stories],
        "rendered_at": now,
        "forced": forced,
    }


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


def _move(issue: Issue, expected: IssueStatus, **values) -> bool:
    result = db.session.execute(
        update(Issue)
        .where(Issue.id == issue.id, Issue.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


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
