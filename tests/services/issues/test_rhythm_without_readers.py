"""A rhythm a newsletter offers that nobody has chosen: no issue is made for it, nothing is
"sent", its archive lists no issue nobody received; once a reader chooses it, they get it once."""

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import Issue, Newsletter, Story, Subscription, utcnow
from newsletters.services.issues import schedule
from tests.support.readers import add_newsletter, add_readers


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def _stories_in_the_due_periods(app, newsletter_id: int) -> None:
    """A story in the daily period that ended last, and one in the weekly period that ended
    last: the due day lies outside the due week on the day after the weekly send."""
    with app.app_context():
        newsletter = db.session.get(Newsletter, newsletter_id)
        for frequency in ("daily", "weekly"):
            period = schedule.due_period(newsletter, utcnow(), frequency)
            db.session.add(
                Story(
                    newsletter_id=newsletter_id,
                    title=f"The river is running higher ({frequency})",
                    url=f"https://news.example.com/river-{frequency}",
                    summary="What happened, and why it matters.",
                    guid=f"river-{uuid4().hex}",
                    published_at=period.start + timedelta(hours=2),
                )
            )
        db.session.commit()


def _lines(result) -> dict[str, str]:
    assert result.exit_code == 0, result.output
    return {line.split(" ")[0]: line for line in result.output.splitlines() if line.strip()}


def _issues(app, frequency: str) -> list[Issue]:
    with app.app_context():
        return list(db.session.scalars(select(Issue).where(Issue.frequency == frequency)))


def test_a_rhythm_nobody_chose_makes_no_issue_until_a_reader_chooses_it(
    app, runner, client, smtp_server
):
    paper = add_newsletter(app, "the-paper", "The Paper", frequencies="weekly,daily")
    _stories_in_the_due_periods(app, paper)
    add_readers(app, paper, 2, prefix="weekly-reader")  # on the first rhythm, weekly

    dry = _lines(runner.invoke(args=["digest", "send", "--dry-run"]))
    assert dry["the-paper/daily"].endswith(": no readers")
    first = _lines(runner.invoke(args=["digest", "send"]))
    assert first["the-paper/daily"].endswith(": no readers")
    assert first["the-paper/weekly"].split(": ")[1].startswith("sent; sent 2,")
    assert _issues(app, "daily") == []  # no row, rendered nothing, "sent" nothing
    assert sorted(smtp_server.recipients) == [
        "weekly-reader0@example.com",
        "weekly-reader1@example.com",
    ]
    archive = client.get("/archive/the-paper").get_data(as_text=True)
    assert archive.count('class="issue-row__title"') == 1
    assert "Daily</span>" not in archive

    # A reader who chooses daily gets that day's issue on the next run, and only once.
    add_readers(app, paper, 1, prefix="daily-reader")
    with app.app_context():
        db.session.execute(
            update(Subscription)
            .where(
                Subscription.id
                == db.session.scalar(
                    select(Subscription.id).order_by(Subscription.id.desc()).limit(1)
                )
            )
            .values(frequency="daily")
        )
        db.session.commit()
    second = _lines(runner.invoke(args=["digest", "send"]))
    assert second["the-paper/daily"].split(": ")[1].startswith("sent; sent 1,")
    third = _lines(runner.invoke(args=["digest", "send"]))
    assert third["the-paper/daily"].endswith(": already sent")
    assert smtp_server.recipients.count("daily-reader0@example.com") == 1
    assert len(smtp_server.recipients) == 3
    [daily] = _issues(app, "daily")
    assert "Daily</span>" in client.get("/archive/the-paper").get_data(as_text=True)
    assert daily.subject


def test_a_newsletters_only_rhythm_still_goes_out_without_readers(app, runner, smtp_server):
    weekly = add_newsletter(app, "the-weekly", "The Weekly")
    _stories_in_the_due_periods(app, weekly)
    lines = _lines(runner.invoke(args=["digest", "send"]))
    assert lines["the-weekly"].split(": ")[1].startswith("sent; sent 0,")
    assert len(_issues(app, "weekly")) == 1
