"""Mail leaves through a real SMTP server when MAIL_SERVER is set, and waits when it is down."""

import idna
import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import OutboxMessage, OutboxStatus
from tests.support.mail import SMTPRecorder, link_in, text_of
from tests.support.reader import add_demo_newsletters, sign_up, submit_form

READER = "reader@example.com"


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def test_confirmation_goes_through_smtp_and_its_link_works(app, client, smtp_server):
    assert "dev" not in app.blueprints  # no development mailbox once SMTP is configured
    sign_up(client, READER, "the-weekly")
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [READER]
    assert envelope.mail_from == "newsletters@newsletters.test"
    [message] = smtp_server.messages
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "The Daily Ledger <newsletters@newsletters.test>"
    assert message["Subject"] == "Confirm your subscription to The Weekly"
    submit_form(client, link_in(message, "/confirm/"))
    welcome = smtp_server.messages[-1]
    assert welcome["Subject"] == "Welcome to The Weekly"
    assert "/preferences/" in text_of(welcome)


def test_international_addresses_are_delivered(app, client, smtp_server):
    sign_up(client, "leser@bücher.example", "the-weekly")
    sign_up(client, "用户@例子.广告", "ai-digest")
    recipients = [e.rcpt_tos for e in smtp_server.envelopes]
    chinese_domain = idna.encode("例子.广告", uts46=True).decode()
    assert recipients == [["leser@xn--bcher-kva.example"], [f"用户@{chinese_domain}"]]


def test_signup_succeeds_while_smtp_is_down_and_the_mail_leaves_later(
    app, client, runner, smtp_server
):
    smtp_server.stop()
    response = sign_up(client, READER, "the-weekly")
    assert response.status_code == 200
    assert "Thank you for submitting your email!" in response.get_data(as_text=True)
    with app.app_context():
        [waiting] = db.session.scalars(select(OutboxMessage)).all()
        assert waiting.status == OutboxStatus.PENDING
        assert waiting.attempts == 1
        assert "connection" in waiting.last_error
        waiting.next_attempt_at = waiting.created_at  # due now, not after the backoff
        db.session.commit()

    revived = SMTPRecorder(port=smtp_server.port)
    revived.start()
    try:
        result = runner.invoke(args=["outbox", "drain"])
        assert result.exit_code == 0, result.output
        assert "sent 1" in result.output
        again = runner.invoke(args=["outbox", "drain"])
        assert "sent 0" in again.output
        assert [e.rcpt_tos for e in revived.envelopes] == [[READER]]
    finally:
        revived.stop()
    status = runner.invoke(args=["outbox", "status"])
    assert "sent\t1" in status.output and "pending\t0" in status.output
