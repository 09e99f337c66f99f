"""Each change a CRM cares about writes one event, in the change's own transaction."""

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    Subscriber,
    WebhookDelivery,
    WebhookEvent,
)
from newsletters.services.core.transactions import atomic
from newsletters.services.deliverability import events as bounce_events
from newsletters.services.integrations import webhook_endpoints
from newsletters.services.mail.links import confirm_url, preferences_url, unsubscribe_url
from newsletters.services.readers import audience, confirm, preferences, signup
from newsletters.services.readers.history import Origin
from tests.support.reader import add_demo_newsletters, statuses

READER = "reader@example.com"
ORIGIN = Origin(source="form", ip="198.51.100.1")


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _endpoint(*events) -> str:
    endpoint, _ = webhook_endpoints.add_endpoint("http://127.0.0.1:9/hooks", list(events))
    return str(endpoint.uuid)


def _subscriber() -> Subscriber:
    return db.session.scalar(select(Subscriber).where(Subscriber.email == READER))


def _confirmed_reader(*slugs) -> Subscriber:
    signup.subscribe(READER, list(slugs), ORIGIN)
    confirm.confirm_subscription(confirm_url(_subscriber()).rsplit("/", 1)[1], ORIGIN)
    return _subscriber()


def _events() -> list[WebhookEvent]:
    return list(db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def test_a_confirmation_writes_one_event_with_what_a_crm_needs(ctx):
    _endpoint("subscription.confirmed")
    reader = _confirmed_reader("the-weekly", "ai-digest")
    (event,) = _events()
    assert event.msg_id.startswith("msg_")
    assert event.type == "subscription.confirmed"
    assert set(event.payload) == {"type", "timestamp", "data"}
    assert event.payload["data"] == {
        "subscriber": {"id": str(reader.uuid), "email": READER, "locale": reader.locale},
        "newsletters": ["ai-digest", "the-weekly"],
    }
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


def test_without_an_endpoint_for_the_type_nothing_is_kept(ctx):
    _endpoint("issue.sent")
    _confirmed_reader("the-weekly")
    assert _events() == []


def test_an_unsubscribe_link_and_an_erasure_each_write_theirs(ctx):
    _endpoint("subscription.unsubscribed", "subscriber.erased", "subscription.confirmed")
    reader = _confirmed_reader("the-weekly")
    key = str(reader.uuid)
    preferences.unsubscribe(unsubscribe_url(reader).rsplit("/", 1)[1], Origin(source="link"))
    audience.erase(key)
    confirmed, left, erased = _events()
    assert left.type == "subscription.unsubscribed"
    assert left.payload["data"]["newsletters"] == ["the-weekly"]
    assert left.payload["data"]["source"] == "link"
    assert erased.payload["data"] == {"subscriber": {"id": key, "email": READER}}
    # No engagement, ever: nothing about opens or clicks rides along.
    assert "open" not in str([e.payload for e in _events()])


def test_a_rolled_back_change_leaves_no_event(app, ctx):
    _endpoint("subscription.unsubscribed")
    reader = _confirmed_reader("the-weekly")
    token = unsubscribe_url(reader).rsplit("/", 1)[1]

    @atomic
    def unsubscribe_then_fail():
        preferences.unsubscribe(token, ORIGIN)
        raise RuntimeError("the rest of the change failed")

    with pytest.raises(RuntimeError):
        unsubscribe_then_fail()
    assert _events() == []
    assert statuses(app, READER) == {"the-weekly": "active"}


def test_a_complaint_reports_the_complaint_and_the_unsubscribe(ctx):
    _endpoint("delivery.complained", "subscription.unsubscribed", "delivery.bounced")
    reader = _confirmed_reader("the-weekly")
    bounce_events.apply(
        bounce_events.BounceEvent(
            "generic", "c-1", BounceKind.COMPLAINT, email=READER, trusted_email=True
        )
    )
    bounce_events.apply(
        bounce_events.BounceEvent(
            "generic", "b-1", BounceKind.HARD, email=READER, status="5.1.1", trusted_email=True
        )
    )
    types = [e.type for e in _events()]
    assert types == ["subscription.unsubscribed", "delivery.complained", "delivery.bounced"]
    complained, bounced = _events()[1:]
    assert complained.payload["data"]["email"] == READER
    assert complained.payload["data"]["subscriber_id"] == str(reader.uuid)
    assert complained.payload["data"]["outcome"] == "unsubscribed"
    assert bounced.payload["data"]["kind"] == "hard"
    assert bounced.payload["data"]["status"] == "5.1.1"


def test_a_disabled_endpoint_gets_no_new_deliveries(ctx):
    key = _endpoint("subscription.confirmed")
    webhook_endpoints.disable(key)
    _confirmed_reader("the-weekly")
    assert _events() == []


def test_the_preference_center_confirms_what_is_ticked_and_unsubscribes_what_is_not(ctx):
    _endpoint("subscription.confirmed", "subscription.unsubscribed")
    reader = _confirmed_reader("the-weekly")
    token = preferences_url(reader).rsplit("/", 1)[1]
    preferences.update_preferences(token, ["ai-digest"], Origin(source="preferences"))
    types = [(e.type, e.payload["data"]["newsletters"]) for e in _events()]
    assert types == [
        ("subscription.confirmed", ["the-weekly"]),
        ("subscription.confirmed", ["ai-digest"]),
        ("subscription.unsubscribed", ["the-weekly"]),
    ]
