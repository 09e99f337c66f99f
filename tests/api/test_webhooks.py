"""/api/v1/webhooks: a publisher's system manages its own endpoints with webhooks:write."""

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import AuditLog, WebhookEndpoint
from newsletters.services.integrations import webhook_dispatch, webhook_events
from tests.support.webhooks import receiving


@pytest.fixture
def settings(settings):
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the receiver is on loopback
    return settings


def _token(runner, scopes: str) -> str:
    name = "crm-" + scopes.replace(":", "-")
    result = runner.invoke(args=["admin", "token", name, "--scopes", scopes])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def auth(runner) -> dict:
    return {"Authorization": f"Bearer {_token(runner, 'webhooks:write')}"}


def _endpoints(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(WebhookEndpoint))


def test_add_list_show_replay_and_disable(app, client, auth):
    with receiving() as receiver:
        created = client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "events": ["subscriber.erased"], "description": "CRM"},
            headers=auth,
        )
        assert created.status_code == 201, created.get_json()
        assert created.headers["Cache-Control"] == "no-store"
        webhook = created.get_json()["webhook"]
        receiver.secret = webhook["secret"]
        assert webhook["secret"].startswith("whsec_") and webhook["enabled"]
        listed = client.get("/api/v1/webhooks", headers=auth).get_json()["webhooks"]
        assert [w["id"] for w in listed] == [webhook["id"]]
        assert "secret" not in listed[0]

        with app.app_context():
            event = webhook_events.emit("subscriber.erased", {"subscriber": {"id": "1"}})
            db.session.commit()
            msg_id = event.msg_id
            webhook_dispatch.dispatch()
        shown = client.get(f"/api/v1/webhooks/{webhook['id']}", headers=auth).get_json()
        (delivery,) = shown["deliveries"]
        assert delivery["status"] == "delivered" and delivery["event_id"] == msg_id
        assert delivery["last_status_code"] == 200

        path = f"/api/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}/replay"
        replayed = client.post(path, headers=auth)
        assert replayed.status_code == 202
        assert replayed.get_json()["delivery"]["status"] == "pending"
        with app.app_context():
            webhook_dispatch.dispatch()
        assert receiver.ids == [msg_id, msg_id]
        assert all(a.verified for a in receiver.arrivals)

    disabled = client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=auth)
    assert disabled.status_code == 200
    assert disabled.get_json()["webhook"]["enabled"] is False
    assert client.post(path, headers=auth).status_code == 400  # enable it first
    with app.app_context():
        actions = [a.action for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions == ["webhook.add", "webhook.replay", "webhook.disable"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://crm.example.com/h", "events": ["nope"]}, "events"),
        ({"url": "https://crm.example.com/h", "events": "issue.sent"}, "events"),
        ({"url": "https://crm.example.com/h", "events": 5}, "events"),
        ({"url": "https://crm.example.com/h"}, "events"),
        ({"url": "gopher://crm.example.com/h", "events": ["issue.sent"]}, "url"),
        ({"url": 7, "events": ["issue.sent"]}, "url"),
        ({"events": ["issue.sent"]}, "url"),
        (
            {"url": "https://crm.example.com/h", "events": ["issue.sent"], "description": 3},
            "description",
        ),
        (
            {
                "url": "https://crm.example.com/h",
                "events": ["issue.sent"],
                "description": "d" * 301,
            },
            "description",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(app, client, auth, body, field):
    response = client.post("/api/v1/webhooks", json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field
    assert _endpoints(app) == 0


def test_a_private_address_is_refused(app, client, auth):
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = False
    body = {"url": "http://192.168.1.10/hook", "events": ["issue.sent"]}
    response = client.post("/api/v1/webhooks", json=body, headers=auth)
    assert response.status_code == 400
    assert "public internet address" in response.get_json()["error"]["message"]


def test_tokens_without_the_scope_and_unknown_ids(app, client, runner, auth):
    other = {"Authorization": f"Bearer {_token(runner, 'stories:write')}"}
    assert client.get("/api/v1/webhooks", headers=other).status_code == 403
    assert client.get("/api/v1/webhooks").status_code == 401
    assert client.get("/api/v1/webhooks/nope", headers=auth).status_code == 404
    assert client.delete("/api/v1/webhooks/nope", headers=auth).status_code == 404
    missing = "/api/v1/webhooks/00000000-0000-0000-0000-000000000000/deliveries/x/replay"
    assert client.post(missing, headers=auth).get_json()["error"]["code"] == "not_found"


def test_the_openapi_document_describes_the_webhook_routes(client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert {"/webhooks", "/webhooks/{endpoint_id}"} <= set(document["paths"])
    assert "WebhookEndpointWithSecret" in document["components"]["schemas"]
