"""A machine that dies for good: each accepted message is already marked sent, so the next
sender resends at most the messages that were on the wire, one per connection."""

import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import Delivery, DeliveryStatus, Issue, IssueStatus, Subscriber, utcnow
from tests.support.mail import SMTPRecorder
from tests.support.readers import add_readers
from tests.support.senders import MarkCheckingRecorder, flask_process, wait_until

CONNECTIONS = 3


def _deliveries(app) -> Counter:
    with app.app_context():
        return Counter(s.value for s in db.session.scalars(select(Delivery.status)))


def _issue_status(app) -> IssueStatus:
    with app.app_context():
        return db.session.scalar(select(Issue.status))


@pytest.fixture
def slow_sink():
    """A relay that takes 10 ms over each message, so every connection always has one
    on the wire."""
    sink = SMTPRecorder(delay=0.01)
    sink.start()
    yield sink
    sink.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_machine_that_dies_for_good_costs_at_most_one_resent_message_per_connection(
    app, settings, weekly, slow_sink, tmp_path
):
    readers = add_readers(app, weekly, 600)
    journals = tmp_path / "journal"
    settings.update(slow_sink.settings())
    settings.update(DIGEST_BATCH_SIZE=200, DIGEST_JOURNAL_DIR=str(journals))
    connections = str(CONNECTIONS)
    first = flask_process(settings, "digest", "send", "--connections", connections)
    wait_until(lambda: len(slow_sink.envelopes) >= 240, what="the first messages")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    first.stdout.close()
    assert first.returncode == -signal.SIGKILL
    settled = -1
    while settled != len(slow_sink.envelopes):  # what was on the wire has landed
        settled = len(slow_sink.envelopes)
        time.sleep(0.5)
    received_before = set(slow_sink.recipients)

    # The machine is gone for good: its journals with it, and its claims look like those
    # of a sender on another machine, silent for longer than the claim timeout.
    lost = list(journals.glob("*.journal"))
    assert len(lost) == CONNECTIONS, "each connection should have had a batch in flight"
    for journal in lost:
        journal.unlink()
    with app.app_context():
        rows = db.session.execute(
            select(Delivery.claim_token, Delivery.status, Subscriber.email).join(
                Subscriber, Subscriber.id == Delivery.subscriber_id
            )
        ).all()
        long_ago = utcnow() - timedelta(seconds=app.config["DIGEST_CLAIM_TIMEOUT_SECONDS"] + 60)
        for token in {token for token, _, _ in rows if token}:
            db.session.execute(
                update(Delivery)
                .where(Delivery.claim_token == token)
                .values(
                    claim_token="a-machine-gone-for-good:" + token.split(":", 1)[1],
                    claimed_at=long_ago,
                )
            )
        db.session.commit()
    claimed = {email for _, status, email in rows if status == DeliveryStatus.SENDING}
    # Accepted by the server, not yet marked sent: the messages on the wire at the end.
    in_flight = claimed & received_before
    assert claimed - received_before, "the kill came too late: no batch was half sent"

    second = flask_process(settings, "digest", "send", "--connections", connections)
    output, _ = second.communicate(timeout=180)
    assert second.returncode == 0, output
    assert f"sent {len(claimed)}," in output, output

    received = Counter(slow_sink.recipients)
    assert set(received) == set(readers)
    twice = {address for address, times in received.items() if times > 1}
    assert len(twice) <= CONNECTIONS, f"{len(twice)} readers got the issue twice"
    assert set(received.values()) <= {1, 2}
    assert twice == in_flight  # exactly the messages that were on the wire, no more
    assert _deliveries(app) == Counter({"sent": 600})
    assert _issue_status(app) == IssueStatus.SENT
    assert list(journals.glob("*.journal")) == []


@pytest.fixture
def checking_sink(database_url):
    sink = MarkCheckingRecorder(database_url)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(settings, checking_sink, tmp_path):
    settings.update(checking_sink.settings())
    settings["DIGEST_JOURNAL_DIR"] = str(tmp_path / "journal")
    settings["DIGEST_BATCH_SIZE"] = 50
    return settings


def test_each_accepted_message_is_marked_sent_before_the_next_one_ends(
    app, weekly, checking_sink, runner
):
    add_readers(app, weekly, 120)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 120," in result.output
    # As message n+1's final dot arrived, the n messages before it were sent in the
    # database: a dead machine's next sender would not send them again.
    assert checking_sink.marked_when_each_ended == list(range(120))


def test_a_relay_gone_mid_batch_leaves_each_accepted_message_marked_once(
    app, weekly, checking_sink, runner
):
    readers = add_readers(app, weekly, 150)
    checking_sink.vanish_after = 70  # mid-way through the second batch of 50
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 1, result.output
    assert "incomplete; sent 70, failed 1, bounced 0" in result.output
    assert "stopped: connecting to" in result.output
    assert checking_sink.marked_when_each_ended == list(range(70))
    # The 71st message was lost with the connection (it failed, and is retried); the
    # rest of the batch went back in line; nothing is left claimed.
    assert _deliveries(app) == Counter({"sent": 70, "failed": 1, "pending": 79})
    assert _issue_status(app) == IssueStatus.SENDING

    checking_sink.stop()
    checking_sink.vanish_after = None
    checking_sink.start()
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "the-weekly" in result.output and ": sent; sent 80, failed 0" in result.output
    received = Counter(checking_sink.recipients)
    assert set(received) == set(readers) and set(received.values()) == {1}
    assert _deliveries(app) == Counter({"sent": 150})
    assert _issue_status(app) == IssueStatus.SENT
