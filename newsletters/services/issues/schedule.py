"""When issues fall due: the periods an issue covers, in the newsletter's own time.

Each of a newsletter's rhythms (daily, weekly, monthly) has its own periods, ending at
its send slots (see :mod:`newsletters.services.rhythm.periods`, which does the
arithmetic). Here the rhythm is optional: without one it is the newsletter's first,
so a newsletter with one rhythm needs no more words than before. Nothing here reads
or writes the database.
"""

from datetime import datetime, timedelta

from newsletters.locales import local_date, local_date_range
from newsletters.models import Newsletter
from newsletters.services.rhythm import periods
from newsletters.services.rhythm.choice import default_frequency
from newsletters.services.rhythm.periods import Period, local, zone

__all__ = [
    "Period",
    "current_period",
    "due_period",
    "local",
    "period_after",
    "period_label",
    "zone",
]


def due_period(newsletter: Newsletter, now: datetime, frequency: str | None = None) -> Period:
    """The period that ended at the latest send slot: what a scheduled run sends."""
    return periods.due_period(newsletter, now, frequency or default_frequency(newsletter))


def current_period(newsletter: Newsletter, now: datetime, frequency: str | None = None) -> Period:
    """The period running now: what ``--force`` and a preview show."""
    return periods.current_period(newsletter, now, frequency or default_frequency(newsletter))


def period_after(newsletter: Newsletter, period: Period, frequency: str | None = None) -> Period:
    """The period that starts when ``period`` ends."""
    return periods.period_after(newsletter, period, frequency or default_frequency(newsletter))


def period_label(start: datetime, end: datetime) -> str:
    """'21 – 27 November 2026', or '28 November – 4 December 2026', in local time and in
    the language being written (:func:`newsletters.locales.local_date_range`).

    A daily period ends the next morning, so it is named by the day it starts:
    '30 November 2026'."""
    first = start.astimezone(zone())
    last = (end - timedelta(seconds=1)).astimezone(zone())
    if end - start <= timedelta(hours=25):
        return local_date(first.date())
    return local_date_range(first.date(), last.date())
