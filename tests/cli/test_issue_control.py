"""flask digest schedule|pause|resume|cancel, and a 2,000-reader send paused halfway."""

import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import AuditLog, Delivery, Issue, IssueStatus, utcnow
from newsletters.services.issues import control, editing, runs
from tests.conftest import ROOT
from tests.support.readers import add_readers
from tests.support.stack import environment as cli_env
from tests.support.stack import start_celery_worker


@pytest.fixture
def settings(settings, smtp_server, tmp_path):
    settings.update(smtp_server.settings())
    settings["DIGEST_JOURNAL_DIR"] = str(tmp_path / "journal")
    settings["DIGEST_BATCH_SIZE"] = 250
    return settings


def _flask(settings, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_until(condition, seconds=60.0, what="the condition"):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _statuses(app) -> Counter:
    with app.app_context():
        return Counter(s.value for s in db.session.scalars(select(Delivery.status)))


def _issue_status(app) -> IssueStatus:
    with app.app_context():
        return db.session.scalar(select(Issue.status).order_by(Issue.id))


def test_schedule_takes_a_time_on_the_newsletters_clock(app, runner, weekly):
    app.config["TIMEZONE"] = "Europe/Berlin"
    when = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    text = when.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%dT%H:%M")
    result = runner.invoke(args=["digest", "schedule", "the-weekly", "--at", text])
    assert result.exit_code == 0, result.output
    assert "scheduled for" in result.output and text.replace("T", " ") in result.output
    with app.app_context():
        issue = db.session.scalar(select(Issue))
        assert issue.send_at == when
        entry = db.session.scalar(select(AuditLog))
        assert (entry.action, entry.admin_email) == ("issue.schedule", "command line")


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ("2020-01-01T08:00", "That time has passed"),
        ("next monday", "ISO 8601"),
        ("2026-02-30T08:00", "ISO 8601"),
    ],
)
def test_schedule_refuses_a_time_it_cannot_use_and_changes_nothing(app, runner, weekly, at, words):
    result = runner.invoke(args=["digest", "schedule", "the-weekly", "--at", at])
    assert result.exit_code == 1 and words in result.output
    with app.app_context():
        assert db.session.scalar(select(Issue.send_at)) is None


def test_pause_resume_and_cancel_name_the_issue_by_id_or_by_newsletter(app, runner, weekly):
    add_readers(app, weekly, 3)
    with app.app_context():
        public_id = str(editing.open_next_issue("the-weekly", utcnow()).uuid)
    refused = runner.invoke(args=["digest", "pause", public_id])
    assert refused.exit_code == 1 and "has not started sending" in refused.output
    with app.app_context():
        control.send_now(public_id, utcnow())
    paused = runner.invoke(args=["digest", "pause", "the-weekly"])
    assert paused.exit_code == 0, paused.output
    assert f"the-weekly {public_id}: paused; sent 0 of 3, 3 waiting" in paused.output
    resumed = runner.invoke(args=["digest", "resume", public_id])
    assert resumed.exit_code == 0 and "sending" in resumed.output
    kept = runner.invoke(args=["digest", "cancel", public_id], input="n\n")
    assert kept.exit_code == 1 and _issue_status(app) == IssueStatus.SENDING
    cancelled = runner.invoke(args=["digest", "cancel", public_id, "--yes"])
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    assert _issue_status(app) == IssueStatus.CANCELLED
    for args in (["resume", public_id], ["pause", "nope-not-a-newsletter"], ["pause", "0" * 32]):
        result = runner.invoke(args=["digest", *args])
        assert result.exit_code == 1 and "Traceback" not in result.output
    with app.app_context():
        actions = list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions == ["issue.pause", "issue.resume", "issue.cancel"]


def test_two_thousand_readers_paused_halfway_and_resumed_get_exactly_one_message_each(
    app, settings, smtp_server, weekly
):
    readers = add_readers(app, weekly, 2000)
    settings["MAIL_RATE_LIMIT"] = 150  # per sender: slow enough to pause halfway
    senders = [_flask(settings, "digest", "send") for _ in range(2)]
    try:
        _wait_until(lambda: len(smtp_server.envelopes) >= 1000, what="half of the readers")
        pause = _flask(settings, "digest", "pause", "the-weekly")
        output = pause.communicate(timeout=60)[0]
        assert pause.returncode == 0, output
        # Every sender stops within a few seconds of the pause, mid-batch.
        outputs = [sender.communicate(timeout=10)[0] for sender in senders]
    finally:
        for sender in senders:
            sender.kill()
    assert all(sender.returncode == 0 for sender in senders), outputs
    assert any(": paused;" in text for text in outputs), outputs
    stopped_at = len(smtp_server.envelopes)
    assert 1000 <= stopped_at < 2000
    time.sleep(1.5)
    assert len(smtp_server.envelopes) == stopped_at, "a paused issue went on sending"
    counts = _statuses(app)
    assert counts == Counter({"sent": stopped_at, "pending": 2000 - stopped_at})

    # Cron leaves a paused issue alone.
    idle = _flask(settings, "digest", "send")
    assert ": paused" in idle.communicate(timeout=60)[0]
    assert len(smtp_server.envelopes) == stopped_at

    settings["MAIL_RATE_LIMIT"] = 0
    resume = _flask(settings, "digest", "resume", "the-weekly")
    assert resume.communicate(timeout=60)[0] and resume.returncode == 0
    finish = _flask(settings, "digest", "send")
    output = finish.communicate(timeout=120)[0]
    assert finish.returncode == 0 and ": sent;" in output, output

    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers)
    assert set(received.values()) == {1}, [a for a, n in received.items() if n > 1][:5]
    assert _statuses(app) == Counter({"sent": 2000})
    assert _issue_status(app) == IssueStatus.SENT


def test_a_cancelled_send_sends_nothing_more_ever(app, settings, smtp_server, weekly):
    add_readers(app, weekly, 600)
    settings["MAIL_RATE_LIMIT"] = 150
    sender = _flask(settings, "digest", "send")
    try:
        _wait_until(lambda: len(smtp_server.envelopes) >= 100, what="the first messages")
        cancel = _flask(settings, "digest", "cancel", "the-weekly", "--yes")
        assert cancel.communicate(timeout=60)[1] is None and cancel.returncode == 0
        output = sender.communicate(timeout=10)[0]
    finally:
        sender.kill()
    assert ": cancelled;" in output, output
    stopped_at = len(smtp_server.envelopes)
    settings["MAIL_RATE_LIMIT"] = 0
    for _ in range(2):
        again = _flask(settings, "digest", "send")
        assert ": cancelled" in again.communicate(timeout=60)[0]
    assert len(smtp_server.envelopes) == stopped_at
    assert _statuses(app) == Counter({"sent": stopped_at, "cancelled": 600 - stopped_at})
    assert set(Counter(smtp_server.recipients).values()) == {1}


def test_a_pause_stops_celery_workers_and_the_run_following_them(
    app, settings, smtp_server, weekly, redis_url
):
    import secrets

    readers = add_readers(app, weekly, 800)
    settings.update(
        CELERY_BROKER_URL=redis_url,
        CELERY_QUEUE=f"newsletters-test-{secrets.token_hex(6)}",
        DIGEST_BATCH_SIZE=100,
        MAIL_RATE_LIMIT=150,
    )
    worker = start_celery_worker(settings)
    try:
        run = _flask(settings, "digest", "send", "--executor", "celery")
        _wait_until(lambda: len(smtp_server.envelopes) >= 200, what="the first messages")
        pause = _flask(settings, "digest", "pause", "the-weekly")
        assert pause.communicate(timeout=60)[0] and pause.returncode == 0
        output = run.communicate(timeout=20)[0]
        assert ": paused;" in output, output
        stopped_at = len(smtp_server.envelopes)
        time.sleep(2)
        assert len(smtp_server.envelopes) == stopped_at, "a worker went on sending"
        assert _statuses(app)["sending"] == 0

        resume = _flask(settings, "digest", "resume", "the-weekly")
        assert resume.communicate(timeout=60)[0] and resume.returncode == 0
        settings["MAIL_RATE_LIMIT"] = 0
        finish = _flask(settings, "digest", "send", "--executor", "celery")
        output = finish.communicate(timeout=180)[0]
        assert finish.returncode == 0 and ": sent;" in output, output
    finally:
        worker.terminate()
        worker_output = worker.communicate(timeout=30)[0]
    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers) and set(received.values()) == {1}, worker_output


def _wait_for_status(app, status, seconds=120):
    _wait_until(lambda: _issue_status(app) == status, seconds, what=f"the issue to be {status}")


def test_send_now_hands_the_issue_to_celery_workers_who_finish_it(
    app, settings, smtp_server, weekly, redis_url
):
    import secrets

    readers = add_readers(app, weekly, 300)
    queue = f"newsletters-test-{secrets.token_hex(6)}"
    settings.update(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue, DIGEST_BATCH_SIZE=50)
    app.config.update(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=queue, DIGEST_BATCH_SIZE=50)
    app.extensions["celery"].conf.update(broker_url=redis_url, task_default_queue=queue)
    worker = start_celery_worker(settings)
    try:
        with app.app_context():
            public_id = str(editing.open_next_issue("the-weekly", utcnow()).uuid)
            issue = control.send_now(public_id, utcnow())
            assert runs.send_in_background(issue) == "celery"
        _wait_for_status(app, IssueStatus.SENT)
    finally:
        worker.terminate()
        worker_output = worker.communicate(timeout=30)[0]
    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers) and set(received.values()) == {1}, worker_output


def test_without_celery_send_now_sends_from_a_thread_of_this_process(app, smtp_server, weekly):
    readers = add_readers(app, weekly, 120)
    with app.app_context():
        public_id = str(editing.open_next_issue("the-weekly", utcnow()).uuid)
        issue = control.send_now(public_id, utcnow())
        assert runs.send_in_background(issue) == "thread"
    _wait_for_status(app, IssueStatus.SENT)
    assert sorted(smtp_server.recipients) == sorted(readers)
