"""The issue editor: an issue's words and stories while it is a draft, previews, tests.

An editor opens the next issue of a newsletter (it is created as a draft if need
be), changes its subject, preheader and intro, chooses and orders its stories, adds
a story by its URL, previews it and mails tests. Each change is one transaction
that first locks the issue's row and checks it is still a draft, so an edit and a
run starting to send it cannot cross: once sending has begun, every edit is refused
(:class:`IssueStateConflict`, 409) and nothing is written.

Previews and tests are rendered by :func:`compose.render_issue`, the code that
renders the issue for its readers, with sample links in place of a reader's own.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from newsletters.errors import InvalidInput, IssueStateConflict
from newsletters.extensions import db
from newsletters.models import Issue, IssueStatus, Newsletter, Story
from newsletters.services.catalogue import (
    check_subject_template,
    has_control_characters,
    newsletter_by_slug,
)
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.transactions import atomic
from newsletters.services.issues import archive, compose, lineup, page_meta, stories
from newsletters.services.issues.overview import issue_by_uuid
from newsletters.services.mail import links, outbox
from newsletters.services.mail.render import RenderedEmail

MAX_PREHEADER = Issue.preheader.type.length
MAX_INTRO = 5000
MAX_TEST_ADDRESSES = 10
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
def open_next_issue(slug: str, now: datetime) -> Issue:
    """The draft of a newsletter's next issue, created if there is none yet."""
    newsletter = newsletter_by_slug(slug)
    if not newsletter.in_service:
        raise InvalidInput(f"{newsletter.name} is archived: it sends no issues.")
    return compose.issue_for(newsletter, compose.next_period(newsletter, now))


def _checked_words(draft: Draft) -> tuple[str | None, str | None, str | None]:
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


def _arrange(issue: Issue, draft: Draft, now: datetime) -> tuple[list[int], list[int]]:
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
    subject, preheader, intro = _checked_words(draft)
    order, excluded = _arrange(issue, draft, now)
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
    checked = stories.checked_story(stories.StoryInput(title=title or "-", url=url))
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


# --- previews and tests ------------------------------------------------------------------


def _with_draft(issue: Issue, draft: Draft, now: datetime) -> Issue:
    """A copy of the issue, never saved, carrying the editor's unsaved changes."""
    subject, preheader, intro = _checked_words(draft)
    order, excluded = _arrange(issue, draft, now)
    return Issue(
        newsletter=issue.newsletter,
        uuid=issue.uuid,
        period_start=issue.period_start,
        period_end=issue.period_end,
        subject_override=subject,
        preheader=preheader,
        intro_override=intro,
        story_order=order,
        excluded_story_ids=excluded,
    )


def render_preview(issue: Issue, now: datetime, draft: Draft | None = None) -> RenderedEmail:
    """The issue as a reader would get it, with sample links; nothing is written.

    With a ``draft``, the editor's unsaved changes are shown. An issue that has been
    rendered is shown exactly as it went out.
    """
    newsletter: Newsletter = issue.newsletter
    sample = links.external_url("public.lost_link")
    if issue.rendered_at is not None:
        return RenderedEmail(
            subject=issue.subject,
            text=links.fill_sample_links(issue.text_body, sample),
            html=links.fill_sample_links(issue.html_body, sample),
        )
    if draft is not None and issue.status == IssueStatus.DRAFT:
        issue = _with_draft(issue, draft, now)
    return compose.render_issue(
        newsletter,
        issue,
        lineup.lineup(newsletter, issue, now),
        preferences_url=sample,
        unsubscribe_url=sample,
        view_url=archive.view_link(newsletter, issue, otherwise=sample),
    )


def preview_next(slug: str, now: datetime) -> tuple[Issue, RenderedEmail, int]:
    """A newsletter's next issue as it stands now, with sample links; nothing is written."""
    newsletter = newsletter_by_slug(slug)
    period = compose.next_period(newsletter, now)
    issue = compose.existing_issue(newsletter, period) or Issue(
        newsletter=newsletter, period_start=period.start, period_end=period.end
    )
    return issue, render_preview(issue, now), len(lineup.lineup(newsletter, issue, now))


@atomic
def set_overrides(slug: str, now: datetime, subject: str | None, intro: str | None) -> Issue:
    """Give a newsletter's next issue its own subject or intro (``flask digest edit``)."""
    issue = _locked_draft(str(open_next_issue(slug, now).uuid))
    draft = Draft(
        subject=issue.subject_override or "" if subject is None else subject,
        preheader=issue.preheader or "",
        intro=issue.intro_override or "" if intro is None else intro,
    )
    issue.subject_override, _, issue.intro_override = _checked_words(draft)
    return issue


def test_addresses(text: str) -> list[str]:
    """The addresses in ``text`` (commas, spaces or lines between), checked and deduplicated."""
    found = [part for part in text.replace(",", " ").replace(";", " ").split() if part]
    if not found:
        raise InvalidInput("Enter at least one address to send the test to.", "addresses")
    addresses = list(dict.fromkeys(normalize_email(part) for part in found))
    if len(addresses) > MAX_TEST_ADDRESSES:
        raise InvalidInput(f"A test goes to at most {MAX_TEST_ADDRESSES} addresses.", "addresses")
    return addresses


@atomic
def send_test(public_id: str, addresses: str, now: datetime) -> list[str]:
    """Mail the issue, as it stands, to each address, marked as a test.

    The copies carry sample links, not any reader's, and go to these addresses only.
    """
    return _mail_test(issue_by_uuid(public_id), addresses, now)


@atomic
def send_test_of_next(slug: str, addresses: str, now: datetime) -> list[str]:
    """Mail a newsletter's next issue, as it stands, as a test (see :func:`send_test`)."""
    issue, _, _ = preview_next(slug, now)
    return _mail_test(issue, addresses, now)


def _mail_test(issue: Issue, addresses: str, now: datetime) -> list[str]:
    targets = test_addresses(addresses)
    email = render_preview(issue, now)
    marked = RenderedEmail(subject=f"[Test] {email.subject}", text=email.text, html=email.html)
    for target in targets:
        outbox.enqueue(kind=outbox.OutboxKind.TEST, to=target, email=marked)
    return targets
