"""The periods each rhythm's issues cover, on the publisher's wall clock (``TIMEZONE``).

A newsletter has one send hour and one send weekday. Its rhythms' boundaries are send
slots (that hour, local time) on:

- daily: every day;
- weekly: every send weekday;
- monthly: the first send weekday of each month.

So every monthly boundary is a weekly boundary, and every weekly boundary a daily one.
That nesting is what lets a reader change rhythm without losing or repeating a story
(see :mod:`.choice`). Slots are wall-clock times, so a daily period across a
daylight-saving change lasts 23 or 25 hours, and an issue still goes out at 8:00.
Nothing here reads or writes the database.
"""

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from newsletters.models import Newsletter


class Frequency(enum.StrEnum):
    """How often a reader gets a newsletter; declared from the finest to the coarsest."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


FREQUENCIES = tuple(f.value for f in Frequency)


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


def coarser(first: str, second: str) -> str:
    """The rhythm with the longer periods, whose boundaries are the other's too."""
    return max(first, second, key=FREQUENCIES.index)


def slot(newsletter: Newsletter, day: date) -> datetime:
    """The send time on ``day``, local wall-clock time, in UTC."""
    return datetime.combine(day, time(newsletter.send_hour), tzinfo=zone()).astimezone(UTC)


def _first_send_weekday(newsletter: Newsletter, year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(newsletter.send_weekday - first.weekday()) % 7)


def _month_after(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def _month_before(day: date) -> tuple[int, int]:
    return (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)


def _boundary_on_or_before(newsletter: Newsletter, frequency: str, day: date) -> date:
    """The latest boundary day of ``frequency`` on or before ``day`` (dates only)."""
    if frequency == Frequency.DAILY:
        return day
    if frequency == Frequency.WEEKLY:
        return day - timedelta(days=(day.weekday() - newsletter.send_weekday) % 7)
    first = _first_send_weekday(newsletter, day.year, day.month)
    return first if first <= day else _first_send_weekday(newsletter, *_month_before(day))


def _boundary_after(newsletter: Newsletter, frequency: str, day: date) -> date:
    """The boundary day of ``frequency`` that follows the boundary day ``day``."""
    if frequency == Frequency.DAILY:
        return day + timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        return day + timedelta(days=7)
    return _first_send_weekday(newsletter, *_month_after(day))


def _boundary_before(newsletter: Newsletter, frequency: str, day: date) -> date:
    """The boundary day of ``frequency`` before the boundary day ``day``."""
    if frequency == Frequency.DAILY:
        return day - timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        return day - timedelta(days=7)
    return _first_send_weekday(newsletter, *_month_before(day))


def _last_slot_day(newsletter: Newsletter, frequency: str, moment: datetime) -> date:
    """The local date of the latest boundary slot at or before ``moment``."""
    day = _boundary_on_or_before(newsletter, frequency, local(moment).date())
    if slot(newsletter, day) > moment:
        day = _boundary_before(newsletter, frequency, day)
    return day


def _period_from(newsletter: Newsletter, frequency: str, day: date) -> Period:
    following = _boundary_after(newsletter, frequency, day)
    return Period(slot(newsletter, day), slot(newsletter, following))


def due_period(newsletter: Newsletter, now: datetime, frequency: str) -> Period:
    """The period that ended at the latest slot of ``frequency``: what a run sends."""
    day = _last_slot_day(newsletter, frequency, now)
    return Period(
        slot(newsletter, _boundary_before(newsletter, frequency, day)), slot(newsletter, day)
    )


def current_period(newsletter: Newsletter, now: datetime, frequency: str) -> Period:
    """The period of ``frequency`` running at ``now``."""
    return _period_from(newsletter, frequency, _last_slot_day(newsletter, frequency, now))


def period_after(newsletter: Newsletter, period: Period, frequency: str) -> Period:
    """The period of ``frequency`` that starts when ``period`` ends."""
    return _period_from(newsletter, frequency, local(period.end).date())


def shared_boundary(newsletter: Newsletter, first: str, second: str, moment: datetime) -> datetime:
    """The next boundary both rhythms share after ``moment``: the end of the coarser
    one's period running then. A change between them takes effect there."""
    return current_period(newsletter, moment, coarser(first, second)).end
