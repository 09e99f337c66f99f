"""Exactly once, the hard way: killed senders, racing senders, Celery workers, 20,000 readers."""

import os
import pty
import signal
from collections import Counter

import pytest
from sqlalchemy import event, func, select

from newsletters.extensions import db
from newsletters.models import Delivery, DeliveryStatus, Issue, IssueStatus, Newsletter, utcnow
from newsletters.services.issues import compose, deliveries
from newsletters.services.issues.batch_sender import Sender
from tests.support.readers import add_readers
from tests.support.senders import flask_process, wait_until
from tests.support.stack import celery_worker_on_own_queue


@pytest.fixture
def settings(settings, smtp_server, tmp_path):
    settings.update(smtp_server.settings())
    settings["DIGEST_JOURNAL_DIR"] = str(tmp_path / "journal")
    settings["DIGEST_BATCH_SIZE"] = 50
    return settings


def _deliveries(app) -> Counter:
    with app.app_context():
        return Counter(s.value for s in db.session.scalars(select(Delivery.status)))


def _assert_finished(app, total):
    assert _deliveries(app) == Counter({"sent": total})
    with app.app_context():
        assert db.session.scalar(select(Issue.status)) == IssueStatus.SENT


def test_a_sender_killed_mid_send_is_finished_by_the_next_run_without_repeats(
    app, settings, smtp_server, weekly, tmp_path
):
    readers = add_readers(app, weekly, 400)
    settings["MAIL_RATE_LIMIT"] = 150  # slow enough to be caught in the middle
    first = flask_process(settings, "digest", "send")
    wait_until(lambda: len(smtp_server.envelopes) >= 120, what="the first messages")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    first.stdout.close()
    assert first.returncode == -signal.SIGKILL
    delivered_before = len(smtp_server.envelopes)
    assert delivered_before < 400, "the kill came too late to prove anything"
    with app.app_context():
        assert db.session.scalar(
            select(func.count()).where(Delivery.status == DeliveryStatus.SENDING)
        ), "a batch should have been in flight"

    settings["MAIL_RATE_LIMIT"] = 0
    second = flask_process(settings, "digest", "send")
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output
    assert "the-weekly" in output and ": sent;" in output

    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers)
    repeated = [address for address, times in received.items() if times > 1]
    # Only the message on the wire at the moment of the kill may have gone twice.
    assert len(repeated) <= 1, repeated
    _assert_finished(app, 400)
    assert list((tmp_path / "journal").glob("*.journal")) == []


def test_two_senders_at_once_share_the_work_and_send_each_reader_once(
    app, settings, smtp_server, weekly
):
    readers = add_readers(app, weekly, 600)
    first = flask_process(settings, "digest", "send")
    second = flask_process(settings, "digest", "send")
    outputs = [process.communicate(timeout=180)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers) and set(received.values()) == {1}
    _assert_finished(app, 600)


def test_celery_workers_send_the_batches(app, settings, smtp_server, weekly, redis_url, runner):
    readers = add_readers(app, weekly, 300)
    worker = celery_worker_on_own_queue(app, settings, redis_url)
    try:
        result = runner.invoke(args=["digest", "send", "--executor", "celery"])
        assert result.exit_code == 0, result.output
        assert "sent 300" in result.output
    finally:
        worker.send_signal(signal.SIGTERM)
        worker_output = worker.communicate(timeout=30)[0]
    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers) and set(received.values()) == {1}, worker_output
    _assert_finished(app, 300)


def test_a_run_reports_what_workers_sent_before_it_first_looked(
    app, settings, smtp_server, weekly, redis_url, runner, monkeypatch
):
    """Workers that finish a small issue (and mark it sent) while the run sleeps between
    counts: the run still reports every message they sent, not "sent 0"."""
    readers = add_readers(app, weekly, 3)
    worker = celery_worker_on_own_queue(app, settings, redis_url)
    monkeypatch.setattr("newsletters.services.issues.runs.WAIT_POLL_SECONDS", 6.0)
    try:
        result = runner.invoke(args=["digest", "send", "--executor", "celery"])
        assert result.exit_code == 0, result.output
        assert "sent 3," in result.output, result.output
    finally:
        worker.send_signal(signal.SIGTERM)
        worker_output = worker.communicate(timeout=30)[0]
    assert sorted(smtp_server.recipients) == sorted(readers), worker_output


@pytest.fixture
def statements(app):
    """Count every SQL statement the app sends."""
    counted = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        counted.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield counted
    event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_twenty_thousand_readers_cost_a_few_statements_per_batch(
    app, settings, smtp_server, weekly, runner, statements
):
    app.config["DIGEST_BATCH_SIZE"] = 500
    readers = add_readers(app, weekly, 20_000)
    statements.clear()
    result = runner.invoke(args=["digest", "send", "--connections", "2"])
    assert result.exit_code == 0, result.output
    assert "sent 20000" in result.output
    assert len(smtp_server.envelopes) == 20_000
    assert set(smtp_server.recipients) == set(readers)
    # 40 batches of 500: a claim, a read, a suppression check and a write each, plus setup.
    # (Each sent message's mark goes on the driver's own cursor, unseen here: see
    # test_sent_marks.py.)
    assert len(statements) < 20_000 / 50, f"{len(statements)} statements for 20,000 readers"


def test_on_a_terminal_a_progress_bar_shows_sent_total_rate_and_eta(
    app, settings, smtp_server, weekly
):
    add_readers(app, weekly, 120)
    settings["DIGEST_BATCH_SIZE"] = 20
    leader, follower = pty.openpty()
    process = flask_process(settings, "digest", "send", stdout=follower, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    screen = shown.decode("utf-8", "replace")
    assert "120/120" in screen and "/s" in screen
    assert "the-weekly" in screen and "sent 120" in screen


def test_following_a_huge_issue_costs_the_database_a_small_share_of_its_time():
    from newsletters.services.issues.runs import POLL_COST_SHARE, WAIT_POLL_SECONDS, poll_pause

    assert poll_pause(0.002) == WAIT_POLL_SECONDS  # a usual issue is followed closely
    for counting in (0.1, 1.0, 4.0):  # ten million deliveries take seconds to count
        assert counting / (counting + poll_pause(counting)) <= POLL_COST_SHARE


def test_each_claim_takes_one_batch_so_senders_share_the_issue(app, weekly):
    """A sender claims DIGEST_BATCH_SIZE deliveries at a time, never the whole issue: so
    many senders share one issue, and a sender that dies holds back one batch, not all."""
    add_readers(app, weekly, 180)
    with app.app_context():
        decision = compose.prepare_issue(db.session.get(Newsletter, weekly), utcnow())
        deliveries.materialize(decision.issue)
        first, second = Sender(decision.issue), Sender(decision.issue)
        claims = [first._claim(), second._claim(), first._claim(), second._claim()]
        claimed = [len(ids) for _token, _key, ids in claims]
        assert claimed == [50, 50, 50, 30]
        assert first._claim() is None  # nothing is left to claim
        every = [delivery for _token, _key, ids in claims for delivery in ids]
        assert len(set(every)) == 180  # no delivery in two batches
        assert _deliveries(app) == Counter({"sending": 180})
