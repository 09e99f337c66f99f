"""Erasing a reader forgets the events about them too: each goes on to the endpoints still
waiting for it, and none is kept after (not for WEBHOOK_RETENTION_DAYS)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Subscriber, WebhookEvent, utcnow
from newsletters.services.integrations import webhook_dispatch
from newsletters.services.mail.links import confirm_url, unsubscribe_url
from newsletters.services.readers import audience, confirm, preferences, signup
from newsletters.services.readers.history import Origin
from tests.support.reader import add_demo_newsletters
from tests.support.webhooks import add_endpoint, receiving

READER = "forget-me@example.com"
OTHER = "stays@example.com"
ORIGIN = Origin(source="form", ip="198.51.100.1")


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _confirmed(app, address: str) -> str:
    with app.app_context():
        signup.subscribe(address, ["the-weekly"], ORIGIN)
        reader = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
        confirm.confirm_subscription(confirm_url(reader).rsplit("/", 1)[1], ORIGIN)
        reader = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
        preferences.unsubscribe(unsubscribe_url(reader).rsplit("/", 1)[1], Origin(source="link"))
        return str(reader.uuid)


def _stored(app) -> str:
    """Every stored event's payload, as one text."""
    with app.app_context():
        return str([e.payload for e in db.session.scalars(select(WebhookEvent))])


def _dispatch(app, now=None):
    with app.app_context():
        return webhook_dispatch.dispatch(now=now)


def test_an_erased_readers_events_are_delivered_then_forgotten(app):
    with receiving() as crm, receiving() as slow:
        add_endpoint(app, crm)
        add_endpoint(app, slow)
        slow.answer = 500  # still retrying when the reader is erased
        key = _confirmed(app, READER)
        _confirmed(app, OTHER)
        _dispatch(app)
        with app.app_context():
            audience.erase(key)
            db.session.commit()

        _dispatch(app)
        assert "subscriber.erased" in crm.types()
        assert all(arrival.verified for arrival in crm.arrivals)
        # The slow endpoint has not had them yet: they wait for it, address and all.
        assert READER in _stored(app)

        slow.answer = 200
        _dispatch(app, utcnow() + timedelta(hours=1))  # every retry is due by then
        assert slow.types().count("subscriber.erased") == 2  # a 500, then the 200
        assert READER not in _stored(app)
        assert OTHER in _stored(app)  # other readers' events keep their retention
