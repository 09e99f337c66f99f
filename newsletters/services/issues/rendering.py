"""Rendering an issue once: its subject, text and HTML, with placeholders for each
reader's own links. Sending, previews and tests all render through here.

An issue that starts sending is rendered once per language the site offers: the frame
(headings, "Read the story", the footer, dates) in that language, the editor's words and
the stories as written. The default language goes in the issue's own columns, the others
are kept by :mod:`.translations` in the same transaction; each reader gets the rendering
in their saved language, or the default one.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from newsletters import locales
from newsletters.models import Issue, IssueStatus, Newsletter, Story
from newsletters.services.branding import brand_of
from newsletters.services.catalogue import subject_template_problem
from newsletters.services.issues import archive, translations
from newsletters.services.issues.schedule import local, period_label
from newsletters.services.issues.tracking import Counting, counting_for
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
        "date": locales.local_date(local_end.date()),
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
    counting: Counting | None = None,
) -> RenderedEmail:
    """The issue's text and HTML, with placeholders where each reader's own links go.

    ``view_url`` is its "View in browser" link (none without one): see ``archive.view_link``.
    ``counting`` gives the story links and the open pixel of an issue being sent; without
    it the stories link straight to their URLs and there is no pixel.
    """
    counting = counting or Counting([story.url for story in stories])
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
        story_urls=counting.story_urls,
        pixel_url=counting.pixel_url,
    )


@dataclass(frozen=True)
class SendingRendering:
    """An issue rendered to go out: its own columns, in the default language, its
    rendering in each of the site's other languages, and its counted links."""

    columns: dict
    translations: dict[str, RenderedEmail]
    counting: Counting

    def save_rows(self, issue: Issue) -> None:
        """Add the other languages' renderings and the counted links, in the transaction
        that starts the sending."""
        translations.save(issue, self.translations)
        self.counting.save(issue)


def sending_values(
    newsletter: Newsletter, issue: Issue, stories: list[Story], now: datetime, forced: bool
) -> SendingRendering:
    """The issue rendered once per language, as every reader will get it: the one rendering."""
    default = locales.default_language()
    # One set of counted links for every language: a story's position is the same in all.
    counting = counting_for(issue, stories)
    rendered = {}
    for language in locales.languages():
        # "View in browser" opens the archive in the language the reader reads the issue in.
        asked = None if language == default else language
        view_url = archive.view_link(newsletter, issue, language=asked)
        with locales.writing_to(language):
            rendered[language] = render_issue(
                newsletter, issue, stories, view_url=view_url, counting=counting
            )
    email = rendered.pop(default)
    columns = {
        "status": IssueStatus.SENDING,
        "subject": email.subject,
        "text_body": email.text,
        "html_body": email.html,
        "story_ids": [story.id for story in stories],
        "rendered_at": now,
        "forced": forced,
        **counting.columns,
    }
    return SendingRendering(columns, rendered, counting)
