"""The issue editor: an issue's words and stories while it is a draft.

An editor opens the next issue of a newsletter (it is created as a draft if need
be), changes its subject, preheader and intro, chooses and orders its stories, adds
a story by its URL, previews it and mails tests. Each change is one transaction
that first locks the issue's row and checks it is still a draft, so an edit and a
run starting to send it cannot cross: once sending has begun, every edit is refused
(:class:`IssueStateConflict`, 409) and nothing is written.

Its previews and test sends are in :mod:`.previews`.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from newsletters.errors import InvalidInput, IssueStateConflict
from newsletters.extensions import db
from newsletters.models import Issue, IssueStatus, Story
from newsletters.services.catalogue import (
    check_subject_template,
    has_control_characters,
    newsletter_by_slug,
)
from newsletters.services.core.transactions import atomic
from newsletters.services.issues import compose, lineup, page_meta, stories
from newsletters.services.issues.overview import issue_by_uuid

MAX_PREHEADER = Issue.preheader.type.length
MAX_INTRO = 5000
NOT_EDITABLE = {
    IssueStatus.SENDING: "This issue has started sending; it can no longer be edited.",
    IssueStatus.PAUSED: "This issue has started sending; it can no longer be edited.",
    IssueStatus.SENT: "This issue has been sent; it can no longer be edited.",
    IssueStatus.EMPTY: "This issue had no stories and was never sent; it can no longer be edited.",
    IssueStatus.CANCELLED: "This issue was cancelled; it can no longer be edited.",
}


@dataclass
class Draft:
    """An issue's editable parts as an editor submitted them (nothing checked yet).

    ``order`` lists story ids as they stand in the editor; ``included`` those ticked.
    """

    subject: str = ""
    preheader: str = ""
    intro: str = ""
    order: list[str] = field(default_factory=list)
    included: set[str] = field(default_factory=set)


def check_editable(issue: Issue) -> None:
    """Refuse any change to an issue that is no longer a draft."""
    if issue.status != IssueStatus.DRAFT:
        raise IssueStateConflict(NOT_EDITABLE[issue.status])


def _locked_draft(public_id: str) -> Issue:
    """The issue, its row locked for this transaction, if it is still a draft."""
    issue = issue_by_uuid(public_id)
    db.session.refresh(issue, with_for_update=True)
    check_editable(issue)
    return issue


@atomic
def open_next_issue(slug: str, now: datetime, frequency: str | None = None) -> Issue:
    """The draft of a newsletter's next issue of a rhythm (its first without one),
    created if there is none yet."""
    newsletter = newsletter_by_slug(slug)
    if not newsletter.in_service:
        raise InvalidInput(f"{newsletter.name} is archived: it sends no issues.")
    frequency = compose.checked_frequency(newsletter, frequency)
    return compose.issue_for(newsletter, compose.next_period(newsletter, now, frequency), frequency)


def checked_words(draft: Draft) -> tuple[str | None, str | None, str | None]:
    subject = (draft.subject or "").strip()
    if subject:
        check_subject_template(subject)
    preheader = " ".join((draft.preheader or "").split())
    if len(preheader) > MAX_PREHEADER:
        raise InvalidInput(f"The preheader has at most {MAX_PREHEADER} characters.", "preheader")
    intro = (draft.intro or "").strip()
    if len(intro) > MAX_INTRO:
        raise InvalidInput(f"The intro has at most {MAX_INTRO} characters.", "intro")
    if has_control_characters(intro.replace("\r\n", "\n").replace("\n", " ")):
        raise InvalidInput("The intro may not hold invisible control characters.", "intro")
    return subject or None, preheader or None, intro or None


def arranged(issue: Issue, draft: Draft, now: datetime) -> tuple[list[int], list[int]]:
    """The story order and exclusions a draft asks for, among the issue's candidates.

    A story deleted since the editor's page was drawn is skipped, not an error: the
    editor's words are still saved. Candidates the page did not list (they arrived
    since) keep their place after the listed ones.
    """
    candidates = lineup.candidates(issue.newsletter, issue, now)
    by_uuid = {str(c.story.uuid): c.story.id for c in candidates}
    order = [by_uuid[u] for u in dict.fromkeys(draft.order) if u in by_uuid]
    order += [c.story.id for c in candidates if c.story.id not in order]
    excluded = [i for u, i in by_uuid.items() if u in draft.order and u not in draft.included]
    return order, excluded


@atomic
def save_draft(public_id: str, draft: Draft, now: datetime) -> Issue:
    """Save the editor's words and story choice, or refuse all of it."""
    issue = _locked_draft(public_id)
    subject, preheader, intro = checked_words(draft)
    order, excluded = arranged(issue, draft, now)
    issue.subject_override, issue.preheader, issue.intro_override = subject, preheader, intro
    issue.story_order, issue.excluded_story_ids = order, excluded
    return issue


@atomic
def move_story(public_id: str, story_uuid: str, offset: int, now: datetime) -> Issue:
    """Move one story up (-1) or down (+1) in the issue's order."""
    issue = _locked_draft(public_id)
    order = [c.story for c in lineup.candidates(issue.newsletter, issue, now)]
    ids = [str(story.uuid) for story in order]
    if story_uuid not in ids:
        raise InvalidInput("That story is not in this issue.", "story")
    here = ids.index(story_uuid)
    there = max(0, min(len(order) - 1, here + offset))
    order.insert(there, order.pop(here))
    issue.story_order = [story.id for story in order]
    return issue


def _placed_in_period(issue: Issue, now: datetime) -> datetime:
    """When a story added to this issue counts as published: inside the issue's period,
    so the next issue does not carry it again."""
    latest = issue.period_end - timedelta(seconds=1)
    return max(issue.period_start, min(now, latest))


@atomic
def add_story_by_url(public_id: str, url: str, now: datetime, title: str = "") -> Story:
    """File the article at ``url`` in this issue, after its last story.

    Without a ``title`` the article's page is read for its title, summary and picture
    (:mod:`.page_meta`). A story already filed with that URL is reused.
    """
    issue = _locked_draft(public_id)
    checked = _checked_link(url, title)
    story = db.session.scalar(
        select(Story).where(Story.newsletter_id == issue.newsletter_id, Story.url == checked["url"])
    )
    if story is None:
        data = stories.StoryInput(
            title=title, url=checked["url"], published_at=_placed_in_period(issue, now)
        )
        if not title.strip():
            try:
                meta = page_meta.fetch_page_meta(
                    checked["url"], max_title=stories.MAX_TITLE, max_summary=stories.MAX_SUMMARY
                )
            except page_meta.PageMetaError as exc:
                raise InvalidInput(str(exc), "url") from exc
            data = stories.StoryInput(
                title=meta.title,
                url=checked["url"],
                summary=meta.summary,
                image_url=meta.image_url,
                published_at=data.published_at,
            )
        story, _ = stories.add_story(issue.newsletter.slug, data, source="admin")
    order = [c.story.id for c in lineup.candidates(issue.newsletter, issue, now)]
    issue.story_order = [i for i in order if i != story.id] + [story.id]
    issue.excluded_story_ids = [i for i in issue.excluded_story_ids or [] if i != story.id]
    return story


def _checked_link(url: str, title: str) -> dict:
    """The story API's checks, in the editor's words (the API's name its JSON fields)."""
    if not url.strip():
        raise InvalidInput("Enter the article's link, starting with https://.", "url")
    if len(url.strip()) > stories.MAX_URL:
        raise InvalidInput(f"That link is too long: at most {stories.MAX_URL:,} characters.", "url")
    try:
        return stories.checked_story(stories.StoryInput(title=title or "-", url=url))
    except InvalidInput as error:
        if error.field == "title":
            raise InvalidInput(
                f"Keep the title to one line of at most {stories.MAX_TITLE} characters.", "title"
            ) from error
        raise InvalidInput(
            "That is not a web page's link: enter one starting with https:// or http://.", "url"
        ) from error


@atomic
def set_overrides(
    slug: str, now: datetime, subject: str | None, intro: str | None, frequency: str | None = None
) -> Issue:
    """Give a newsletter's next issue its own subject or intro (``flask digest edit``)."""
    issue = _locked_draft(str(open_next_issue(slug, now, frequency).uuid))
    draft = Draft(
        subject=issue.subject_override or "" if subject is None else subject,
        preheader=issue.preheader or "",
        intro=issue.intro_override or "" if intro is None else intro,
    )
    issue.subject_override, _, issue.intro_override = checked_words(draft)
    return issue
