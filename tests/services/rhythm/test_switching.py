"""A reader who changes rhythm gets every story once: none skipped, none twice.

The clock moves day by day through several periods; each morning the real send runs
against a real SMTP server, and what each reader received is read back from the
messages themselves.
"""

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from newsletters import locales
from newsletters.extensions import db
from newsletters.models import Delivery, Issue, IssueStatus, Newsletter
from newsletters.services import newsletter_settings
from newsletters.services.issues import rendering
from tests.support.readers import add_active_readers
from tests.support.rhythm import add_paper, live_through, messages_to, received, set_rhythm


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    settings["TIMEZONE"] = "Europe/Berlin"
    return settings


@pytest.fixture
def renders(monkeypatch):
    """How many times an issue was rendered for sending, by rhythm and language."""
    calls = Counter()
    real = rendering.render_issue

    def counting(newsletter, issue, stories, **links):
        if "preferences_url" not in links:  # the send's (previews pass sample links)
            calls[issue.frequency, locales.current_locale()] += 1
        return real(newsletter, issue, stories, **links)

    monkeypatch.setattr(rendering, "render_issue", counting)
    return calls


def _sent_issues(app) -> Counter:
    with app.app_context():
        rows = db.session.execute(
            select(Issue.frequency, func.count())
            .where(Issue.status == IssueStatus.SENT)
            .group_by(Issue.frequency)
        ).all()
        return Counter(dict(rows))


def _exactly_once(got: Counter, published: list[str]) -> None:
    assert set(got) == set(published), set(published) ^ set(got)
    assert all(count == 1 for count in got.values()), {t: n for t, n in got.items() if n > 1}


def test_weekly_to_daily_and_back_mid_week_gets_every_story_once(app, smtp_server, renders):
    paper = add_paper(app, "weekly,daily")
    add_active_readers(
        app, {"switcher@example.com": ["paper"], "steady@example.com": ["paper"],
              "early@example.com": ["paper"]}
    )  # fmt: skip
    set_rhythm(app, "early@example.com", "daily")
    switches = {
        date(2026, 10, 14): [("switcher@example.com", "daily")],  # a Wednesday
        date(2026, 10, 29): [("switcher@example.com", "weekly")],  # a Thursday
    }
    # Mondays 12 October to 9 November 2026, across the end of summer time (25 October).
    run = live_through(app, paper, date(2026, 10, 12), date(2026, 11, 9), switches)

    got = received(smtp_server)
    for address in ("switcher@example.com", "steady@example.com", "early@example.com"):
        _exactly_once(got[address], run.published)
    # Weekly until Monday 19 October, daily for two weeks, weekly again from 2 November.
    assert messages_to(smtp_server, "switcher@example.com") == 1 + 14 + 1
    assert messages_to(smtp_server, "steady@example.com") == 4
    assert messages_to(smtp_server, "early@example.com") == 28
    # Each issue was rendered once in each language, whoever got it.
    assert _sent_issues(app) == Counter({"weekly": 4, "daily": 28})
    assert renders == Counter(
        {(rhythm, language): count for rhythm, count in (("weekly", 4), ("daily", 28))
         for language in ("en", "es", "de")}
    )  # fmt: skip
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 16 + 4 + 28


def test_daily_to_weekly_mid_week_and_a_change_of_mind_gets_every_story_once(app, smtp_server):
    paper = add_paper(app, "daily,weekly")
    add_active_readers(app, {"switcher@example.com": ["paper"], "steady@example.com": ["paper"]})
    switches = {
        date(2026, 11, 4): [("switcher@example.com", "weekly")],  # Wednesday: from 9 November
        date(2026, 11, 5): [("switcher@example.com", "daily")],  # changed their mind: cancelled
        date(2026, 11, 6): [("switcher@example.com", "weekly")],  # Friday: from 9 November
    }
    run = live_through(app, paper, date(2026, 11, 2), date(2026, 11, 23), switches)

    got = received(smtp_server)
    _exactly_once(got["switcher@example.com"], run.published)
    _exactly_once(got["steady@example.com"], run.published)
    assert messages_to(smtp_server, "switcher@example.com") == 7 + 2
    assert messages_to(smtp_server, "steady@example.com") == 21


def test_monthly_to_weekly_and_back_gets_every_story_once(app, smtp_server):
    paper = add_paper(app, "monthly,weekly")
    add_active_readers(app, {"switcher@example.com": ["paper"], "steady@example.com": ["paper"]})
    switches = {
        date(2026, 10, 14): [("switcher@example.com", "weekly")],  # from 2 November
        date(2026, 11, 11): [("switcher@example.com", "monthly")],  # from 7 December
    }
    # From the first Monday of October to the first Monday of January.
    run = live_through(app, paper, date(2026, 10, 5), date(2027, 1, 4), switches)

    got = received(smtp_server)
    _exactly_once(got["switcher@example.com"], run.published)
    _exactly_once(got["steady@example.com"], run.published)
    # October monthly, five weeks of November, the December monthly.
    assert messages_to(smtp_server, "switcher@example.com") == 1 + 5 + 1
    assert messages_to(smtp_server, "steady@example.com") == 3


def test_readers_of_a_dropped_rhythm_finish_it_and_move_on_with_every_story_once(app, smtp_server):
    paper = add_paper(app, "weekly,daily")
    add_active_readers(app, {"daily@example.com": ["paper"], "steady@example.com": ["paper"]})
    set_rhythm(app, "daily@example.com", "daily")

    def drop_daily(now):
        with app.app_context():
            data = newsletter_settings.NewsletterInput(
                slug="paper", name="The Paper", frequencies="weekly"
            )
            uuid = str(db.session.get(Newsletter, paper).uuid)
            newsletter_settings.update_newsletter(uuid, data, now)

    # Wednesday 4 November the newsletter stops offering daily: its daily readers get
    # daily issues until Monday 9 November, weekly ones from then.
    switches = {date(2026, 11, 4): [drop_daily]}
    run = live_through(app, paper, date(2026, 11, 2), date(2026, 11, 23), switches)

    got = received(smtp_server)
    _exactly_once(got["daily@example.com"], run.published)
    _exactly_once(got["steady@example.com"], run.published)
    assert messages_to(smtp_server, "daily@example.com") == 7 + 2
    assert messages_to(smtp_server, "steady@example.com") == 3
    assert _sent_issues(app) == Counter({"daily": 7, "weekly": 3})  # no daily after the 9th
