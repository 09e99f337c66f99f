"""Sent issues for the archive tests: one really sent, and older ones copied from it."""

import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Issue, IssueStatus, Newsletter, Story, Subscriber
from tests.support.mail import html_of, text_of
from tests.support.readers import add_newsletter, add_readers, add_stories

SITE = "http://newsletters.test"
READER_LINK = re.compile(
    r"https?://[^\s\"'<>]+/(?:unsubscribe|preferences|view|confirm)/[^\s\"'<>]+"
)
VIEW_LINK = re.compile(r"View in browser: (\S+)")


@dataclass
class SentIssue:
    """An issue sent to real readers through a real SMTP server, and what they received."""

    slug: str
    issue_uuid: str
    subject: str
    story_titles: list[str]
    messages: list
    subscriber_uuids: list[str]

    def reader_links(self) -> set[str]:
        """Every link in the mail that holds a reader's token."""
        found = set()
        for message in self.messages:
            found.update(READER_LINK.findall(text_of(message)))
            found.update(READER_LINK.findall(html_of(message)))
        return found

    def reader_tokens(self) -> set[str]:
        """The tokens themselves, as they appear at the end of those links."""
        return {link.rsplit("/", 1)[1] for link in self.reader_links()}

    def view_links(self) -> list[str]:
        """The "View in browser" link of each message's text part."""
        return [VIEW_LINK.search(text_of(m))[1] for m in self.messages]


def send_issue(
    app,
    runner,
    smtp_server,
    slug="the-weekly",
    name="The Weekly",
    readers=3,
    *,
    stories: list[tuple[str, str]] | None = None,
    description: str | None = None,
    **fields,
):
    """A newsletter with stories (the lead one with a picture) and readers, its issue sent.

    ``stories`` gives the stories' (title, summary), lead first, instead of numbered ones.
    """
    newsletter_id = add_newsletter(app, slug=slug, name=name, **fields)
    add_stories(app, newsletter_id, len(stories) if stories else 3)
    with app.app_context():
        if description is not None:
            db.session.get(Newsletter, newsletter_id).description = description
        rows = db.session.scalars(
            select(Story)
            .where(Story.newsletter_id == newsletter_id)
            .order_by(Story.published_at.desc())
        ).all()
        for row, (title, summary) in zip(rows, stories or [], strict=False):
            row.title, row.summary = title, summary
        rows[0].image_url = "https://images.example.com/lead.jpg"
        db.session.commit()
    before = len(smtp_server.messages)
    addresses = add_readers(app, newsletter_id, readers, prefix=f"{slug}-reader")
    result = runner.invoke(args=["digest", "send", "--newsletter", slug])
    assert result.exit_code == 0, result.output
    with app.app_context():
        issue = db.session.scalar(
            select(Issue)
            .where(Issue.newsletter_id == newsletter_id, Issue.status == IssueStatus.SENT)
            .order_by(Issue.id)
            .limit(1)
        )
        uuids = db.session.scalars(select(Subscriber.uuid).where(Subscriber.email.in_(addresses)))
        titles = list(
            db.session.scalars(select(Story.title).where(Story.newsletter_id == newsletter_id))
        )
        return SentIssue(
            slug=slug,
            issue_uuid=str(issue.uuid),
            subject=issue.subject,
            story_titles=titles,
            messages=smtp_server.messages[before:],
            subscriber_uuids=[str(u) for u in uuids],
        )


def add_past_issues(
    app, slug: str, count: int, *, status=IssueStatus.SENT, frequency: str = "weekly"
) -> list[str]:
    """``count`` earlier issues of the newsletter, one a week before the one sent, copied
    from it with their own subjects ("Week 1" is the newest, or "Daily 1" for another
    rhythm's); returns their uuids, newest first."""
    with app.app_context():
        newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
        sent = db.session.scalar(
            select(Issue)
            .where(Issue.newsletter_id == newsletter.id, Issue.status == IssueStatus.SENT)
            .order_by(Issue.period_start)
            .limit(1)
        )  # the oldest sent: a second call adds issues before the first call's
        made = []
        for week in range(1, count + 1):
            back = timedelta(weeks=week)
            issue = Issue(
                uuid=uuid4(),
                newsletter_id=newsletter.id,
                frequency=frequency,
                period_start=sent.period_start - back,
                period_end=sent.period_end - back,
                status=status,
                subject=f"Week {week}" if frequency == "weekly" else f"Daily {week}",
                text_body=sent.text_body,
                html_body=sent.html_body,
                story_ids=[],
                rendered_at=sent.rendered_at - back,
                completed_at=sent.rendered_at - back,
            )
            db.session.add(issue)
            made.append(issue)
        db.session.commit()
        return [str(issue.uuid) for issue in made]


def archive_routes(sent: SentIssue) -> list[str]:
    """The newsletter's archive page, the issue's page and the feed."""
    base = f"/archive/{sent.slug}"
    return [base, f"{base}/{sent.issue_uuid}", f"{base}/feed.xml"]


def assert_no_reader_token(body: str, sent: SentIssue) -> None:
    """Nothing that names a reader: no subscriber id, no token from their mail, no link
    to a page that takes one, no placeholder."""
    for uuid in sent.subscriber_uuids:
        assert uuid not in body
        assert uuid.replace("-", "") not in body
    tokens = sent.reader_tokens()
    assert tokens, "the mail should hold the readers' tokens"
    for token in tokens:
        assert token not in body
    assert not re.search(r"/(unsubscribe|preferences|view|confirm)/", body)
    assert "__NL_" not in body


def view_link_in(message) -> str:
    """The "View in browser" link of a message: the same in its text and HTML parts."""
    link = VIEW_LINK.search(text_of(message))[1]
    assert f'href="{link}"' in html_of(message)
    return link
