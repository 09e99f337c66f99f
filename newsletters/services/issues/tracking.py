"""Counting links and the open pixel: what an issue's email links to, and their tokens.

With ``TRACK_CLICKS`` on, each story's links go through ``/r/<token>``; with
``TRACK_OPENS`` on, the HTML carries a 1x1 picture at ``/o/<token>.gif``. The tokens
are made once, when the issue is rendered, so every reader of the issue gets the very
same ones: a token names the issue and a link's position in it, and nothing else. It
cannot name a reader, because it is made before there is any reader to name.

The URL a click goes to is kept in ``issue_link`` and read from there; the token only
points at the row, so ``/r/`` can send nobody anywhere an issue did not link to.
"""

import re
from dataclasses import dataclass, field
from uuid import UUID

from flask import current_app
from sqlalchemy import select

from newsletters.errors import InvalidToken
from newsletters.extensions import db
from newsletters.models import Issue, IssueLink, Story
from newsletters.services.core.tokens import Purpose, make_token, read_token
from newsletters.services.mail.links import external_url

UUID_HEX = re.compile(r"^[0-9a-f]{32}$")
PIXEL_TAG = re.compile(r'<img class="open-pixel"[^>]*>')


def clicks_on() -> bool:
    """Whether new issues count clicks (``TRACK_CLICKS``)."""
    return bool(current_app.config["TRACK_CLICKS"])


def opens_on() -> bool:
    """Whether new issues count opens (``TRACK_OPENS``)."""
    return bool(current_app.config["TRACK_OPENS"])


@dataclass(frozen=True)
class Counting:
    """How one issue's email counts: where each story links to, and its pixel (if any)."""

    story_urls: list[str]
    pixel_url: str | None = None
    # (position, story URL) for each story link; kept only when clicks are counted.
    links: list[tuple[int, str]] = field(default_factory=list)

    @property
    def columns(self) -> dict:
        """The issue's own columns: whether it counts clicks and opens."""
        return {"track_clicks": bool(self.links), "track_opens": self.pixel_url is not None}

    def save(self, issue: Issue) -> None:
        """Keep the link rows, in the transaction that starts the sending."""
        db.session.add_all(
            IssueLink(issue_id=issue.id, position=position, url=url) for position, url in self.links
        )


def counting_for(issue: Issue, stories: list[Story]) -> Counting:
    """The story links and the pixel for an issue about to be rendered for sending."""
    plain = [story.url for story in stories]
    if not (clicks_on() or opens_on()):
        return Counting(plain)
    issue_key = issue.uuid.hex
    if clicks_on():
        urls = [click_url(issue_key, position) for position in range(1, len(stories) + 1)]
        links = list(enumerate(plain, start=1))
    else:
        urls, links = plain, []
    pixel = pixel_url(issue_key) if opens_on() else None
    return Counting(urls, pixel, links)


def click_url(issue_key: str, position: int) -> str:
    """The counted link to the story at ``position`` of the issue."""
    return external_url(
        "public.counted_click", token=make_token(Purpose.CLICK, [issue_key, position])
    )


def pixel_url(issue_key: str) -> str:
    """The issue's open pixel."""
    return external_url("public.counted_open", token=make_token(Purpose.OPEN, issue_key))


def read_click_token(token: str) -> tuple[UUID, int]:
    """The issue and position a click token names; :class:`InvalidToken` otherwise."""
    payload = read_token(Purpose.CLICK, token)
    if not (isinstance(payload, list) and len(payload) == 2):
        raise InvalidToken()
    issue_key, position = payload
    if type(position) is not int or position < 1:
        raise InvalidToken()
    return _issue_uuid(issue_key), position


def read_open_token(token: str) -> UUID:
    """The issue an open token names; :class:`InvalidToken` otherwise."""
    return _issue_uuid(read_token(Purpose.OPEN, token))


def _issue_uuid(value) -> UUID:
    if not isinstance(value, str) or not UUID_HEX.match(value):
        raise InvalidToken()
    return UUID(hex=value)


def without_counting(issue: Issue, body: str) -> str:
    """A sent issue's text or HTML with its counted links back to the stories and no pixel.

    For the console's preview and test copies: an editor looking at an issue is no reader.
    """
    if not (issue.track_clicks or issue.track_opens):
        return body
    body = PIXEL_TAG.sub("", body)
    if not issue.track_clicks:
        return body
    stories = dict(
        db.session.execute(
            select(IssueLink.position, IssueLink.url).where(IssueLink.issue_id == issue.id)
        ).all()
    )
    prefix = external_url("public.counted_click", token="TOKEN").removesuffix("TOKEN")
    pattern = re.compile(re.escape(prefix) + r"([A-Za-z0-9_.-]+)")

    def story(match: re.Match) -> str:
        try:
            named, position = read_click_token(match[1])
        except InvalidToken:
            return match[0]
        return stories.get(position, match[0]) if named == issue.uuid else match[0]

    return pattern.sub(story, body)
