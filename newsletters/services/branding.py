"""A newsletter's branding: its logo, accent colour and footer text, and their rules.

The rules live here once. The catalogue applies them when a newsletter is saved
(:func:`clean_logo_url`, :func:`clean_accent`, :func:`clean_footer`), and every
email or page that shows the branding asks :func:`brand_of`, which applies them
again to what is stored: a value written straight into the database, or under
older rules, falls back to the default instead of reaching a reader. None of the
three can carry markup or CSS:

- the logo is an absolute ``https://`` URL of printable ASCII, without quotes,
  angle brackets, backslashes, spaces or credentials, and only ever goes into an
  ``<img src>`` (escaped like any attribute);
- the accent is exactly ``#rrggbb``, stored in lower case, the only thing put
  into CSS;
- the footer is plain text without HTML tags or control characters (newlines
  apart); it is escaped wherever it is shown, and its lines are joined with
  ``<br>`` after escaping.
"""

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from newsletters.errors import InvalidInput
from newsletters.models import Newsletter

DEFAULT_ACCENT = "#0b4f8a"  # the blue of every email's links without branding
MAX_LOGO_URL = Newsletter.brand_logo_url.type.length  # 2048, what the column holds
MAX_FOOTER = 1000
LOGO_HEIGHT = 48  # pixels, in emails and archive pages

ACCENT_PATTERN = re.compile(r"#[0-9a-f]{6}")
# Links are written in the accent on white: WCAG AA asks 4.5:1 for text that size.
MIN_ACCENT_CONTRAST = 4.5
HOST_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
TAG_PATTERN = re.compile(r"<[a-zA-Z/!?]")
NOT_IN_URL = set("\"'<>\\`{}|^")
# Joiners that emoji sequences and some scripts need; every other format character goes.
JOINERS = {"\u200c", "\u200d"}


@dataclass(frozen=True)
class Brand:
    """What an email or page shows of a newsletter's branding, every value checked."""

    logo_url: str | None
    accent: str
    footer: str
    logo_height: int = LOGO_HEIGHT

    @property
    def footer_lines(self) -> list[str]:
        """The footer's lines, for a template to escape one by one and join with <br>."""
        return self.footer.split("\n") if self.footer else []


def logo_url_problem(url: str) -> str | None:
    """What is wrong with a logo URL, or None when it may be shown in an ``<img>``."""
    if len(url) > MAX_LOGO_URL:
        return f"A logo URL has at most {MAX_LOGO_URL} characters."
    if any(not " " < char < "\x7f" or char in NOT_IN_URL for char in url):
        return (
            "A logo URL has no spaces, quotes, angle brackets or other special characters "
            "(copy it from the browser's address bar)."
        )
    if not url.lower().startswith("https://"):
        return "A logo URL starts with https:// (mail clients refuse images over plain http)."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return "This logo URL cannot be read; copy it from the browser's address bar."
    if "@" in parts.netloc:
        return "A logo URL must not carry a user name or password."
    if not parts.hostname or not HOST_PATTERN.fullmatch(parts.hostname):
        return "A logo URL names its host, like https://example.com/logo.png."
    return None


def contrast_on_white(accent: str) -> float:
    """WCAG 2 contrast ratio of ``#rrggbb`` against white (1 to 21)."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(accent[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def accent_problem(accent: str) -> str | None:
    """What is wrong with an accent colour, or None for ``#rrggbb`` (any case) that links
    can be written in on white and still be read (WCAG AA: 4.5:1)."""
    if not ACCENT_PATTERN.fullmatch(accent.lower()):
        return "An accent colour is # and six hexadecimal digits, like #0b4f8a."
    ratio = contrast_on_white(accent)
    if ratio < MIN_ACCENT_CONTRAST:
        return (
            f"Links in {accent.lower()} would be hard to read on white ({ratio:.1f}:1; they "
            f"need at least {MIN_ACCENT_CONTRAST}:1). Choose a darker colour."
        )
    return None


def footer_problem(footer: str) -> str | None:
    """What is wrong with a footer text, or None when it is plain text that fits."""
    if len(footer) > MAX_FOOTER:
        return f"The footer text has at most {MAX_FOOTER:,} characters."
    if any(_is_control(char) for char in footer):
        return "Footer text is plain text: line breaks are fine, tabs and other controls are not."
    if TAG_PATTERN.search(footer):
        return "Footer text is plain text: HTML tags (< followed by a letter) are not allowed."
    return None


def _is_control(char: str) -> bool:
    category = unicodedata.category(char)
    return char != "\n" and char not in JOINERS and (category[0] == "C" or category in {"Zl", "Zp"})


def clean_logo_url(url: str | None) -> str | None:
    """The logo URL to store, None to have none; :class:`InvalidInput` (``logo_url``)."""
    url = (url or "").strip()
    if not url:
        return None
    problem = logo_url_problem(url)
    if problem:
        raise InvalidInput(problem, field="logo_url")
    return url


def clean_accent(accent: str | None) -> str | None:
    """The accent to store, in lower case; :class:`InvalidInput` (``accent``).

    Empty, or the default colour itself (what a colour picker left alone sends), is
    stored as None: no choice made, so the newsletter follows the default.
    """
    accent = (accent or "").strip().lower()
    if not accent:
        return None
    problem = accent_problem(accent)
    if problem:
        raise InvalidInput(problem, field="accent")
    return None if accent == DEFAULT_ACCENT else accent


def clean_footer(footer: str | None) -> str:
    """The footer text to store (line breaks as ``\\n``, as typed otherwise); InvalidInput."""
    footer = (footer or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    problem = footer_problem(footer)
    if problem:
        raise InvalidInput(problem, field="footer")
    return footer


def brand_of(newsletter: Newsletter) -> Brand:
    """The newsletter's branding as it may be shown: each stored value checked again,
    and the default (no logo, the default accent, no footer) for one that fails."""
    logo = newsletter.brand_logo_url or ""
    accent = newsletter.brand_accent or ""
    footer = newsletter.brand_footer or ""
    return Brand(
        logo_url=logo if logo and not logo_url_problem(logo) else None,
        accent=accent.lower() if accent and not accent_problem(accent) else DEFAULT_ACCENT,
        footer=footer if not footer_problem(footer) else "",
    )
