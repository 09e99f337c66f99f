"""Pulling stories from newsletters' RSS and Atom feeds.

A feed that cannot be fetched or parsed is reported and skipped; the other
feeds are still pulled. Entries are de-duplicated by their guid, so pulling
the same feed twice adds nothing.
"""

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser

from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import Newsletter
from newsletters.services.core import outbound
from newsletters.services.issues.stories import StoryInput, add_new_stories, checked_story

log = logging.getLogger(__name__)

SUMMARY_LENGTH = 600
USER_AGENT = "newsletters-feed-puller/1.0"


@dataclass
class FeedResult:
    """What pulling one newsletter's feed did."""

    newsletter: str
    added: int = 0
    entries: int = 0
    skipped: int = 0
    not_modified: bool = False
    error: str | None = None

    def summary(self) -> str:
        """One line for cron's log."""
        if self.error:
            return f"{self.newsletter}: FAILED: {self.error}"
        if self.not_modified:
            return f"{self.newsletter}: not modified"
        line = f"{self.newsletter}: {self.added} new of {self.entries} entries"
        return line + (f", {self.skipped} unusable" if self.skipped else "")


class FeedError(Exception):
    """A feed that could not be fetched or is not RSS/Atom."""


def pull_feeds(slug: str | None = None) -> list[FeedResult]:
    """Pull every newsletter's feed (or one newsletter's), each in its own transaction."""
    query = select(Newsletter).where(Newsletter.feed_url.is_not(None), Newsletter.in_service)
    if slug:
        query = query.where(Newsletter.slug == slug)
    results = []
    for newsletter in db.session.scalars(query.order_by(Newsletter.slug)).all():
        try:
            results.append(pull_feed(newsletter))
        except FeedError as exc:
            db.session.rollback()
            log.warning("feed for %s failed: %s", newsletter.slug, exc)
            results.append(FeedResult(newsletter.slug, error=str(exc)))
    return results


def pull_feed(newsletter: Newsletter) -> FeedResult:
    """Fetch, parse and store one feed's new entries."""
    body, etag, modified = _fetch(newsletter)
    result = FeedResult(newsletter.slug)
    if body is None:
        result.not_modified = True
        return result
    # A stream, never bytes: given bytes that name a path, feedparser reads that local file.
    import feedparser  # loaded only when a feed is fetched

    parsed = feedparser.parse(io.BytesIO(body))
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no RSS or Atom entries found"
        raise FeedError(f"not a valid RSS or Atom feed ({reason})")
    stories = []
    for entry in parsed.entries:
        try:
            stories.append(checked_story(_story_input(entry)))
        except InvalidInput:
            result.skipped += 1
    result.entries = len(parsed.entries)
    result.added = add_new_stories(newsletter, _unique(stories), source="feed")
    newsletter.feed_etag, newsletter.feed_modified = etag, modified
    db.session.commit()
    return result


def _unique(stories: list[dict]) -> list[dict]:
    """One story per guid, the first seen: a feed that repeats an entry must not fail the insert."""
    first: dict[str, dict] = {}
    for story in stories:
        first.setdefault(story["guid"], story)
    return list(first.values())


def _fetch(newsletter: Newsletter) -> tuple[bytes | None, str | None, str | None]:
    """The feed's bytes and validators; no bytes when the server says it has not changed.

    The request goes through ``core/outbound``: an admin's feed URL, or a redirect
    from it, must not reach this machine or its private network.
    """
    headers = {"User-Agent": USER_AGENT}
    if newsletter.feed_etag:
        headers["If-None-Match"] = newsletter.feed_etag
    if newsletter.feed_modified:
        headers["If-Modified-Since"] = newsletter.feed_modified
    try:
        response = outbound.fetch(newsletter.feed_url, headers=headers)
    except outbound.OutboundError as exc:
        raise FeedError(str(exc)) from exc
    if response.status == 304:
        return None, newsletter.feed_etag, newsletter.feed_modified
    if not 200 <= response.status < 300:
        raise FeedError(f"the server answered {response.status} {response.reason}")
    return response.body, response.headers.get("ETag"), response.headers.get("Last-Modified")


def _story_input(entry) -> StoryInput:
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return StoryInput(
        title=plain_text(entry.get("title", "")),
        url=entry.get("link", ""),
        summary=_shorten(plain_text(entry.get("summary", ""))),
        published_at=datetime(*published[:6], tzinfo=UTC) if published else None,
        guid=(entry.get("id") or entry.get("link") or "")[:512],
        image_url=_image(entry),
    )


def _image(entry) -> str | None:
    for media in entry.get("media_thumbnail", []) + entry.get("media_content", []):
        if media.get("url") and media.get("medium", "image") == "image":
            return media["url"]
    for enclosure in entry.get("enclosures", []):
        if enclosure.get("type", "").startswith("image/") and enclosure.get("href"):
            return enclosure["href"]
    return None


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(markup: str) -> str:
    """The text of an HTML fragment, on one line: feeds' summaries carry markup."""
    extractor = _TextExtractor()
    extractor.feed(markup or "")
    extractor.close()
    return " ".join(" ".join(extractor.parts).split())


def _shorten(text: str) -> str:
    if len(text) <= SUMMARY_LENGTH:
        return text
    return text[:SUMMARY_LENGTH].rsplit(" ", 1)[0] + "…"
