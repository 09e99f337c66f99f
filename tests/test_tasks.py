"""A real Celery worker, on a real Redis broker, sends what the web commits."""

import secrets
import time

import pytest
from celery.contrib.testing.worker import start_worker

from newsletters.tasks import (
    DELIVER_WEBHOOKS,
    DRAIN_OUTBOX,
    POLL_BOUNCE_MAILBOX,
    PRUNE_BOUNCE_REPORTS,
    PRUNE_DELIVERIES,
)
from tests.support.bounce_mail import person_wrote
from tests.support.outbox import queue, rows
from tests.support.reader import add_demo_newsletters, sign_up

READER = "reader@example.com"


@pytest.fixture
def settings(settings, smtp_server, redis_url):
    settings.update(smtp_server.settings())
    settings["CELERY_BROKER_URL"] = redis_url
    # A queue of this run's own, so concurrent runs never take each other's tasks.
    settings["CELERY_QUEUE"] = f"newsletters-test-{secrets.token_hex(6)}"
    return settings


@pytest.fixture
def worker(app):
    with start_worker(
        app.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10
    ) as running:
        yield running


def _wait_for(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.05)


def test_the_worker_sends_what_a_signup_committed(app, client, smtp_server):
    add_demo_newsletters(app)
    response = sign_up(client, READER, "the-weekly")
    assert response.status_code == 200
    # No worker yet: the message waits in the outbox and its task waits in Redis.
    assert smtp_server.recipients == []
    assert rows(app) == {READER: ("pending", 0)}
    with start_worker(
        app.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10
    ):
        _wait_for(lambda: smtp_server.recipients == [READER])
        _wait_for(lambda: rows(app) == {READER: ("sent", 1)})


def test_the_drain_task_sends_whatever_is_left(app, smtp_server, worker):
    queue(app, "a@example.com", "b@example.com")
    app.extensions["celery"].send_task(DRAIN_OUTBOX)
    _wait_for(lambda: sorted(smtp_server.recipients) == ["a@example.com", "b@example.com"])


def test_without_a_reachable_broker_the_web_sends_the_mail_itself(app, client, smtp_server):
    app.config["CELERY_BROKER_URL"] = "redis://127.0.0.1:9/0"  # nothing listens there
    app.extensions["celery"].conf.broker_url = app.config["CELERY_BROKER_URL"]
    add_demo_newsletters(app)
    response = sign_up(client, READER, "the-weekly")
    assert response.status_code == 200
    assert smtp_server.recipients == [READER]


@pytest.mark.parametrize("url", ["", "imaps://bounces:secret@mail.example.com/INBOX"])
def test_beat_polls_the_bounce_mailbox_every_minute_only_when_one_is_set(settings, make_app, url):
    schedule = make_app({**settings, "BOUNCE_MAILBOX_URL": url}).extensions["celery"].conf
    entries = {entry["task"]: entry["schedule"] for entry in schedule.beat_schedule.values()}
    entries.pop(PRUNE_BOUNCE_REPORTS)  # daily whatever the settings: see test_bounces_prune.py
    entries.pop(PRUNE_DELIVERIES)  # daily too: see test_deliveries_prune.py
    # Every minute whatever the settings: a pass with no endpoints costs one query.
    assert entries.pop(DELIVER_WEBHOOKS) == 60.0
    expected = {DRAIN_OUTBOX: 60.0, POLL_BOUNCE_MAILBOX: 60.0} if url else {DRAIN_OUTBOX: 60.0}
    assert entries == expected


def test_the_worker_polls_the_bounce_mailbox(app, dovecot, worker):
    app.config["BOUNCE_MAILBOX_URL"] = dovecot.imap_url
    note = person_wrote("bounces@newsletters.test")
    dovecot.deliver(note)
    app.extensions["celery"].send_task(POLL_BOUNCE_MAILBOX)
    _wait_for(lambda: dovecot.list("Unrecognised") == [note])


def test_the_worker_delivers_webhooks(app, worker):
    from newsletters.extensions import db
    from newsletters.services.integrations import webhook_events
    from tests.support.webhooks import add_endpoint, receiving

    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the receiver is on loopback
    with receiving() as receiver:
        add_endpoint(app, receiver, ["issue.sent"])
        with app.app_context():
            event = webhook_events.emit("issue.sent", {"issue": {"id": "1"}, "counts": {}})
            db.session.commit()
            msg_id = event.msg_id
        app.extensions["celery"].send_task(DELIVER_WEBHOOKS)
        _wait_for(lambda: receiver.ids == [msg_id])
        assert receiver.arrivals[0].verified
