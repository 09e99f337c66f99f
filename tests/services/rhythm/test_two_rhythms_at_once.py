"""Two rhythms of one newsletter due at once, sent by two racing `flask digest send`
processes, by a sender killed mid-send and the run after it, and by Celery workers:
each reader gets exactly the one issue of their own rhythm, once, in their language."""

import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
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
from tests.support.stack import celery_worker_on_own_queue, environment


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


def _stories(day: schedule.Period, week: schedule.Period) -> dict:
    """One story late in the due day and one early in the due week, by title."""
    return {
        "Yesterday's story": day.end - timedelta(hours=1),
        "The week's first story": week.start + timedelta(hours=1),
    }


@dataclass
class Paper:
    """A newsletter sent daily to some readers and weekly to the others, both due now."""

    weekly_readers: list[str]
    daily_readers: list[str]
    day: schedule.Period
    week: schedule.Period


def _paper(app, readers: int = 300) -> Paper:
    paper = add_newsletter(app, "paper", "The Paper", frequencies="weekly,daily")
    weekly_readers = add_readers(app, paper, readers, prefix="weekly")
    daily_readers = add_readers(app, paper, readers, prefix="daily")
    with app.app_context():
        daily_ids = select(Subscriber.id).where(Subscriber.email.like("daily%"))
        db.session.execute(
            update(Subscription)
            .where(Subscription.subscriber_id.in_(daily_ids))
            .values(frequency="daily")
        )
        # Every third reader reads Spanish: a resumed send keeps each reader's language.
        db.session.execute(update(Subscriber).where(Subscriber.id % 3 == 0).values(locale="es"))
        newsletter = db.session.get(Newsletter, paper)
        day = schedule.due_period(newsletter, utcnow(), "daily")
        week = schedule.due_period(newsletter, utcnow(), "weekly")
        # The due day need not lie inside the due week (on the day after the weekly send it
        # does not), so each rhythm gets a story of its own period; which reader gets which
        # story is worked out from the periods, never from the day the test runs on.
        for title, published in _stories(day, week).items():
            db.session.add(_story(paper, title, published))
        db.session.commit()
    return Paper(weekly_readers, daily_readers, day, week)


def _flask_send(settings, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "digest", "send", *args],
        cwd=ROOT,
        env=environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _assert_each_reader_got_their_own_issue_once(
    app, smtp_server, paper: Paper, readers: int, on_the_wire: int = 0
):
    """``on_the_wire``: how many messages a kill may have caught between the server's
    answer and the journal's line, so that they went twice (at most one per sender)."""
    received = Counter(smtp_server.recipients)
    assert set(received) == set(paper.weekly_readers) | set(paper.daily_readers)
    repeated = {to: n for to, n in received.items() if n > 1}
    assert len(repeated) <= on_the_wire and set(repeated.values()) <= {2}, repeated
    with app.app_context():
        spanish = set(db.session.scalars(select(Subscriber.email).where(Subscriber.locale == "es")))
    for message in smtp_server.messages:
        text = message.get_body(("plain",)).get_content()
        is_daily = str(message["To"]).startswith("daily")
        period = paper.day if is_daily else paper.week
        for title, published in _stories(paper.day, paper.week).items():
            assert (title in text) == (period.start <= published < period.end), title
        assert ("Leer la noticia" in text) == (str(message["To"]) in spanish)
    with app.app_context():
        issues = db.session.execute(
            select(Issue.frequency, Issue.status, func.count(Delivery.id))
            .join(Delivery, Delivery.issue_id == Issue.id)
            .group_by(Issue.frequency, Issue.status)
        ).all()
        assert sorted(issues) == [
            ("daily", IssueStatus.SENT, readers),
            ("weekly", IssueStatus.SENT, readers),
        ]


def test_two_senders_send_a_daily_and_a_weekly_issue_each_to_its_own_readers_once(
    app, settings, smtp_server
):
    paper = _paper(app)
    processes = [_flask_send(settings) for _ in range(2)]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    _assert_each_reader_got_their_own_issue_once(app, smtp_server, paper, 300)
    assert "paper/daily" in "".join(outputs) and "paper/weekly" in "".join(outputs)


def test_a_sender_killed_while_sending_two_rhythms_is_finished_without_repeats(
    app, settings, smtp_server
):
    paper = _paper(app)
    settings["MAIL_RATE_LIMIT"] = 150  # slow enough to be caught in the middle
    first = _flask_send(settings)
    deadline = time.monotonic() + 60
    while len(smtp_server.envelopes) < 120:
        assert time.monotonic() < deadline, "the first messages never came"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    assert len(smtp_server.envelopes) < 600, "the kill came too late to prove anything"

    settings["MAIL_RATE_LIMIT"] = 0
    second = _flask_send(settings)
    output = second.communicate(timeout=180)[0]
    assert second.returncode == 0, output
    _assert_each_reader_got_their_own_issue_once(app, smtp_server, paper, 300, on_the_wire=1)


def test_celery_workers_send_two_rhythms_each_to_its_own_readers_once(
    app, settings, smtp_server, redis_url
):
    paper = _paper(app, readers=150)
    worker = celery_worker_on_own_queue(app, settings, redis_url)
    try:
        run = _flask_send(settings, "--executor", "celery")
        output = run.communicate(timeout=180)[0]
        assert run.returncode == 0, output
        assert "paper/daily" in output and "paper/weekly" in output
    finally:
        worker.send_signal(signal.SIGTERM)
        worker_output = worker.communicate(timeout=30)[0]
    assert smtp_server.recipients, worker_output
    _assert_each_reader_got_their_own_issue_once(app, smtp_server, paper, 150)
