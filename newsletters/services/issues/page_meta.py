"""What an article's own page says about it: title, summary and picture, for a story by URL.

An editor pastes an article's address into the issue editor; we fetch the page
through :mod:`core.outbound` (public addresses only, one deadline, a size cap) and
read the tags publishers already write for link previews: Open Graph first, then
the page's ``<title>`` and description. Nothing on the page is run or kept but
these three texts, each cleaned and cut to what a story holds.
"""

import html
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from newsletters.services.core import outbound

# An editor is waiting: a page that has not answered in this long is given up on.
FETCH_SECONDS = 10.0
USER_AGENT = "newsletters-story-preview/1.0"


@dataclass(frozen=True)
class PageMeta:
    """An article's title, summary and picture, as its page describes them."""

    title: str
    summary: str
    image_url: str | None


class PageMetaError(Exception):
    """The page could not be read, or says nothing we can use; the text is for the editor."""


class _HeadReader(HTMLParser):
    """Collects ``<meta>`` properties and the ``<title>`` text, and stops at ``<body>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title_parts: list[str] = []
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        values = {name.lower(): value or "" for name, value in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and key not in self.meta and values.get("content"):
                self.meta[key] = values["content"]
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title and not self.done:
            self.title_parts.append(data)


def _one_line(value: str, limit: int) -> str:
    text = " ".join(html.unescape(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def read_page(body: bytes, page_url: str, *, max_title: int, max_summary: int) -> PageMeta:
    """The title, summary and https picture a page's head declares."""
    reader = _HeadReader()
    reader.feed(body.decode("utf-8", errors="replace"))
    meta = reader.meta
    title = meta.get("og:title") or meta.get("twitter:title") or "".join(reader.title_parts)
    summary = (
        meta.get("og:description") or meta.get("description") or meta.get("twitter:description")
    )
    image = meta.get("og:image") or meta.get("twitter:image") or ""
    image_url = urljoin(page_url, image.strip()) if image.strip() else None
    if image_url and urlsplit(image_url).scheme != "https":
        image_url = None  # issues and the archive show pictures over https only
    return PageMeta(
        title=_one_line(title or "", max_title),
        summary=_one_line(summary or "", max_summary),
        image_url=image_url if image_url and len(image_url) <= 2048 else None,
    )


def fetch_page_meta(url: str, *, max_title: int, max_summary: int) -> PageMeta:
    """Fetch ``url`` and read its head, or :class:`PageMetaError` saying why not."""
    try:
        response = outbound.fetch(
            url,
            headers={"User-Agent": USER_AGENT, "Accept": "text/html"},
            timeout=FETCH_SECONDS,
        )
    except outbound.OutboundError as exc:
        raise PageMetaError(f"We could not read that page: {exc}") from exc
    if response.status != 200:
        raise PageMetaError(f"That page answered {response.status} {response.reason}.")
    meta = read_page(response.body, response.url, max_title=max_title, max_summary=max_summary)
    if not meta.title:
        raise PageMetaError("That page has no title. Enter one yourself.")
    return meta
