"""flask webhooks: add (the secret on the last line), list, disable, enable, replay, deliver;
and a dispatcher killed with SIGKILL mid-request loses no event."""

import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import AuditLog, WebhookDelivery, WebhookEndpoint, WebhookEvent
from newsletters.services.integrations import webhook_events
from tests.conftest import ROOT
from tests.support.stack import environment as cli_env
from tests.support.webhooks import receiving


@pytest.fixture
def settings(settings):
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the receiver is on loopback
    settings["WEBHOOK_TIMEOUT_SECONDS"] = 3.0
    return settings


@pytest.fixture
def receiver(app):
    with receiving() as running:
        yield running


def _add(runner, receiver, events="subscriber.erased,issue.sent") -> str:
    result = runner.invoke(args=["webhooks", "add", receiver.url, "--events", events])
    assert result.exit_code == 0, result.output
    receiver.secret = result.output.strip().splitlines()[-1]
    return result.output


def _endpoints(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(WebhookEndpoint))


def _emit(app, n: int) -> list[str]:
    with app.app_context():
        ids = [
            webhook_events.emit("subscriber.erased", {"subscriber": {"id": str(i), "email": "e"}})
            for i in range(n)
        ]
        db.session.commit()
        return [e.msg_id for e in ids]


def test_add_prints_the_secret_alone_on_the_last_line_and_list_shows_it(app, runner, receiver):
    output = _add(runner, receiver, "subscriber.erased, issue.sent")
    assert receiver.secret.startswith("whsec_")
    listed = runner.invoke(args=["webhooks", "list"]).output
    assert receiver.url in listed and "enabled" in listed
    assert "subscriber.erased,issue.sent" in listed
    assert receiver.secret not in listed  # shown once, at creation
    with app.app_context():
        (entry,) = db.session.scalars(select(AuditLog))
        assert entry.action == "webhook.add" and entry.admin_email == "command line"
    assert "Added webhook endpoint" in output


@pytest.mark.parametrize(
    ("url", "events", "words"),
    [
        (
            "https://crm.example.com/hook",
            "subscription.created",
            "Unknown event: subscription.created",
        ),
        ("https://crm.example.com/hook", ",", "Choose an event"),
        ("ftp://crm.example.com/hook", "issue.sent", "only http:// and https://"),
        ("https://user:pw@crm.example.com/hook", "issue.sent", "user name or password"),
        ("not a url", "issue.sent", "spaces or control characters"),
    ],
)
def test_bad_events_or_urls_are_usage_errors_and_save_nothing(app, runner, url, events, words):
    result = runner.invoke(args=["webhooks", "add", url, "--events", events])
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert _endpoints(app) == 0


def test_a_private_address_is_refused_without_the_allow_setting(app, runner):
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = False
    result = runner.invoke(
        args=["webhooks", "add", "http://10.0.0.8/hook", "--events", "issue.sent"]
    )
    assert result.exit_code == 2
    assert "not a public internet address" in result.output
    assert _endpoints(app) == 0


def test_deliver_disable_enable_and_replay(app, runner, receiver):
    _add(runner, receiver)
    (msg_id,) = _emit(app, 1)
    assert "delivered 1" in runner.invoke(args=["webhooks", "deliver"]).output
    with app.app_context():
        endpoint_id = str(db.session.scalar(select(WebhookEndpoint.uuid)))
        delivery_id = str(db.session.scalar(select(WebhookDelivery.uuid)))
    assert runner.invoke(args=["webhooks", "replay", delivery_id]).exit_code == 0
    runner.invoke(args=["webhooks", "deliver"])
    assert runner.invoke(args=["webhooks", "replay", msg_id]).exit_code == 0
    runner.invoke(args=["webhooks", "deliver"])
    assert receiver.ids == [msg_id] * 3
    assert all(a.verified for a in receiver.arrivals)

    assert runner.invoke(args=["webhooks", "disable", endpoint_id]).exit_code == 0
    assert "disabled" in runner.invoke(args=["webhooks", "list"]).output
    refused = runner.invoke(args=["webhooks", "replay", delivery_id])
    assert refused.exit_code == 2 and "disabled" in refused.output
    assert runner.invoke(args=["webhooks", "enable", endpoint_id]).exit_code == 0
    assert runner.invoke(args=["webhooks", "replay", "no-such-thing"]).exit_code == 2
    assert runner.invoke(args=["webhooks", "disable", "no-such-thing"]).exit_code == 2


def _claimed(app) -> list[str]:
    with app.app_context():
        return [
            d.status.value
            for d in db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        ]


def test_a_dispatcher_killed_mid_request_loses_no_event(app, runner, settings, receiver):
    _add(runner, receiver, "subscriber.erased")
    ids = _emit(app, 3)
    receiver.stall = stall = threading.Event()  # the receiver takes the request and never answers
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "webhooks", "deliver"],
        cwd=ROOT,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not receiver.arrivals:
        assert time.monotonic() < deadline and process.poll() is None, process.stdout.read()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stdout.close()
    assert _claimed(app) == ["sending", "pending", "pending"]

    receiver.stall = None
    stall.set()
    # The next pass sends what was never claimed; the dead claim is retaken once it is stale
    # (the request's deadline and a grace period after the claim).
    deadline = time.monotonic() + 60
    while _claimed(app) != ["delivered"] * 3:
        assert time.monotonic() < deadline, _claimed(app)
        result = runner.invoke(args=["webhooks", "deliver"])
        assert result.exit_code == 0, result.output
        time.sleep(0.5)
    assert set(receiver.ids) == set(ids)
    assert receiver.ids.count(ids[0]) == 2  # at least once: the cut-off request, then again
    assert all(a.verified for a in receiver.arrivals)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 3
