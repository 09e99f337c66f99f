"""Rendering an issue once: its subject, text and HTML, with placeholders for each
reader's own links. Sending, previews and tests all render through here."""

from datetime import datetime

from flask import current_app

from newsletters.models import Issue, IssueStatus, Newsletter, Story
from newsletters.services.branding import brand_of
from newsletters.services.catalogue import subject_template_problem
from newsletters.services.issues import archive
from newsletters.services.issues.schedule import local, period_label
from newsletters.services.mail.links import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from newsletters.services.mail.render import RenderedEmail, render_email, subject_text

DEFAULT_SUBJECT = "{name}: {date}"
MAX_ISSUE_SUBJECT = Issue.subject.type.length  # what the issue's subject column holds


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
