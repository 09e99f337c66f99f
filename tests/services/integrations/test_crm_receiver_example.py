"""docs/examples/crm_receiver.py, run as a real server and fed real events: a reader signs
up, confirms, leaves one newsletter and is erased; a replayed delivery changes nothing."""

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Subscriber, WebhookDelivery, WebhookEvent
from newsletters.services.integrations import webhook_dispatch, webhook_endpoints
from newsletters.services.readers import audience
from tests.conftest import ROOT
from tests.support.mail import free_port, link_in
from tests.support.reader import add_demo_newsletters, sign_up, submit_form

READER = "reader@example.com"
EVENTS = ["subscription.confirmed", "subscription.unsubscribed", "subscriber.erased"]


@pytest.fixture
def crm(app, tmp_path):
    """The example receiver on a free port, its endpoint added; yields its database path."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks/newsletters"
    with app.app_context():
        _, secret = webhook_endpoints.add_endpoint(url, EVENTS, "CRM")
    database = tmp_path / "crm.sqlite3"
    env = {**os.environ, "WEBHOOK_SECRET": secret, "CRM_DATABASE": str(database), "PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "docs" / "examples" / "crm_receiver.py")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().startswith("listening on")
    yield database
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


def _contacts(database) -> dict:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT email, status, newsletters FROM contacts").fetchall()
    return {email: (status, json.loads(newsletters)) for email, status, newsletters in rows}


def _seen(database) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM seen_webhooks").fetchone()[0]


def _deliver(app) -> None:
    with app.app_context():
        report = webhook_dispatch.dispatch()
    assert report.retrying == report.failed == 0, report.summary()


def test_the_crm_follows_a_reader_from_confirmation_to_erasure(app, client, mailbox, crm):
    add_demo_newsletters(app)
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    sign_up(client, READER, "the-weekly", "ai-digest")
    _deliver(app)
    assert _contacts(crm) == {}  # asking is not confirming

    submit_form(client, link_in(mailbox.last(to=READER), "/confirm/"))
    _deliver(app)
    assert _contacts(crm) == {READER: ("subscribed", ["ai-digest", "the-weekly"])}

    welcome = mailbox.last(to=READER)
    unsubscribe = link_in(welcome, "/unsubscribe/")
    assert submit_form(client, unsubscribe).status_code == 200
    _deliver(app)
    assert _contacts(crm)[READER][0] == "unsubscribed"

    # The confirmation delivered again (a retry after a lost answer looks the same): the
    # CRM has seen its webhook-id, so the reader is not subscribed again.
    with app.app_context():
        confirmed = db.session.scalar(
            select(WebhookDelivery.uuid)
            .join(WebhookEvent)
            .where(WebhookEvent.type == "subscription.confirmed")
        )
        webhook_endpoints.replay(str(confirmed))
    seen = _seen(crm)
    _deliver(app)
    assert _seen(crm) == seen
    assert _contacts(crm)[READER][0] == "unsubscribed"

    with app.app_context():
        key = str(db.session.scalar(select(Subscriber.uuid).where(Subscriber.email == READER)))
        audience.erase(key)
    _deliver(app)
    assert _contacts(crm) == {}
    assert _seen(crm) == 3


def test_a_request_with_a_wrong_signature_is_refused(app, crm):
    import urllib.error
    import urllib.request

    with app.app_context():
        url = webhook_endpoints.all_endpoints()[0].url
    request = urllib.request.Request(
        url,
        data=b'{"type":"subscriber.erased","data":{"subscriber":{"email":"x@example.com"}}}',
        headers={
            "webhook-id": "msg_forged",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    refused.value.close()
    assert _seen(crm) == 0
