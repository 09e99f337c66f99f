"""The periods of daily, weekly and monthly issues, on the wall clock, across DST changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from newsletters.models import Newsletter
from newsletters.services.rhythm import periods
from newsletters.services.rhythm.periods import Period


def _utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _newsletter(weekday: int = 0, hour: int = 8) -> Newsletter:
    return Newsletter(slug="paper", name="Paper", send_weekday=weekday, send_hour=hour)


@pytest.fixture
def berlin(settings):
    settings["TIMEZONE"] = "Europe/Berlin"
    return settings


def test_a_daily_period_spans_25_hours_when_berlin_falls_back_and_23_when_it_springs(berlin, app):
    paper = _newsletter()
    with app.app_context():
        # Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET.
        autumn = periods.due_period(paper, _utc(2026, 10, 25, 8, 0), "daily")
        assert autumn == Period(_utc(2026, 10, 24, 6), _utc(2026, 10, 25, 7))
        assert autumn.end - autumn.start == timedelta(hours=25)
        after = periods.current_period(paper, _utc(2026, 10, 25, 12), "daily")
        assert after == Period(_utc(2026, 10, 25, 7), _utc(2026, 10, 26, 7))
        # Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST.
        spring = periods.due_period(paper, _utc(2026, 3, 29, 7), "daily")
        assert spring == Period(_utc(2026, 3, 28, 7), _utc(2026, 3, 29, 6))
        assert spring.end - spring.start == timedelta(hours=23)
        # Every slot is 8:00 on the wall clock, whatever the offset.
        for period in (autumn, after, spring):
            for moment in (period.start, period.end):
                assert moment.astimezone(ZoneInfo("Europe/Berlin")).hour == 8


def test_weekly_keeps_the_send_weekday_and_monthly_the_first_send_weekday(berlin, app):
    paper = _newsletter(weekday=0)  # Mondays at 8:00
    with app.app_context():
        week = periods.current_period(paper, _utc(2026, 10, 25, 12), "weekly")
        assert week == Period(_utc(2026, 10, 19, 6), _utc(2026, 10, 26, 7))
        # 1 October 2026 is a Thursday: the first Mondays are 5 October and 2 November.
        month = periods.current_period(paper, _utc(2026, 10, 25, 12), "monthly")
        assert month == Period(_utc(2026, 10, 5, 6), _utc(2026, 11, 2, 7))
        assert periods.due_period(paper, _utc(2026, 11, 2, 7), "monthly") == month
        assert periods.due_period(paper, _utc(2026, 11, 2, 6, 59), "monthly").end == month.start
        assert periods.period_after(paper, month, "monthly").end == _utc(2026, 12, 7, 7)
        # A month that begins on the send weekday starts on its first day.
        thursdays = _newsletter(weekday=3)
        october = periods.current_period(thursdays, _utc(2026, 10, 2), "monthly")
        assert october == Period(_utc(2026, 10, 1, 6), _utc(2026, 11, 5, 7))
        # Just before the first slot of a month, the period is still last month's.
        september = periods.current_period(thursdays, _utc(2026, 10, 1, 5, 59), "monthly")
        assert september == Period(_utc(2026, 9, 3, 6), _utc(2026, 10, 1, 6))


def test_every_monthly_boundary_is_a_weekly_one_and_every_weekly_one_a_daily_one(berlin, app):
    paper = _newsletter(weekday=2, hour=6)
    with app.app_context():
        month = periods.current_period(paper, _utc(2026, 1, 1), "monthly")
        for _ in range(14):  # over both DST changes
            week = periods.current_period(paper, month.start, "weekly")
            day = periods.current_period(paper, month.start, "daily")
            assert week.start == day.start == month.start
            while week.end < month.end:
                week = periods.period_after(paper, week, "weekly")
            assert week.end == month.end  # whole weeks tile the month
            month = periods.period_after(paper, month, "monthly")


@pytest.fixture
def new_york(settings):
    settings["TIMEZONE"] = "America/New_York"
    return settings


def test_the_us_zone_falls_back_a_week_later_and_the_periods_follow(new_york, app):
    paper = _newsletter(weekday=6, hour=7)  # Sundays at 7:00
    with app.app_context():
        # Sunday 1 November 2026: 02:00 EDT becomes 01:00 EST.
        day = periods.due_period(paper, _utc(2026, 11, 1, 12, 30), "daily")
        assert day == Period(_utc(2026, 10, 31, 11), _utc(2026, 11, 1, 12))
        assert day.end - day.start == timedelta(hours=25)
        week = periods.due_period(paper, _utc(2026, 11, 1, 12, 30), "weekly")
        assert week == Period(_utc(2026, 10, 25, 11), _utc(2026, 11, 1, 12))
        # Sunday 8 March 2026: 02:00 EST becomes 03:00 EDT; the first Sunday of March.
        month = periods.current_period(paper, _utc(2026, 3, 20), "monthly")
        assert month == Period(_utc(2026, 3, 1, 12), _utc(2026, 4, 5, 11))


def test_a_change_of_rhythm_waits_for_the_end_of_the_coarser_period(berlin, app):
    paper = _newsletter(weekday=0)
    wednesday = _utc(2026, 12, 9, 13)
    with app.app_context():
        next_monday = _utc(2026, 12, 14, 7)
        assert periods.shared_boundary(paper, "weekly", "daily", wednesday) == next_monday
        assert periods.shared_boundary(paper, "daily", "weekly", wednesday) == next_monday
        first_monday_of_january = _utc(2027, 1, 4, 7)
        assert periods.shared_boundary(paper, "weekly", "monthly", wednesday) == (
            first_monday_of_january
        )
        assert periods.shared_boundary(paper, "monthly", "daily", wednesday) == (
            first_monday_of_january
        )
