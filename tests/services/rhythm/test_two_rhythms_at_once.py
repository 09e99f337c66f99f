"""Two rhythms of one newsletter due at once, sent by two racing `flask digest send`
processes: each reader gets exactly the one issue of their own rhythm, once."""

import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import (
    Delivery,
    Issue,
    IssueStatus,
    Newsletter,
    Story,
    Subscriber,
    Subscription,
    utcnow,
)
from newsletters.services.issues import schedule
from tests.conftest import ROOT
from tests.support.readers import add_newsletter, add_readers
from tests.support.stack import environment


@pytest.fixture
def settings(settings, smtp_server, tmp_path):
    settings.update(smtp_server.settings())
    settings["DIGEST_JOURNAL_DIR"] = str(tmp_path / "journal")
    settings["DIGEST_BATCH_SIZE"] = 50
    return settings


def _story(newsletter_id: int, title: str, published) -> Story:
    return Story(
        newsletter_id=newsletter_id,
        title=title,
        url=f"https://news.example.com/{title.replace(' ', '-')}",
        guid=title,
        published_at=published,
    )


def test_two_senders_send_a_daily_and_a_weekly_issue_each_to_its_own_readers_once(
    app, settings, smtp_server
):
    paper = add_newsletter(app, "paper", "The Paper", frequencies="weekly,daily")
    weekly_readers = add_readers(app, paper, 300, prefix="weekly")
    daily_readers = add_readers(app, paper, 300, prefix="daily")
    with app.app_context():
        daily_ids = select(Subscriber.id).where(Subscriber.email.like("daily%"))
        db.session.execute(
            update(Subscription)
            .where(Subscription.subscriber_id.in_(daily_ids))
            .values(frequency="daily")
        )
        newsletter = db.session.get(Newsletter, paper)
        day = schedule.due_period(newsletter, utcnow(), "daily")
        week = schedule.due_period(newsletter, utcnow(), "weekly")
        db.session.add(_story(paper, "Yesterday's story", day.end - timedelta(hours=1)))
        if week.start < day.start:  # a story of the week that is not yesterday's
            db.session.add(_story(paper, "Earlier story", day.start - timedelta(minutes=1)))
        db.session.commit()

    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "digest", "send"],
            cwd=ROOT,
            env=environment(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs

    received = Counter(smtp_server.recipients)
    assert set(received) == set(weekly_readers) | set(daily_readers)
    assert set(received.values()) == {1}
    for message in smtp_server.messages:
        text = message.get_body(("plain",)).get_content()
        is_daily = str(message["To"]).startswith("daily")
        assert "Yesterday's story" in text
        assert ("Earlier story" in text) == (not is_daily and week.start < day.start)
    with app.app_context():
        issues = db.session.execute(
            select(Issue.frequency, Issue.status, func.count(Delivery.id))
            .join(Delivery, Delivery.issue_id == Issue.id)
            .group_by(Issue.frequency, Issue.status)
        ).all()
        assert sorted(issues) == [
            ("daily", IssueStatus.SENT, 300),
            ("weekly", IssueStatus.SENT, 300),
        ]
    assert "paper/daily" in "".join(outputs) and "paper/weekly" in "".join(outputs)
