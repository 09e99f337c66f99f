"""Which rhythms (daily, weekly, monthly) a newsletter's archive and feed tell apart.

A newsletter that offers one rhythm, and never sent another, has an archive of one
kind of issue: nothing there names a rhythm. One that offers several (or still has
issues of a rhythm it dropped) names each issue's rhythm, lets a reader see one
rhythm's issues (``?frequency=daily``), and has a feed per rhythm. Its plain feed is
its first rhythm's: the same stories come in every rhythm, so a feed reader following
them all would get each story two or three times.
"""

from uuid import UUID, uuid5

from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.locales import translated
from newsletters.models import Issue, Newsletter
from newsletters.services.issues.archive import GONE_OUT
from newsletters.services.rhythm.choice import RHYTHM_NAMES, default_frequency, offered
from newsletters.services.rhythm.periods import FREQUENCIES

UNKNOWN_RHYTHM = "The archive's rhythms are daily, weekly and monthly."


def archive_rhythms(newsletter: Newsletter) -> list[str]:
    """The rhythms offered, in the newsletter's order, then any dropped one whose issues
    are still in the archive: one query."""
    chosen = offered(newsletter)
    archived = set(
        db.session.scalars(
            select(Issue.frequency)
            .where(Issue.newsletter_id == newsletter.id, Issue.status.in_(GONE_OUT))
            .distinct()
        )
    )
    return chosen + [f for f in FREQUENCIES if f in archived and f not in chosen]


def names_rhythms(rhythms: list[str]) -> bool:
    """Whether the archive has more than one rhythm, and so names each issue's."""
    return len(rhythms) > 1


def chosen_rhythm(value: str | None) -> str | None:
    """The rhythm asked for in ``?frequency=``: None when absent (every rhythm);
    :class:`InvalidInput` for anything but daily, weekly or monthly."""
    if value is None or value == "":
        return None
    if value not in FREQUENCIES:
        raise InvalidInput(UNKNOWN_RHYTHM, field="frequency")
    return value


def feed_rhythm(newsletter: Newsletter, value: str | None) -> str | None:
    """The rhythm a feed carries: the one asked for, else the newsletter's first when its
    archive has several, else None (every issue, as a one-rhythm newsletter always had)."""
    chosen = chosen_rhythm(value)
    if chosen is not None:
        return chosen
    return default_frequency(newsletter) if names_rhythms(archive_rhythms(newsletter)) else None


def feed_id(newsletter: Newsletter, frequency: str | None) -> str:
    """The feed's Atom id: the newsletter's own for its plain feed (so those following it
    keep their feed), a name made from it for each other rhythm's."""
    if frequency is None or frequency == default_frequency(newsletter):
        return f"urn:uuid:{newsletter.uuid}"
    return f"urn:uuid:{uuid5(UUID(str(newsletter.uuid)), frequency)}"


def feed_title(newsletter: Newsletter, frequency: str | None) -> str:
    """The feed's title: the newsletter's name, and the rhythm's for a rhythm's own feed."""
    if frequency is None or frequency == default_frequency(newsletter):
        return newsletter.name
    return f"{newsletter.name} · {translated(RHYTHM_NAMES[frequency])}"
