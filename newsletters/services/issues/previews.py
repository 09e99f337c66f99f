"""Previews and test sends of an issue, as the editor sees them before readers do.

Both are rendered by :func:`compose.render_issue`, the code that renders the issue
for its readers, with sample links in place of a reader's own. A test goes only to
the addresses given, marked "[Test]". Either can be in any language the site offers,
as a reader who saved it would get the issue (the default language otherwise).
"""

from datetime import datetime

from newsletters import locales
from newsletters.errors import InvalidInput
from newsletters.models import Issue, IssueStatus, Newsletter
from newsletters.services.catalogue import newsletter_by_slug
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.transactions import atomic
from newsletters.services.issues import (
    archive,
    compose,
    editing,
    lineup,
    tracking,
    translations,
)
from newsletters.services.issues.overview import issue_by_uuid
from newsletters.services.mail import links, outbox
from newsletters.services.mail.render import RenderedEmail

MAX_TEST_ADDRESSES = 10


def _with_draft(issue: Issue, draft: editing.Draft, now: datetime) -> Issue:
    """A copy of the issue, never saved, carrying the editor's unsaved changes."""
    subject, preheader, intro = editing.checked_words(draft)
    order, excluded = editing.arranged(issue, draft, now)
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


def render_preview(
    issue: Issue,
    now: datetime,
    draft: editing.Draft | None = None,
    language: str | None = None,
) -> RenderedEmail:
    """The issue as a reader would get it, with sample links; nothing is written.

    With a ``draft``, the editor's unsaved changes are shown. An issue that has been
    rendered is shown exactly as it went out. ``language``: as a reader who reads that
    language gets it (one the site does not offer reads as the default).
    """
    newsletter: Newsletter = issue.newsletter
    sample = links.external_url("public.lost_link")
    language = locales.reader_language(language)
    if issue.rendered_at is not None:
        email = translations.rendering_in(issue, language)
        # Shown to editors, not readers: nothing they open or click in it is counted.
        text, html = (tracking.without_counting(issue, body) for body in (email.text, email.html))
        return RenderedEmail(
            subject=email.subject,
            text=links.fill_sample_links(text, sample),
            html=links.fill_sample_links(html, sample),
        )
    if draft is not None and issue.status == IssueStatus.DRAFT:
        issue = _with_draft(issue, draft, now)
    with locales.writing_to(language):
        return compose.render_issue(
            newsletter,
            issue,
            lineup.lineup(newsletter, issue, now),
            preferences_url=sample,
            unsubscribe_url=sample,
            view_url=archive.view_link(newsletter, issue, otherwise=sample),
        )


def preview_next(
    slug: str, now: datetime, frequency: str | None = None, language: str | None = None
) -> tuple[Issue, RenderedEmail, int]:
    """A newsletter's next issue of a rhythm (its first without one) as it stands now,
    with sample links; nothing is written."""
    newsletter = newsletter_by_slug(slug)
    frequency = compose.checked_frequency(newsletter, frequency)
    period = compose.next_period(newsletter, now, frequency)
    issue = compose.existing_issue(newsletter, period, frequency) or Issue(
        newsletter=newsletter,
        frequency=frequency,
        period_start=period.start,
        period_end=period.end,
    )
    email = render_preview(issue, now, language=language)
    return issue, email, len(lineup.lineup(newsletter, issue, now))


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
def send_test(
    public_id: str, addresses: str, now: datetime, language: str | None = None
) -> list[str]:
    """Mail the issue, as it stands, to each address, marked as a test.

    The copies carry sample links, not any reader's, and go to these addresses only.
    """
    return _mail_test(issue_by_uuid(public_id), addresses, now, language)


@atomic
def send_test_of_next(
    slug: str, addresses: str, now: datetime, frequency: str | None = None
) -> list[str]:
    """Mail a newsletter's next issue, as it stands, as a test (see :func:`send_test`)."""
    issue, _, _ = preview_next(slug, now, frequency)
    return _mail_test(issue, addresses, now)


def _mail_test(
    issue: Issue, addresses: str, now: datetime, language: str | None = None
) -> list[str]:
    targets = test_addresses(addresses)
    email = render_preview(issue, now, language=language)
    marked = RenderedEmail(subject=f"[Test] {email.subject}", text=email.text, html=email.html)
    for target in targets:
        outbox.enqueue(kind=outbox.OutboxKind.TEST, to=target, email=marked)
    return targets
