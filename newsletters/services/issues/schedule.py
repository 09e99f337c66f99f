"""When issues fall due: the periods an issue covers, in the newsletter's own time.

A newsletter's period ends at its send slot (weekday and hour, in ``TIMEZONE``).
Slots are wall-clock times, so an issue still goes out at 8:00 across a
daylight-saving change. Nothing here reads or writes the database.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from newsletters.models import Newsletter


@dataclass(frozen=True)
class Period:
    """The stretch of time an issue covers: [start, end)."""

    start: datetime
    end: datetime


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local(moment: datetime) -> datetime:
    """``moment`` on the publisher's wall clock (``TIMEZONE``)."""
    return moment.astimezone(zone())


def _slot(newsletter: Newsletter, day: date) -> datetime:
    """The send time on ``day``, local wall-clock time, in UTC."""
    return datetime.combine(day, time(newsletter.send_hour), tzinfo=zone()).astimezone(UTC)


def _last_slot_day(newsletter: Newsletter, moment: datetime) -> date:
    """The local date of the latest send slot at or before ``moment``."""
    local = moment.astimezone(zone())
    day = local.date() - timedelta(days=(local.weekday() - newsletter.send_weekday) % 7)
    if _slot(newsletter, day) > moment:
        day -= timedelta(days=7)
    return day


def due_period(newsletter: Newsletter, now: datetime) -> Period:
    """The period that ended at the latest send slot: what a scheduled run sends."""
    day = _last_slot_day(newsletter, now)
    return Period(_slot(newsletter, day - timedelta(days=7)), _slot(newsletter, day))


def current_period(newsletter: Newsletter, now: datetime) -> Period:
    """The period running now: what ``--force`` and a preview show."""
    day = _last_slot_day(newsletter, now)
    return Period(_slot(newsletter, day), _slot(newsletter, day + timedelta(days=7)))


def period_after(newsletter: Newsletter, period: Period) -> Period:
    """The period that starts when ``period`` ends."""
    day = period.end.astimezone(zone()).date()
    return Period(_slot(newsletter, day), _slot(newsletter, day + timedelta(days=7)))


def period_label(start: datetime, end: datetime) -> str:
    """'21 – 27 November 2026', or '28 November – 4 December 2026', in local time."""
    first = start.astimezone(zone())
    last = (end - timedelta(seconds=1)).astimezone(zone())
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day} – {last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"
