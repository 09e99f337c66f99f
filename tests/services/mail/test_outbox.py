"""Nothing is lost, nothing is sent twice: the outbox against a real SMTP server that fails."""

import html
import threading
from collections import Counter
from datetime import timedelta

import idna
import pytest
from sqlalchemy import event, func, select, update

from newsletters.extensions import db
from newsletters.models import OutboxMessage, OutboxStatus, Suppression, utcnow
from newsletters.services.mail import outbox_sending
from tests.support.mail import SMTPRecorder, link_in, text_of
from tests.support.outbox import queue, rows
from tests.support.reader import add_demo_newsletters, sign_up, snapshot, submit_form

READER = "reader@example.com"


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _make_due(app) -> None:
    """Skip the backoff wait, as if the retry time had come."""
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()


def _drain(runner) -> str:
    return runner.invoke(args=["outbox", "drain"]).output


def test_confirmation_goes_through_smtp_and_its_link_works(app, client, smtp_server):
    assert "dev" not in app.blueprints  # no development mailbox once SMTP is configured
    sign_up(client, READER, "the-weekly")
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [READER]
    assert envelope.mail_from == "newsletters@newsletters.test"
    [message] = smtp_server.messages
    assert message["Subject"] == "Confirm your subscription to The Weekly"
    submit_form(client, link_in(message, "/confirm/"))
    welcome = smtp_server.messages[-1]
    assert welcome["Subject"] == "Welcome to The Weekly"
    assert "/preferences/" in text_of(welcome)


def test_international_addresses_are_delivered(app, client, smtp_server):
    sign_up(client, "leser@bücher.example", "the-weekly")
    sign_up(client, "用户@例子.广告", "ai-digest")
    chinese_domain = idna.encode("例子.广告", uts46=True).decode()
    assert smtp_server.recipients == ["leser@xn--bcher-kva.example", f"用户@{chinese_domain}"]


def test_signup_succeeds_while_smtp_is_down_and_the_mail_leaves_later(
    app, client, runner, smtp_server
):
    smtp_server.stop()
    response = sign_up(client, READER, "the-weekly")
    assert response.status_code == 200
    assert "Thank you for submitting your email!" in response.get_data(as_text=True)
    assert rows(app) == {READER: ("pending", 1)}
    with app.app_context():
        [waiting] = db.session.scalars(select(OutboxMessage)).all()
        assert "Connection refused" in waiting.last_error
        assert waiting.next_attempt_at > utcnow()  # backing off, not hammering

    assert "sent 0" in _drain(runner)  # not due yet: the backoff is respected
    revived = SMTPRecorder(port=smtp_server.port)
    revived.start()
    try:
        _make_due(app)
        assert "sent 1" in _drain(runner)
        assert "sent 0" in _drain(runner)
        assert revived.recipients == [READER]
    finally:
        revived.stop()
    status = runner.invoke(args=["outbox", "status"]).output
    assert "sent\t1" in status and "pending\t0" in status


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "421 4.7.0 Too busy, bye"])
def test_temporary_replies_are_retried_and_delivered_once(app, runner, smtp_server, reply):
    queue(app, "a@example.com", "b@example.com", "c@example.com")
    smtp_server.fail_data(reply)
    assert "sent 2, retrying 1" in _drain(runner)
    assert rows(app)["a@example.com"] == ("pending", 1)
    with app.app_context():
        waiting = db.session.scalar(select(OutboxMessage).where(OutboxMessage.attempts == 1))
        assert waiting.last_error.startswith(reply[:3])
    _make_due(app)
    assert "sent 1" in _drain(runner)
    assert sorted(smtp_server.recipients) == ["a@example.com", "b@example.com", "c@example.com"]
    assert {status for status, _ in rows(app).values()} == {"sent"}


def test_a_refused_recipient_fails_is_suppressed_and_never_mailed_again(
    app, client, runner, smtp_server
):
    smtp_server.refuse("gone@example.com")
    queue(app, "a@example.com", "gone@example.com", "b@example.com")
    result = _drain(runner)
    assert "sent 2, retrying 0, failed 1" in result
    assert smtp_server.recipients == ["a@example.com", "b@example.com"]
    assert rows(app)["gone@example.com"] == ("failed", 1)
    with app.app_context():
        [suppression] = db.session.scalars(select(Suppression)).all()
        assert suppression.email == "gone@example.com" and "550" in suppression.detail

    # A later signup for the address answers as usual but sends nothing.
    response = sign_up(client, "gone@example.com", "the-weekly")
    assert response.status_code == 200
    assert smtp_server.recipients == ["a@example.com", "b@example.com"]
    with app.app_context():
        statuses = Counter(m.status.value for m in db.session.scalars(select(OutboxMessage)))
    assert statuses == Counter({"sent": 2, "failed": 1, "suppressed": 1})
    status = runner.invoke(args=["outbox", "status", "--errors"]).output
    assert "failed\t1" in status and "suppressed\t1" in status
    assert "550" in status and "suppression list" in status


def test_a_connection_dropped_in_the_middle_of_data_is_retried(app, runner, smtp_server):
    queue(app, "a@example.com", "b@example.com")
    smtp_server.drop_data()
    assert "sent 1, retrying 1" in _drain(runner)
    _make_due(app)
    assert "sent 1" in _drain(runner)
    assert sorted(smtp_server.recipients) == ["a@example.com", "b@example.com"]
    assert len(smtp_server.sessions) >= 2  # a fresh connection after the drop


def test_a_message_that_keeps_failing_is_given_up_after_the_configured_age(
    app, runner, smtp_server
):
    queue(app, READER)
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(days=3)))
        db.session.commit()
    smtp_server.fail_data("451 4.3.0 Still down")
    assert "failed 1" in _drain(runner)
    assert rows(app) == {READER: ("failed", 1)}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_mail_is_not_sent_when_the_commit_that_wrote_it_fails(app, client, runner, smtp_server):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    before = snapshot(app)

    def disk_full(session):
        if any(isinstance(obj, OutboxMessage) for obj in session.new):
            raise RuntimeError("could not extend file: No space left on device")

    event.listen(db.session, "before_commit", disk_full)
    try:
        response = sign_up(client, READER, "the-weekly")
    finally:
        event.remove(db.session, "before_commit", disk_full)
    assert response.status_code == 500
    page = html.unescape(response.get_data(as_text=True))
    assert "It looks like something went wrong. We're having trouble saving" in page
    assert snapshot(app) == before
    assert rows(app) == {}
    assert "sent 0" in _drain(runner)
    assert smtp_server.envelopes == []


def test_two_drains_at_once_send_every_message_exactly_once(app, smtp_server):
    addresses = [f"reader{n}@example.com" for n in range(120)]
    queue(app, *addresses)
    reports, errors = [], []
    start = threading.Barrier(2)

    def drain():
        with app.app_context():
            try:
                start.wait()
                reports.append(outbox_sending.drain())
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(smtp_server.recipients) == sorted(addresses)
    assert sum(report.sent for report in reports) == 120
    message_ids = Counter(m["Message-ID"] for m in smtp_server.messages)
    assert len(message_ids) == 120 and set(message_ids.values()) == {1}


def test_a_crashed_senders_claim_is_released_and_sent_by_the_next_drain(app, runner, smtp_server):
    [message_id] = queue(app, READER)
    with app.app_context():  # a sender claimed it, then died before sending
        db.session.execute(
            update(OutboxMessage).values(
                status=OutboxStatus.SENDING, claimed_at=utcnow() - timedelta(minutes=11)
            )
        )
        db.session.commit()
    assert "sent 1" in _drain(runner)
    assert smtp_server.recipients == [READER]
    assert rows(app) == {READER: ("sent", 1)}


BASE, CAP, GIVE_UP = 10, 80, 3600  # seconds: small, so the cap is reached in a few retries
SLACK = 1.0  # seconds between reading the clock and the failure it brackets


def _age(app, seconds: int) -> None:
    """Make every outbox message this many seconds old."""
    with app.app_context():
        db.session.execute(
            update(OutboxMessage).values(created_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


def _fail_once(app) -> tuple[int, float, float]:
    """Drain the one message, due now, into a failure: its attempts and the delay's bounds."""
    _make_due(app)
    with app.app_context():
        before = utcnow()
        report = outbox_sending.drain()
        after = utcnow()
        message = db.session.scalar(select(OutboxMessage))
        assert report.retrying == 1, (report.summary(), message.last_error)
        due = message.next_attempt_at
        return message.attempts, (due - after).total_seconds(), (due - before).total_seconds()


@pytest.mark.parametrize("failure", ["451 reply", "closed port"])
def test_retries_back_off_exponentially_up_to_a_cap_then_give_up(app, runner, smtp_server, failure):
    app.config.update(
        OUTBOX_RETRY_BASE_SECONDS=BASE, OUTBOX_RETRY_MAX_SECONDS=CAP, OUTBOX_GIVE_UP_SECONDS=GIVE_UP
    )
    queue(app, READER)
    if failure == "closed port":
        smtp_server.stop()
    else:
        smtp_server.fail_data("451 4.3.0 Try again later", times=9)
    for attempt in range(1, 8):  # delays of about 10, 20, 40, 80, then 80 (the cap) again
        attempts, shortest, longest = _fail_once(app)
        expected = min(BASE * 2 ** (attempt - 1), CAP)
        assert attempts == attempt
        assert 0.5 * expected - SLACK <= shortest and longest <= 1.5 * expected + SLACK, attempt
        assert longest <= 1.5 * CAP + SLACK

    _age(app, GIVE_UP - 60)  # just young enough for another try
    assert _fail_once(app)[0] == 8
    _age(app, GIVE_UP + 1)  # now too old: the next failure is the last
    _make_due(app)
    assert "retrying 0, failed 1" in _drain(runner)
    assert rows(app) == {READER: ("failed", 9)}
    if not smtp_server.running:
        smtp_server.start()  # the server is back and accepting: a failed message stays failed
    _make_due(app)
    assert "sent 0" in _drain(runner)
    assert smtp_server.recipients == []


def test_a_drain_with_a_limit_claims_one_batch_at_a_time_and_leaves_the_rest_waiting(
    app, smtp_server, monkeypatch
):
    """A bounded drain (a Celery task's share, say) takes batches of BATCH_SIZE, not every
    due message at once: on PostgreSQL a locking LIMIT inside IN (...) once claimed them all."""
    monkeypatch.setattr(outbox_sending, "BATCH_SIZE", 10)
    queue(app, *[f"reader{n}@example.com" for n in range(35)])
    with app.app_context():
        report = outbox_sending.drain(limit=10)
    assert report.sent == 10
    assert len(smtp_server.recipients) == 10
    statuses = Counter(status for status, _ in rows(app).values())
    assert statuses == {"sent": 10, "pending": 25}  # nothing left claimed and unsent
