"""An issue's email HTML made into a copy for the web: the same words, safe on our pages.

An issue is rendered once (see :mod:`.compose`) with placeholders where each
reader's own links go. A web copy keeps the email's body and leaves out what
belongs to the mail: its masthead, the heading the page already shows, the
"View in browser" line and, for the public archive, the footer with the
reader's links. Whatever the stored HTML holds, the copy holds only the
elements and attributes listed here: no script, no style, no ids, no event
handlers, links only to ``http``, ``https`` and ``mailto`` addresses, and
pictures only from ``https`` ones.
Headings move down a level, so the page's own ``<h1>`` stays the only one.
"""

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

ALLOWED = {
    "a", "b", "blockquote", "br", "div", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "small", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
VOID = {"br", "hr", "img", "input", "link", "meta", "base", "source", "wbr", "col", "area"}
# Left out with everything inside them.
DROPPED = {
    "audio", "button", "canvas", "embed", "form", "head", "iframe", "math", "noscript",
    "object", "script", "select", "style", "svg", "template", "textarea", "title", "video",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Pictures over https only: the archive's pages allow no other (and an https page would
# not show them), so a picture at an http address is left out rather than shown broken.
URL_SCHEMES = {"href": ("http", "https", "mailto"), "src": ("https",)}
NUMBER = re.compile(r"[0-9]{1,4}")
CLASS_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
PLACEHOLDER = re.compile(r"__NL_[A-Z_]+__")
# The parts of an issue email the web copy never shows.
MAIL_ONLY = {"masthead", "issue-head", "view-in-browser", "preheader", "open-pixel"}
READER_PART = "footer"  # "you're receiving this", with the reader's own links
BODY_PART = "content"
SUMMARY_LENGTH = 200
# A link around nothing but a decorative picture repeats the headline link next to it: kept
# for the mouse, hidden from screen readers and the keyboard (it has no words to announce).
BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
PICTURE_LINK = re.compile(r'<a( [^>]*)?>(<img [^>]*alt=""[^>]*>)</a>')


@dataclass(frozen=True)
class WebCopy:
    """An issue's body as safe HTML, and a line of plain text that says what is in it."""

    html: str
    summary: str


def _classes(value: str | None) -> list[str]:
    return [name for name in (value or "").split() if CLASS_NAME.fullmatch(name)]


def _safe_url(value: str, attribute: str) -> str | None:
    url = value.strip()
    if not url or any(ord(ch) < 32 or ord(ch) == 127 for ch in url) or PLACEHOLDER.search(url):
        return None
    scheme = urlsplit(url).scheme.lower()
    return url if scheme in URL_SCHEMES[attribute] else None


class _Copier(HTMLParser):
    """Walks the email's HTML once, writing out what may be shown."""

    def __init__(self, *, keep_footer: bool, rewrite_link) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_classes = MAIL_ONLY if keep_footer else MAIL_ONLY | {READER_PART}
        self.keep_classes = {BODY_PART, READER_PART} if keep_footer else {BODY_PART}
        self.rewrite_link = rewrite_link
        # One entry per open element: its name, what we wrote for it, and whether it
        # starts a kept part, starts a dropped part, or is the intro.
        self.stack: list[tuple[str, str | None, bool, bool, bool]] = []
        self.dropping = 0
        self.keeping = 0
        self.found_kept = False
        self.everything: list[str] = []
        self.kept: list[str] = []
        self.intro: list[str] = []
        self.titles: list[str] = []
        self.texts: list[str] = []

    # --- what is written ----------------------------------------------------------------

    def _write(self, piece: str) -> None:
        if self.dropping:
            return
        self.everything.append(piece)
        if self.keeping:
            self.kept.append(piece)

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        allowed = ATTRIBUTES.get(tag, set())
        written = []
        for name, value in attrs:
            if name == "class":
                value = " ".join(_classes(value)) or None
            elif name not in allowed or value is None:
                continue
            elif name in URL_SCHEMES:
                value = _safe_url(value, name)
                if value is not None and name == "href":
                    value = self.rewrite_link(value)
            elif name in ("width", "height", "colspan", "rowspan"):
                value = value if NUMBER.fullmatch(value.strip()) else None
            if value is not None:
                written.append(f' {name}="{html.escape(value, quote=True)}"')
        if tag == "a" and any(a.startswith(" href=") for a in written):
            written.append(' rel="noopener"')
        return "".join(written)

    @staticmethod
    def _shifted(tag: str) -> str:
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "12345":
            return f"h{int(tag[1]) + 1}"
        return tag

    # --- the parser's events ------------------------------------------------------------

    def handle_starttag(self, tag, attrs):
        classes = set(_classes(dict(attrs).get("class")))
        if tag in VOID:
            if tag in ALLOWED and not (classes & self.drop_classes):
                self._write(f"<{tag}{self._attributes(tag, attrs)}>")
            return
        drops = tag in DROPPED or bool(classes & self.drop_classes)
        keeps = bool(classes & self.keep_classes) and not drops
        if drops:
            self.dropping += 1
        if keeps:
            self.keeping += 1
            self.found_kept = True
        written = self._shifted(tag) if tag in ALLOWED else None
        if written:
            self._write(f"<{written}{self._attributes(tag, attrs)}>")
        self.stack.append((tag, written, keeps, drops, "intro" in classes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in VOID or not any(entry[0] == tag for entry in self.stack):
            return
        while self.stack:
            name, written, keeps, drops, _ = self.stack.pop()
            if written:
                self._write(f"</{written}>")
            self.keeping -= keeps
            self.dropping -= drops
            if name == tag:
                return

    def handle_data(self, data):
        text = PLACEHOLDER.sub("", data)
        self._write(html.escape(text, quote=False))
        if self.dropping or not text.strip():
            return
        words = " ".join(text.split())
        if self.keeping or not self.found_kept:
            self.texts.append(words)
        if any(entry[4] for entry in self.stack):
            self.intro.append(words)
        elif any(entry[0] == "h2" for entry in self.stack):
            self.titles.append(words)

    # --- the result ---------------------------------------------------------------------

    def copy(self) -> WebCopy:
        while self.stack:
            self.handle_endtag(self.stack[-1][0])
        body = "".join(self.kept if self.found_kept else self.everything).strip()
        body = BLANK_LINES.sub("\n", body)  # what the template's tags left behind
        body = PICTURE_LINK.sub(r'<a\1 aria-hidden="true" tabindex="-1">\2</a>', body)
        return WebCopy(html=body, summary=self._summary())

    def _summary(self) -> str:
        if self.intro:
            text = " ".join(self.intro)
        elif self.titles:
            text = "In this issue: " + "; ".join(dict.fromkeys(self.titles))
        else:
            text = " ".join(self.texts)
        return shortened(text, SUMMARY_LENGTH)


def shortened(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word to at most ``limit`` characters (ending in "…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return f"{cut}…"


def web_copy(
    email_html: str, *, keep_footer: bool = False, rewrite_link=lambda url: url
) -> WebCopy:
    """The email's body as HTML safe to show on a page, with a summary of it.

    ``keep_footer`` keeps the footer (for a reader's own copy, once their links
    are in it); otherwise the footer is left out. ``rewrite_link`` sees every
    link address that is kept and returns the one to write.
    """
    copier = _Copier(keep_footer=keep_footer, rewrite_link=rewrite_link)
    copier.feed(email_html or "")
    copier.close()
    return copier.copy()
