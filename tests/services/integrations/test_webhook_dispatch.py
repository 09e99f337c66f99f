"""Deliveries to a real receiver that verifies every signature with the standardwebhooks
package: retries keep their webhook-id, pauses grow, 24 hours end it, 410 stops it."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from newsletters.services.integrations import webhook_dispatch, webhook_endpoints, webhook_events
from tests.support.webhooks import add_endpoint, receiving


@pytest.fixture
def receiver(app):
    with receiving() as running:
        yield running


def _emit(app, n: int = 1, event_type: str = "subscriber.erased") -> list[str]:
    """Write ``n`` committed events; their msg ids."""
    with app.app_context():
        ids = [
            webhook_events.emit(event_type, {"subscriber": {"id": str(i), "email": f"{i}@x.test"}})
            for i in range(n)
        ]
        db.session.commit()
        return [e.msg_id for e in ids if e is not None]


def _dispatch(app, now=None):
    with app.app_context():
        return webhook_dispatch.dispatch(now=now)


def _delivery(app) -> dict:
    with app.app_context():
        d = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
        return {
            "status": d.status.value,
            "attempts": d.attempts,
            "next": d.next_attempt_at,
            "code": d.last_status_code,
            "error": d.last_error,
        }


def _endpoint_row(app) -> WebhookEndpoint:
    with app.app_context():
        endpoint = db.session.scalars(select(WebhookEndpoint)).one()
        db.session.expunge(endpoint)
        return endpoint


def test_an_event_arrives_signed_with_standard_headers(app, receiver):
    add_endpoint(app, receiver)
    (msg_id,) = _emit(app)
    report = _dispatch(app)
    assert report.delivered == 1
    (arrival,) = receiver.arrivals
    assert arrival.verified
    assert arrival.msg_id == msg_id
    assert arrival.headers["content-type"] == "application/json"
    assert arrival.headers["user-agent"].startswith("newsletters-webhooks/")
    assert arrival.headers["webhook-signature"].startswith("v1,")
    assert arrival.body["type"] == "subscriber.erased"
    assert arrival.body["data"]["subscriber"]["email"] == "0@x.test"
    assert _delivery(app)["status"] == "delivered"
    assert _dispatch(app).delivered == 0  # delivered once, not again


def test_retries_after_a_500_carry_the_same_id_with_growing_pauses(app, receiver):
    add_endpoint(app, receiver)
    (msg_id,) = _emit(app)
    receiver.answer = 500
    now = utcnow()
    pauses = []
    for _ in range(6):
        _dispatch(app, now)
        row = _delivery(app)
        assert row["status"] == "pending" and row["code"] == 500
        pauses.append(row["next"] - now)
        now = row["next"]
    assert pauses == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
    ]
    assert all(a.verified for a in receiver.arrivals)
    assert receiver.ids == [msg_id] * 6
    receiver.answer = 200
    _dispatch(app, now)
    assert _delivery(app)["status"] == "delivered"
    assert receiver.ids == [msg_id] * 7


def test_after_24_hours_of_failures_the_delivery_is_given_up(app, receiver):
    add_endpoint(app, receiver)
    _emit(app)
    receiver.answer = 503
    with app.app_context():
        start = db.session.scalar(select(WebhookEvent.created_at))
    now = start
    for _ in range(20):
        with app.app_context():
            webhook_dispatch.dispatch(now=now, limit=3)  # a bug that retries at once ends here
        if _delivery(app)["status"] != "pending":
            break
        now = max(now, _delivery(app)["next"])
        assert now - start <= timedelta(hours=24), "retried past the window"
    assert _delivery(app)["status"] == "failed"
    with app.app_context():
        tries = list(db.session.scalars(select(WebhookAttempt.attempted_at)))
    # 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h after the one before, and a last try at 24 h.
    assert len(tries) == len(receiver.arrivals) == 8
    assert tries[-1] - start == timedelta(hours=24)
    assert len(set(receiver.ids)) == 1
    assert _endpoint_row(app).enabled  # one day of failures does not disable it


def test_a_410_disables_the_endpoint_at_once(app, receiver):
    add_endpoint(app, receiver)
    _emit(app, 3)
    receiver.answer = 410
    report = _dispatch(app)
    assert len(receiver.arrivals) == 1
    assert report.failed == 1  # the first answered 410; the other two stop unsent
    with app.app_context():
        statuses = [d.status.value for d in db.session.scalars(select(WebhookDelivery))]
    assert statuses == ["failed"] * 3
    endpoint = _endpoint_row(app)
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    _emit(app)
    assert len(receiver.arrivals) == 1


def test_a_success_resets_the_failing_clock(app, receiver):
    add_endpoint(app, receiver)
    receiver.answer = 500
    _emit(app)
    start = utcnow()
    _dispatch(app, start)
    assert _endpoint_row(app).failing_since is not None
    receiver.answer = 200
    _dispatch(app, start + timedelta(minutes=1))
    assert _endpoint_row(app).failing_since is None


def test_a_redirect_is_a_failure_and_is_not_followed(app, receiver):
    with receiving(path="/elsewhere") as other:
        add_endpoint(app, receiver)
        _emit(app)
        receiver.answer = 302
        receiver.headers_out = {"Location": other.url}
        _dispatch(app)
        assert other.arrivals == []
    row = _delivery(app)
    assert row["status"] == "pending" and row["code"] == 302
    assert "do not follow redirects" in row["error"]


def test_a_private_address_is_refused_when_added_and_when_delivering(app, receiver):
    add_endpoint(app, receiver)
    _emit(app)
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = False
    with app.app_context(), pytest.raises(Exception, match="public internet address"):
        webhook_endpoints.add_endpoint("http://127.0.0.1:8080/x", ["issue.sent"])
    _dispatch(app)
    assert receiver.arrivals == []
    row = _delivery(app)
    assert row["status"] == "pending" and "not a public internet address" in row["error"]


def test_a_replay_sends_again_with_the_same_id(app, receiver):
    add_endpoint(app, receiver)
    (msg_id,) = _emit(app)
    _dispatch(app)
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        webhook_endpoints.replay(str(delivery.uuid))
    _dispatch(app)
    assert receiver.ids == [msg_id, msg_id]
    assert all(a.verified for a in receiver.arrivals)


def test_old_finished_events_are_pruned_and_waiting_ones_kept(app, receiver):
    add_endpoint(app, receiver)
    _emit(app, 2)
    _dispatch(app)
    receiver.answer = 500
    _emit(app)
    _dispatch(app)  # fails, and waits for its retry
    with app.app_context():
        assert webhook_dispatch.prune(now=utcnow() + timedelta(days=29)) == 0
        assert webhook_dispatch.prune(now=utcnow() + timedelta(days=31)) == 2
        assert [d.status.value for d in db.session.scalars(select(WebhookDelivery))] == ["pending"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_dispatchers_never_post_one_delivery_twice(app, receiver):
    add_endpoint(app, receiver)
    ids = _emit(app, 12)

    def slowly(arrival):
        time.sleep(0.1)
        return 200

    receiver.answer = slowly
    threads = [threading.Thread(target=_dispatch, args=(app,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(receiver.ids) == sorted(ids)  # every one, each exactly once
    assert all(a.verified for a in receiver.arrivals)
