"""Issues of a newsletter: when one is due, what goes in it, and rendering it once.

A newsletter's period ends at its send slot (weekday and hour, in
``TIMEZONE``). ``flask digest send`` sends the issue of the period that ended
last; ``--force`` sends the issue of the period running now. Either way there
is one issue per newsletter and period, so a second run finds it and sends
nobody anything twice.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import (
    Issue,
    IssueStatus,
    Newsletter,
    Story,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.catalogue import check_subject_template
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.sql import insert
from newsletters.services.core.transactions import atomic
from newsletters.services.issues.stories import newsletter_by_slug, stories_between
from newsletters.services.mail import links, outbox
from newsletters.services.mail.links import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from newsletters.services.mail.render import RenderedEmail, render_email

DEFAULT_SUBJECT = "{name}: {date}"


@dataclass(frozen=True)
class Period:
    """The stretch of time an issue covers: [start, end)."""

    start: datetime
    end: datetime


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _slot(newsletter: Newsletter, day: date) -> datetime:
    """The send time on ``day``, local wall-clock time, in UTC."""
    return datetime.combine(day, time(newsletter.send_hour), tzinfo=_zone()).astimezone(UTC)


def _last_slot_day(newsletter: Newsletter, moment: datetime) -> date:
    """The local date of the latest send slot at or before ``moment``."""
    local = moment.astimezone(_zone())
    day = local.date() - timedelta(days=(local.weekday() - newsletter.send_weekday) % 7)
    if _slot(newsletter, day) > moment:
        day -= timedelta(days=7)
    return day


def due_period(newsletter: Newsletter, now: datetime) -> Period:
    """The period that ended at the latest send slot: what a scheduled run sends."""
    day = _last_slot_day(newsletter, now)
    return Period(_slot(newsletter, day - timedelta(days=7)), _slot(newsletter, day))


def current_period(newsletter: Newsletter, now: datetime) -> Period:
    """The period running now: what ``--force`` and a preview show."""
    day = _last_slot_day(newsletter, now)
    return Period(_slot(newsletter, day), _slot(newsletter, day + timedelta(days=7)))


def _existing_issue(newsletter: Newsletter, period: Period) -> Issue | None:
    return db.session.scalar(
        select(Issue).where(
            Issue.newsletter_id == newsletter.id, Issue.period_start == period.start
        )
    )


def next_period(newsletter: Newsletter, now: datetime) -> Period:
    """The period of the next issue to go out: the one that just ended if it has not gone
    out yet, else the one running now."""
    due = due_period(newsletter, now)
    issue = _existing_issue(newsletter, due)
    unsent = issue is None or issue.status == IssueStatus.DRAFT
    if unsent and due.end > newsletter.created_at:
        return due
    return current_period(newsletter, now)


def period_label(start: datetime, end: datetime) -> str:
    """'21 – 27 November 2026', or '28 November – 4 December 2026', in local time."""
    first = start.astimezone(_zone())
    last = (end - timedelta(seconds=1)).astimezone(_zone())
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day} – {last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"


def subject_for(newsletter: Newsletter, issue: Issue) -> str:
    """The issue's subject: its own override, the newsletter's template, or the default."""
    template = issue.subject_override or newsletter.subject_template or DEFAULT_SUBJECT
    local_end = issue.period_end.astimezone(_zone())
    values = {
        "name": newsletter.name,
        "date": f"{local_end.day} {local_end:%B %Y}",
        "site": current_app.config["SITE_NAME"],
    }
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError):
        return DEFAULT_SUBJECT.format_map(values)


def render_issue(
    newsletter: Newsletter,
    issue: Issue,
    stories: list[Story],
    *,
    preferences_url: str = PREFERENCES_PLACEHOLDER,
    unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER,
) -> RenderedEmail:
    """The issue's text and HTML, with placeholders where each reader's own links go."""
    return render_email(
        "issue",
        subject=subject_for(newsletter, issue),
        newsletter=newsletter,
        stories=stories,
        intro=issue.intro_override or newsletter.intro,
        period_label=period_label(issue.period_start, issue.period_end),
        preferences_url=preferences_url,
        unsubscribe_url=unsubscribe_url,
    )


def issue_for(newsletter: Newsletter, period: Period, *, forced: bool = False) -> Issue:
    """The one issue of this newsletter for this period, created if need be (race-free)."""
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
    db.session.commit()
    return db.session.scalar(
        select(Issue).where(
            Issue.newsletter_id == newsletter.id, Issue.period_start == period.start
        )
    )


def prepare_issue(newsletter: Newsletter, now: datetime, *, force: bool = False) -> Issue | None:
    """The issue a run should send for this newsletter, rendered once; None when none is due.

    An ended period without stories is marked empty and sends nothing, unless
    the newsletter says to send empty issues. A forced issue of the running
    period is only created when there is something to send.
    """
    period = current_period(newsletter, now) if force else due_period(newsletter, now)
    if not force and period.end <= newsletter.created_at:
        return None  # the newsletter did not exist during that period
    if force and not _worth_forcing(newsletter, period, now):
        return None  # nothing to send yet: leave the week's issue to its scheduled run
    issue = issue_for(newsletter, period, forced=force)
    if issue.status == IssueStatus.DRAFT:
        _render_once(newsletter, issue, now, force)
        db.session.refresh(issue)
    return issue


def _worth_forcing(newsletter: Newsletter, period: Period, now: datetime) -> bool:
    if newsletter.send_when_empty or _existing_issue(newsletter, period) is not None:
        return True
    return bool(stories_between(newsletter, period.start, min(period.end, now)))


def _render_once(newsletter: Newsletter, issue: Issue, now: datetime, force: bool) -> None:
    stories = stories_between(newsletter, issue.period_start, min(issue.period_end, now))
    if not stories and not newsletter.send_when_empty:
        if not force:
            _move(issue, IssueStatus.DRAFT, status=IssueStatus.EMPTY, completed_at=now)
        return
    email = render_issue(newsletter, issue, stories)
    # Only one renderer wins; a concurrent run re-reads the winner's issue.
    _move(
        issue,
        IssueStatus.DRAFT,
        status=IssueStatus.SENDING,
        subject=email.subject,
        text_body=email.text,
        html_body=email.html,
        story_ids=[story.id for story in stories],
        rendered_at=now,
        forced=force,
    )


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
    """Every newsletter that sends issues (public or not), or the one named."""
    if slug:
        return [newsletter_by_slug(slug)]
    return list(
        db.session.scalars(
            select(Newsletter).where(Newsletter.is_archived.is_(False)).order_by(Newsletter.slug)
        )
    )


def unfinished_issues(slug: str | None = None) -> list[Issue]:
    """Issues still being sent: a crashed or interrupted run, or failures to retry."""
    query = select(Issue).where(Issue.status == IssueStatus.SENDING)
    if slug:
        query = query.join(Newsletter).where(Newsletter.slug == slug)
    return list(db.session.scalars(query.order_by(Issue.id)))


def active_subscriber_count(newsletter: Newsletter) -> int:
    """How many readers would get an issue now."""
    return db.session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(
            Subscription.newsletter_id == newsletter.id,
            Subscription.status == SubscriptionStatus.ACTIVE,
        )
    )


def preview(slug: str, now: datetime) -> tuple[Issue, RenderedEmail, int]:
    """The next issue to go out, as it stands now, with sample links; nothing is written."""
    newsletter = newsletter_by_slug(slug)
    period = next_period(newsletter, now)
    issue = _existing_issue(newsletter, period) or Issue(
        newsletter=newsletter, period_start=period.start, period_end=period.end
    )
    stories = stories_between(newsletter, period.start, min(period.end, now))
    sample = links.external_url("public.lost_link")
    email = render_issue(newsletter, issue, stories, preferences_url=sample, unsubscribe_url=sample)
    return issue, email, len(stories)


@atomic
def set_overrides(slug: str, now: datetime, subject: str | None, intro: str | None) -> Issue:
    """Give the next issue its own subject or intro, before it is sent."""
    newsletter = newsletter_by_slug(slug)
    if subject is not None:
        check_subject_template(subject)
    issue = issue_for(newsletter, next_period(newsletter, now))
    if issue.status != IssueStatus.DRAFT:
        raise InvalidInput("That issue has already gone out; it can no longer be changed.")
    if subject is not None:
        issue.subject_override = subject.strip() or None
    if intro is not None:
        issue.intro_override = intro.strip() or None
    return issue


@atomic
def send_test(slug: str, address: str, now: datetime) -> str:
    """Mail the next issue, as it stands, to one address (sample links; nobody's data)."""
    target = normalize_email(address)
    _, email, _ = preview(slug, now)
    outbox.enqueue(
        kind="test",
        to=target,
        email=RenderedEmail(subject=f"[Test] {email.subject}", text=email.text, html=email.html),
    )
    return target
