"""Stories: what a newsletter's issues are made of, from the API, feeds or the admin."""

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import Newsletter, Story, utcnow
from newsletters.services.catalogue import has_control_characters, newsletter_by_slug
from newsletters.services.core import sql
from newsletters.services.core.sql import insert
from newsletters.services.core.transactions import atomic

MAX_TITLE = 300
MAX_SUMMARY = 5000
MAX_URL = 2048
MAX_GUID = 512


@dataclass(frozen=True)
class StoryInput:
    """A story as submitted, before it is checked."""

    title: str
    url: str
    summary: str = ""
    published_at: datetime | str | None = None
    guid: str | None = None
    image_url: str | None = None


def _text(value, field: str, limit: int, *, required: bool = False, one_line: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string.", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} is required.", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} has at most {limit} characters.", field=field)
    if one_line and has_control_characters(value):
        raise InvalidInput(f"{field} must be on one line.", field=field)
    return value


def _url(value, field: str, *, required: bool) -> str | None:
    text = _text(value, field, MAX_URL, required=required)
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{field} must be an http or https URL.", field=field)
    return text


def _when(value) -> datetime:
    if value is None or value == "":
        return utcnow()
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(
                "published_at must be an ISO 8601 time, like 2026-11-27T08:00:00Z.",
                field="published_at",
            ) from exc
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:00-05:00 is past the last UTC datetime
        raise InvalidInput("published_at is out of range.", field="published_at") from exc


def checked_story(data: StoryInput) -> dict:
    """The column values of a valid story, or :class:`InvalidInput` naming the bad field."""
    url = _url(data.url, "url", required=True)
    return {
        "title": _text(data.title, "title", MAX_TITLE, required=True),
        "url": url,
        "summary": _text(data.summary, "summary", MAX_SUMMARY, one_line=False),
        "published_at": _when(data.published_at),
        "guid": _text(data.guid, "guid", MAX_GUID) or url,
        "image_url": _url(data.image_url, "image_url", required=False),
    }


@atomic
def add_story(newsletter_slug: str, data: StoryInput, source: str = "api") -> tuple[Story, bool]:
    """Add a story; a story with the same guid already there is returned instead.

    An archived newsletter takes none (:class:`InvalidInput`). Returns the story and
    whether it was created.
    """
    if not isinstance(newsletter_slug, str):  # an API body may hold anything
        raise InvalidInput("newsletter must be a newsletter's slug.", field="newsletter")
    newsletter = newsletter_by_slug(newsletter_slug)
    if not newsletter.in_service:
        raise InvalidInput(
            f"The newsletter {newsletter.slug!r} is archived and takes no new stories.",
            field="newsletter",
        )
    values = checked_story(data)
    existing = db.session.scalar(
        select(Story).where(Story.newsletter_id == newsletter.id, Story.guid == values["guid"])
    )
    if existing is not None:
        return existing, False
    story = Story(newsletter_id=newsletter.id, source=source, **values)
    db.session.add(story)
    db.session.flush()
    return story, True


def add_new_stories(newsletter: Newsletter, stories: list[dict], source: str) -> int:
    """Insert checked stories whose guid is new, in one statement; return how many were new.

    Runs in the caller's transaction.
    """
    if not stories:
        return 0
    now = utcnow()
    rows = [
        {"newsletter_id": newsletter.id, "source": source, "created_at": now, **s} for s in stories
    ]
    result = db.session.execute(
        insert(Story)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["newsletter_id", "guid"])
        .returning(Story.id)
    )
    return len(result.all())


def stories_between(newsletter: Newsletter, start: datetime, end: datetime) -> list[Story]:
    """The newsletter's stories published in [start, end), newest first."""
    return list(
        db.session.scalars(
            select(Story)
            .where(
                Story.newsletter_id == newsletter.id,
                Story.published_at >= start,
                Story.published_at < end,
            )
            .order_by(Story.published_at.desc(), Story.id.desc())
        )
    )


def story_by_uuid(public_id: str) -> Story:
    """A story by its public id, or :class:`NotFound`."""
    return sql.by_public_id(Story, public_id, "There is no such story.")


@atomic
def update_story(public_id: str, data: StoryInput) -> Story:
    """Change a story's text, link, image or time; its guid is its identity and stays."""
    story = story_by_uuid(public_id)
    values = checked_story(StoryInput(**{**data.__dict__, "guid": story.guid}))
    for name, value in values.items():
        setattr(story, name, value)
    return story


@atomic
def delete_story(public_id: str) -> Story:
    """Remove a story from future issues (issues already sent keep what they said)."""
    story = story_by_uuid(public_id)
    db.session.delete(story)
    return story


def latest_stories(newsletter: Newsletter | None = None, limit: int = 100) -> list[Story]:
    """The newest stories, of one newsletter or all."""
    query = select(Story).order_by(Story.published_at.desc(), Story.id.desc()).limit(limit)
    if newsletter is not None:
        query = query.where(Story.newsletter_id == newsletter.id)
    return list(db.session.scalars(query))
