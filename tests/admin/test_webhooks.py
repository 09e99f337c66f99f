"""/admin/webhooks: owners add an endpoint (the secret shown once), see its deliveries,
replay one and disable the endpoint; each action is in the audit log."""

import re

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import AuditLog, WebhookEndpoint
from newsletters.services.integrations import webhook_dispatch, webhook_events
from tests.support.admin import action_token
from tests.support.webhooks import receiving

SECRET = re.compile(r"<code data-new-secret[^>]*>(whsec_[A-Za-z0-9+/=]+)</code>")
ENDPOINT_LINK = re.compile(r'href="/admin/webhooks/([0-9a-f-]{36})"')
REPLAY = re.compile(r'action="(/admin/webhooks/[0-9a-f-]+/deliveries/[0-9a-f-]+/replay)"')


@pytest.fixture
def settings(settings):
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the receiver is on loopback
    return settings


def _add(client, **fields):
    data = {"csrf_token": action_token(client, "/admin/webhooks"), **fields}
    return client.post("/admin/webhooks", data=data)


def _actions(app) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action.like("webhook.%")).order_by(AuditLog.id)
        )
        return [a.action for a in rows]


def test_an_owner_adds_an_endpoint_replays_a_delivery_and_disables_it(app, owner):
    with receiving() as receiver:
        added = _add(owner, url=receiver.url, events=["subscriber.erased"], description="CRM")
        assert added.status_code == 200
        assert added.headers["Cache-Control"] == "no-store"
        page = added.get_data(as_text=True)
        receiver.secret = SECRET.search(page)[1]
        listing = owner.get("/admin/webhooks").get_data(as_text=True)
        assert receiver.url in listing and receiver.secret not in listing
        endpoint_id = ENDPOINT_LINK.search(listing)[1]

        with app.app_context():
            event = webhook_events.emit("subscriber.erased", {"subscriber": {"id": "1"}})
            db.session.commit()
            msg_id = event.msg_id
            receiver.answer = 500
            webhook_dispatch.dispatch()
        detail = owner.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
        assert "subscriber.erased" in detail and msg_id in detail
        assert "pending" in detail and ">500<" in detail and "the endpoint answered 500" in detail

        receiver.answer = 200
        replay_url = REPLAY.search(detail)[1]
        replayed = owner.post(
            replay_url, data={"csrf_token": action_token(owner, "/admin/webhooks")}
        )
        assert replayed.status_code == 302
        with app.app_context():
            webhook_dispatch.dispatch()
        assert receiver.ids == [msg_id, msg_id]
        assert all(a.verified for a in receiver.arrivals)
        assert "delivered" in owner.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)

    disabled = owner.post(
        f"/admin/webhooks/{endpoint_id}/disable",
        data={"csrf_token": action_token(owner, "/admin/webhooks")},
        follow_redirects=True,
    )
    assert "disabled by an admin" in disabled.get_data(as_text=True)
    assert _actions(app) == ["webhook.add", "webhook.replay", "webhook.disable"]


def test_a_bad_url_or_unknown_event_is_shown_on_the_form_and_saves_nothing(app, owner):
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = False
    refused = _add(owner, url="http://127.0.0.1:9/hooks", events=["issue.sent"])
    assert refused.status_code == 400
    assert "not a public internet address" in refused.get_data(as_text=True)
    unknown = _add(owner, url="https://crm.example.com/h", events=["subscription.created"])
    assert unknown.status_code == 400
    assert "Unknown event: subscription.created" in unknown.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0
    assert _actions(app) == []


def test_the_page_is_for_owners_and_posts_need_the_csrf_token(app, owner, editor):
    assert editor.get("/admin/webhooks").status_code == 403
    no_token = owner.post("/admin/webhooks", data={"url": "https://crm.example.com/h"})
    assert no_token.status_code == 400
    assert owner.get("/admin/webhooks/not-an-id").status_code == 404
