"""The issue editor's page: what it shows of an issue in each state, and its forms.

Every button on a draft's page belongs to one form (``issue-form``), so whichever
is pressed (save, move, add a story, test, schedule, send) carries the editor's
words and story choice with it, and its view saves them first, in the same
transaction. A refused action therefore never loses what the editor typed: the
page comes back with the typed values and the message beside the field.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import current_app, render_template, request

from newsletters.admin.forms import (
    ActionForm,
    IssueForm,
    IssueTestForm,
    ScheduleForm,
    StoryByUrlForm,
)
from newsletters.errors import NewsletterError
from newsletters.locales import language_name, languages
from newsletters.models import Issue, IssueStatus, Story, utcnow
from newsletters.services.issues import compose, control, editing, lineup, totals
from newsletters.services.issues.schedule import local, period_label

FIELD_FORMS = {
    "subject": "issue",
    "preheader": "issue",
    "intro": "issue",
    "url": "story",
    "title": "story",
    "addresses": "test",
    "send_at": "schedule",
}
BADGES = {
    IssueStatus.DRAFT: "Draft",
    IssueStatus.SENDING: "Sending",
    IssueStatus.PAUSED: "Paused",
    IssueStatus.SENT: "Sent",
    IssueStatus.EMPTY: "Empty",
    IssueStatus.CANCELLED: "Cancelled",
}
SOURCES = {"feed": "from the feed", "api": "from the API", "admin": "filed by hand"}
BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)


@dataclass
class EditorForms:
    """The forms of the editor's page, filled from the request or from the issue."""

    issue: IssueForm
    story: StoryByUrlForm
    test: IssueTestForm
    schedule: ScheduleForm
    action: ActionForm


@dataclass(frozen=True)
class StoryRow:
    """One story as the editor lists it."""

    story: Story
    included: bool
    added: bool

    @property
    def key(self) -> str:
        """The story's public id, as the form posts it."""
        return str(self.story.uuid)

    @property
    def published(self) -> str:
        """When the story was published, on the newsletters' clock: 'Fri 27 Nov, 14:05'."""
        at = local(self.story.published_at)
        return f"{at:%a} {at.day} {at:%b}, {at:%H:%M}"

    @property
    def source(self) -> str:
        """Where the story came from, in words."""
        if self.added:
            return "added for this issue"
        return SOURCES.get(self.story.source, self.story.source)


def posted_draft() -> editing.Draft | None:
    """The draft the editor's form posted, or None when the request carries no draft."""
    form = request.form
    if request.method != "POST" or "subject" not in form:
        return None
    return editing.Draft(
        subject=form.get("subject", ""),
        preheader=form.get("preheader", ""),
        intro=form.get("intro", ""),
        order=form.getlist("story"),
        included=set(form.getlist("include")),
    )


def save_posted(public_id: str, now: datetime) -> None:
    """Save the draft the request carries, if it carries one (in the caller's transaction)."""
    draft = posted_draft()
    if draft is not None:
        editing.save_draft(public_id, draft, now)


def zone_name() -> str:
    """The newsletters' clock, as the console names it."""
    return current_app.config["TIMEZONE"]


def when_label(moment: datetime) -> str:
    """'Monday 7 December 2026, 08:00 (Europe/Berlin)': a time on the newsletters' clock."""
    at = local(moment)
    return f"{at:%A} {at.day} {at:%B %Y}, {at:%H:%M} ({zone_name()})"


def badge(issue: Issue) -> str:
    """The status badge: Draft, Scheduled for <time>, Sending, Paused, Sent, ..."""
    if issue.status == IssueStatus.DRAFT and issue.send_at is not None:
        return f"Scheduled for {when_label(issue.send_at)}"
    return BADGES[issue.status]


def progress_label(progress: control.Progress) -> str:
    """One line saying how far an issue has gone."""
    total, sent = f"{progress.total:,}", f"{progress.sent:,}"
    readers = "reader" if progress.total == 1 else "readers"
    return {
        "draft": f"Not sent yet: {total} {readers} will get it",
        "sending": f"Sending: {sent} of {total} sent",
        "paused": f"Paused: {sent} of {total} sent, {progress.waiting:,} waiting",
        "sent": f"Sent to {sent} of {total} {readers}",
        "cancelled": f"Cancelled: {sent} of {total} {readers} had got it",
        "empty": "No stories: nobody got this issue",
    }[progress.status]


def progress_json(issue: Issue) -> dict:
    """What the editor's page polls while an issue sends."""
    progress = control.progress(issue)
    return {**progress.as_dict(), "label": progress_label(progress), "badge": badge(issue)}


def _rows(issue: Issue, now: datetime) -> list[StoryRow]:
    """The issue's stories as the page lists them: as the editor posted them when a
    refused action re-draws the page, as sent once the issue has gone out."""
    candidates = lineup.candidates(issue.newsletter, issue, now)
    if issue.status != IssueStatus.DRAFT:
        place = {story_id: n for n, story_id in enumerate(issue.story_ids or [])}
        sent = [c for c in candidates if c.story.id in place]
        sent.sort(key=lambda c: place[c.story.id])
        return [StoryRow(c.story, True, c.added) for c in sent]
    rows = [StoryRow(c.story, c.included, c.added) for c in candidates]
    draft = posted_draft()
    if draft is None:
        return rows
    position = {key: n for n, key in enumerate(dict.fromkeys(draft.order))}
    rows.sort(key=lambda row: position.get(row.key, len(position)))
    return [
        StoryRow(row.story, row.key in draft.included, row.added) if row.key in position else row
        for row in rows
    ]


def _default_send_at(issue: Issue, now: datetime) -> str:
    """What the schedule field offers: the chosen time, the newsletter's slot, or the next hour."""
    moment = issue.send_at or issue.period_end
    if moment <= now:
        moment = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return f"{local(moment):%Y-%m-%dT%H:%M}"


def editor_forms(issue: Issue, now: datetime) -> EditorForms:
    """The page's forms: what the request posted, else the issue as saved."""
    posted = request.form if request.method == "POST" else {}

    def pick(form_class, field: str, **data):
        return form_class() if field in posted else form_class(formdata=None, data=data)

    return EditorForms(
        issue=pick(
            IssueForm,
            "subject",
            subject=issue.subject_override or "",
            preheader=issue.preheader or "",
            intro=issue.intro_override or "",
        ),
        story=pick(StoryByUrlForm, "url"),
        test=pick(IssueTestForm, "addresses"),
        schedule=pick(ScheduleForm, "send_at", send_at=_default_send_at(issue, now)),
        action=ActionForm(formdata=None),
    )


def _attach(forms: EditorForms, error: NewsletterError, fallback: str | None) -> str | None:
    """Put the message beside its field; returns the field's id, for the error summary."""
    name = getattr(error, "field", None)
    if name not in FIELD_FORMS:
        name = fallback
    if name is None:
        return None
    field = getattr(getattr(forms, FIELD_FORMS[name]), name)
    field.errors = [*field.errors, error.message]
    return field.id


def subject_hint(issue: Issue) -> tuple[str, str]:
    """The newsletter's subject template, and the subject it gives this issue."""
    newsletter = issue.newsletter
    template = newsletter.subject_template or compose.DEFAULT_SUBJECT
    example = compose.subject_for(
        newsletter, SimpleNamespace(subject_override=None, period_end=issue.period_end)
    )
    return template, example


def editor_page(
    issue: Issue,
    *,
    error: NewsletterError | None = None,
    status: int = 200,
    fallback: str | None = None,
):
    """The editor for ``issue``; with ``error``, the refused action's message in place."""
    now = utcnow()
    forms = editor_forms(issue, now)
    error_field = _attach(forms, error, fallback) if error and status == 400 else None
    progress = control.progress(issue)
    template, example = subject_hint(issue)
    unsaved = posted_draft() if status == 409 else None
    page = render_template(
        "admin/issue_editor.html",
        issue=issue,
        newsletter=issue.newsletter,
        forms=forms,
        rows=_rows(issue, now),
        editable=issue.status == IssueStatus.DRAFT,
        not_editable=editing.NOT_EDITABLE.get(issue.status),
        period=period_label(issue.period_start, issue.period_end),
        badge=badge(issue),
        progress=progress,
        progress_label=progress_label(progress),
        subject_template=template,
        subject_example=example,
        slot=when_label(issue.period_end) if issue.period_end > now else None,
        send_at=when_label(issue.send_at) if issue.send_at else None,
        min_send_at=f"{local(now):%Y-%m-%dT%H:%M}",
        zone=zone_name(),
        error=error,
        error_field=error_field,
        unsaved=unsaved,
        languages=[(code, language_name(code)) for code in languages()],
        counted=None if issue.status == IssueStatus.DRAFT else totals.issue_totals(issue),
    )
    return page, status


def preview_page(issue: Issue, email, *, text: bool, preheader: str | None) -> str:
    """The preview as the frame shows it: an inbox line (sender, subject, preheader) over
    the email's HTML, or over its plain text."""
    newsletter = issue.newsletter
    context = {
        "sender": newsletter.from_name or current_app.config["SITE_NAME"],
        "subject": email.subject,
        "preheader": preheader or "",
    }
    if text:
        return render_template("admin/issue_preview_text.html", text=email.text, **context)
    inbox = render_template("admin/_preview_inbox.html", **context)
    html, found = BODY_TAG.subn(lambda tag: tag[0] + inbox, email.html, count=1)
    return html if found else inbox + html
