"""Which of a newsletter's rhythms (daily, weekly, monthly) a run, an editor or a command
means, and how each is named. The periods and the readers' rule are in
:mod:`newsletters.services.rhythm`."""

from datetime import datetime

from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import Issue, Newsletter
from newsletters.services.issues.schedule import due_period
from newsletters.services.rhythm.choice import default_frequency, offered
from newsletters.services.rhythm.periods import FREQUENCIES


def label(newsletter: Newsletter, frequency: str) -> str:
    """How runs and commands name one rhythm of a newsletter: its slug alone when it has
    one rhythm, as it always was, else ``slug/daily``."""
    return (
        newsletter.slug if offered(newsletter) == [frequency] else f"{newsletter.slug}/{frequency}"
    )


def frequencies_to_send(newsletter: Newsletter, now: datetime) -> list[str]:
    """The rhythms a run looks at: those offered, then any the newsletter dropped while
    its issues still go out (readers on it move to the first at a shared boundary; until
    then each period has its issue, and the first period nobody is on ends the chain)."""
    chosen = offered(newsletter)
    return chosen + [f for f in FREQUENCIES if f not in chosen and _still_sent(newsletter, f, now)]


def _still_sent(newsletter: Newsletter, frequency: str, now: datetime) -> bool:
    """Whether the rhythm had an issue for the period before the one now due (or has one
    for that period): an index lookup, so a rhythm never offered costs next to nothing."""
    due = due_period(newsletter, now, frequency)
    return (
        db.session.scalar(
            select(Issue.id)
            .where(
                Issue.newsletter_id == newsletter.id,
                Issue.frequency == frequency,
                Issue.period_end >= due.start,
            )
            .limit(1)
        )
        is not None
    )


def checked_frequency(newsletter: Newsletter, frequency: str | None) -> str:
    """The rhythm an editor or a command means: the one named, which the newsletter
    must offer, or its first."""
    if frequency is None:
        return default_frequency(newsletter)
    if frequency not in offered(newsletter):
        raise InvalidInput(
            f"{newsletter.name} is sent {', '.join(offered(newsletter))}, not {frequency}.",
            "frequency",
        )
    return frequency
