"""What webhooks tell people: the admins when an endpoint is disabled, a CRM when an
issue is sent. Mail goes to a real SMTP server."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import OutboxKind, OutboxMessage, utcnow
from newsletters.services.mail import outbox_sending
from tests.services.integrations.test_webhook_dispatch import _dispatch, _emit, _endpoint_row
from tests.support.admin import create_admin
from tests.support.readers import add_readers
from tests.support.webhooks import add_endpoint, receiving


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


@pytest.fixture
def receiver(app):
    with receiving() as running:
        yield running


def test_five_days_of_failure_disable_the_endpoint_and_mail_the_owners(app, receiver, smtp_server):
    create_admin(app, "owner@example.com")
    create_admin(app, "editor@example.com", role="editor")  # cannot see webhooks: not told
    add_endpoint(app, receiver)
    receiver.answer = 500
    _emit(app)
    start = utcnow()
    for day in range(6):
        _emit(app)  # a new event each day, so there is something to fail
        _dispatch(app, start + timedelta(days=day))
        if day < 5:
            assert _endpoint_row(app).enabled, day
    endpoint = _endpoint_row(app)
    assert not endpoint.enabled and "5 days" in endpoint.disabled_reason
    with app.app_context():
        outbox_sending.drain()  # sent after the commit already; the drain finds it done
        notices = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ADMIN_NOTICE)
        )
        assert [(n.to_address, n.status.value) for n in notices] == [("owner@example.com", "sent")]
    (message,) = [m for m in smtp_server.messages if "Webhook endpoint disabled" in m["Subject"]]
    assert receiver.url in message.get_body(("plain",)).get_content()


def test_an_issue_sent_event_names_the_issue_and_its_counts(
    app, receiver, runner, smtp_server, weekly
):
    add_endpoint(app, receiver, ["issue.sent"])
    add_readers(app, weekly, 2)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    _dispatch(app)
    (arrival,) = receiver.arrivals
    assert arrival.verified and arrival.body["type"] == "issue.sent"
    data = arrival.body["data"]
    assert data["issue"]["newsletter"] == "the-weekly"
    assert data["issue"]["subject"]
    assert data["counts"]["sent"] == 2
