"""The public web archive of each newsletter's issues, and each reader's own copy on the web.

The rules, in one place:

- A newsletter has an archive when it is public and its ``web_archive`` setting
  (the "archive" checkbox) is on. A private newsletter never has one, whatever
  the setting says; its readers get their own copy instead (below).
- A retired newsletter (archived in the console) keeps its archive: its past
  issues and its feed stay readable, but its pages offer no signup.
- An issue is in the archive once it has gone out: rendered and being sent, or
  sent. A reader who opens "View in browser" while the rest of the list is
  still being sent finds it there. Drafts and empty periods never appear.
- Archive pages show the issue as it was rendered once for everyone, in the page's
  language when the issue was rendered in it, with the reader's own links left out
  (see :mod:`.web_copy`): no page, feed or summary is ever rendered per reader, so
  none holds a reader's token.
- Every issue email has a "View in browser" link: the issue's archive page when
  the newsletter has an archive, the same for every reader; otherwise a signed
  link, made per reader, to that reader's own copy with their own working links.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select

from newsletters.errors import InvalidInput, InvalidToken, NotFound
from newsletters.extensions import db
from newsletters.locales import current_locale
from newsletters.models import Issue, IssueStatus, Newsletter, Subscriber
from newsletters.services.core import sql
from newsletters.services.core.tokens import Purpose, read_token
from newsletters.services.issues import translations
from newsletters.services.issues.web_copy import WebCopy, web_copy
from newsletters.services.mail.links import (
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    VIEW_PLACEHOLDER,
    ReaderLinks,
    external_url,
)

PAGE_SIZE = 20
GONE_OUT = (IssueStatus.SENDING, IssueStatus.SENT)
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")
# Paths of ours whose address holds a reader's token; never linked from a public page.
READER_PATHS = re.compile(r"/(?:confirm|preferences|unsubscribe|view)/")
NOT_FOUND = "There is no such page in the archive."


@dataclass(frozen=True)
class IssuePage:
    """One page of a newsletter's archive: its issues, newest first."""

    issues: list[Issue]
    number: int
    pages: int
    total: int


@dataclass(frozen=True)
class Shelf:
    """A newsletter on the archive's front page, with its latest issue and how many there are."""

    newsletter: Newsletter
    latest: Issue | None
    count: int


def has_archive(newsletter: Newsletter) -> bool:
    """The rule: public and with its archive on; retired ones keep theirs."""
    return bool(newsletter.is_public and newsletter.web_archive)


def _with_archive():
    return select(Newsletter).where(
        Newsletter.is_public.is_(True), Newsletter.web_archive.is_(True)
    )


def _gone_out(newsletter: Newsletter, frequency: str | None = None):
    """The newsletter's issues that went out: of one rhythm, or (None) of every rhythm."""
    query = select(Issue).where(Issue.newsletter_id == newsletter.id, Issue.status.in_(GONE_OUT))
    return query if frequency is None else query.where(Issue.frequency == frequency)


def shelves() -> list[Shelf]:
    """Every newsletter with an archive (those still published first), with its latest
    issue and how many it has: two queries, however many there are."""
    newsletters = list(
        db.session.scalars(_with_archive().order_by(Newsletter.is_archived, Newsletter.name))
    )
    if not newsletters:
        return []
    ranked = (
        select(
            Issue.id,
            func.row_number()
            .over(
                partition_by=Issue.newsletter_id,
                order_by=(Issue.rendered_at.desc(), Issue.id.desc()),
            )
            .label("rank"),
            func.count().over(partition_by=Issue.newsletter_id).label("count"),
        )
        .where(Issue.newsletter_id.in_([n.id for n in newsletters]), Issue.status.in_(GONE_OUT))
        .subquery()
    )
    latest = {
        issue.newsletter_id: (issue, count)
        for issue, count in db.session.execute(
            select(Issue, ranked.c.count)
            .join(ranked, ranked.c.id == Issue.id)
            .where(ranked.c.rank == 1)
        )
    }
    return [Shelf(n, *latest.get(n.id, (None, 0))) for n in newsletters]


def archive_of(slug: str) -> Newsletter:
    """The newsletter whose archive this is; :class:`NotFound` for an unknown or private
    slug, or one whose archive is off (the same answer, so a private one stays unseen)."""
    newsletter = db.session.scalar(_with_archive().where(Newsletter.slug == (slug or "")))
    if newsletter is None:
        raise NotFound(NOT_FOUND)
    return newsletter


def page_number(value: str | None) -> int:
    """The page asked for in ``?page=``: 1 when absent; :class:`InvalidInput` when it is
    not a whole number from 1 up."""
    if value is None or value == "":
        return 1
    if not PAGE_NUMBER.fullmatch(value):
        raise InvalidInput("The page number is a whole number, from 1.", field="page")
    return int(value)


def issues_page(newsletter: Newsletter, number: int = 1, frequency: str | None = None) -> IssuePage:
    """Page ``number`` of the newsletter's issues (of one rhythm, or of all), newest first,
    ``PAGE_SIZE`` to a page; :class:`NotFound` past the last page (page 1 always exists)."""
    gone_out = _gone_out(newsletter, frequency)
    total = db.session.scalar(select(func.count()).select_from(gone_out.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    if number > pages:
        raise NotFound(NOT_FOUND)
    issues = db.session.scalars(
        gone_out.order_by(Issue.rendered_at.desc(), Issue.id.desc())
        .offset((number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return IssuePage(list(issues), number, pages, total)


def latest_issues(
    newsletter: Newsletter, limit: int = PAGE_SIZE, frequency: str | None = None
) -> list[Issue]:
    """The newest issues that went out (of one rhythm, or of all), for the feed."""
    newest = _gone_out(newsletter, frequency).order_by(Issue.rendered_at.desc(), Issue.id.desc())
    return list(db.session.scalars(newest.limit(limit)))


def archived_issue(newsletter: Newsletter, public_id: str) -> Issue:
    """One issue of this newsletter that has gone out, by its public id; :class:`NotFound`
    for a malformed or unknown id, a draft, or another newsletter's issue."""
    issue = sql.by_public_id(Issue, public_id, NOT_FOUND)
    if issue.newsletter_id != newsletter.id or issue.status not in GONE_OUT:
        raise NotFound(NOT_FOUND)
    return issue


def neighbours(issue: Issue) -> tuple[Issue | None, Issue | None]:
    """The issues that went out just after and just before this one."""
    newsletter = issue.newsletter
    newer = db.session.scalar(
        _gone_out(newsletter)
        .where(
            (Issue.rendered_at > issue.rendered_at)
            | ((Issue.rendered_at == issue.rendered_at) & (Issue.id > issue.id))
        )
        .order_by(Issue.rendered_at, Issue.id)
        .limit(1)
    )
    older = db.session.scalar(
        _gone_out(newsletter)
        .where(
            (Issue.rendered_at < issue.rendered_at)
            | ((Issue.rendered_at == issue.rendered_at) & (Issue.id < issue.id))
        )
        .order_by(Issue.rendered_at.desc(), Issue.id.desc())
        .limit(1)
    )
    return newer, older


# --- addresses ---------------------------------------------------------------------------


def newsletter_url(newsletter: Newsletter) -> str:
    """The newsletter's archive page, on SITE_URL."""
    return external_url("archive.newsletter", slug=newsletter.slug)


def issue_url(newsletter: Newsletter, issue: Issue, language: str | None = None) -> str:
    """The issue's archive page, on SITE_URL (the same for every reader of ``language``)."""
    asked = {"lang": language} if language else {}
    return external_url("archive.issue", slug=newsletter.slug, issue_id=str(issue.uuid), **asked)


def feed_url(newsletter: Newsletter, frequency: str | None = None) -> str:
    """The newsletter's Atom feed (of one rhythm when ``frequency`` names it), on SITE_URL."""
    if frequency is None:
        return external_url("archive.feed", slug=newsletter.slug)
    return external_url("archive.feed", slug=newsletter.slug, frequency=frequency)


def signup_url(newsletter: Newsletter) -> str:
    """Where the archive sends a reader who wants the newsletter: its signup box."""
    return f"{newsletter_url(newsletter)}#subscribe"


def view_link(
    newsletter: Newsletter,
    issue: Issue,
    *,
    otherwise: str = VIEW_PLACEHOLDER,
    language: str | None = None,
) -> str:
    """The "View in browser" address written into an issue when it is rendered: its archive
    page (in ``language``, when that is not the default) when there is one, else
    ``otherwise`` (the placeholder each reader's own link replaces)."""
    if has_archive(newsletter) and issue.uuid is not None:
        return issue_url(newsletter, issue, language)
    return otherwise


# --- what the pages show -----------------------------------------------------------------


def public_copy(issue: Issue) -> WebCopy:
    """The issue as it was sent, for everyone: no reader's links, and any link that would
    need one leads to the newsletter's signup instead."""
    newsletter = issue.newsletter
    signup = signup_url(newsletter)
    site = urlsplit(external_url("public.index")).netloc

    def no_reader_links(url: str) -> str:
        parts = urlsplit(url)
        return signup if parts.netloc == site and READER_PATHS.search(parts.path) else url

    body = _filled(
        translations.rendering_in(issue, current_locale()).html,
        {
            UNSUBSCRIBE_PLACEHOLDER: signup,
            PREFERENCES_PLACEHOLDER: signup,
            VIEW_PLACEHOLDER: issue_url(newsletter, issue),
        },
    )
    return web_copy(body, rewrite_link=no_reader_links)


@dataclass(frozen=True)
class ReaderCopy:
    """One reader's own copy of an issue: the issue, and its body with their links."""

    issue: Issue
    copy: WebCopy


def reader_copy(token: str) -> ReaderCopy:
    """The copy a signed "View in browser" link names, with that reader's own links;
    :class:`InvalidToken` for a forged or tampered link, an erased reader or a gone issue."""
    payload = read_token(Purpose.VIEW, token)
    try:
        subscriber = sql.by_public_id(Subscriber, payload["s"], "gone")
        issue = sql.by_public_id(Issue, payload["i"], "gone")
    except (TypeError, KeyError, NotFound) as exc:
        raise InvalidToken() from exc
    if issue.status not in GONE_OUT:
        raise InvalidToken()
    reader = str(subscriber.uuid)
    links = ReaderLinks(issue.newsletter)
    body = _filled(
        translations.rendering_in(issue, current_locale()).html,
        {
            UNSUBSCRIBE_PLACEHOLDER: links.unsubscribe(reader),
            PREFERENCES_PLACEHOLDER: links.preferences(reader),
            VIEW_PLACEHOLDER: external_url("archive.reader_copy", token=token),
        },
    )
    return ReaderCopy(issue, web_copy(body, keep_footer=True))


def _filled(body: str | None, links: dict[str, str]) -> str:
    body = body or ""
    for placeholder, url in links.items():
        body = body.replace(placeholder, url)
    return body
