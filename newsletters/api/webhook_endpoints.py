"""JSON API for webhook endpoints (scope ``webhooks:write``): list, add, show, disable, replay.

``DELETE`` disables rather than deletes: the endpoint's deliveries stay visible, the
audit trail stays whole, and its events stop at once. Registered on the API's ``bp``.
"""

from flask import jsonify

from newsletters.api import access
from newsletters.api.routes import bp, json_object
from newsletters.errors import NotFound
from newsletters.models import WebhookDelivery, WebhookEndpoint
from newsletters.services.console import api_tokens, audit
from newsletters.services.integrations import webhook_endpoints


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def endpoint_json(endpoint: WebhookEndpoint) -> dict:
    """An endpoint as the API shows it, never with its secret."""
    return {
        "id": str(endpoint.uuid),
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.event_list,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "disabled_at": _when(endpoint.disabled_at),
        "failing_since": _when(endpoint.failing_since),
        "created_at": _when(endpoint.created_at),
    }


def delivery_json(delivery: WebhookDelivery) -> dict:
    """One delivery: its event, where it stands, and what the receiver last said."""
    return {
        "id": str(delivery.uuid),
        "event_id": delivery.event.msg_id,
        "event_type": delivery.event.type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": _when(delivery.event.created_at),
        "last_attempt_at": _when(delivery.last_attempt_at),
        "next_attempt_at": _when(delivery.next_attempt_at),
        "delivered_at": _when(delivery.delivered_at),
    }


def _caller() -> audit.Actor:
    """The token's name, for the audit log, once it is known to hold ``webhooks:write``."""
    return access.actor(access.require_token(api_tokens.WEBHOOKS_WRITE))


@bp.get("/webhooks")
def list_webhooks():
    """Every webhook endpoint, newest first."""
    _caller()
    return jsonify({"webhooks": [endpoint_json(e) for e in webhook_endpoints.all_endpoints()]})


@bp.post("/webhooks")
def create_webhook():
    """Add an endpoint: 201 with its signing secret, shown this once."""
    actor = _caller()
    payload = json_object()
    endpoint, secret = audit.audited(
        actor,
        "webhook.add",
        "webhook_endpoint",
        str(payload.get("url"))[:120],
        lambda: webhook_endpoints.add_endpoint(
            payload.get("url"), payload.get("events") or [], payload.get("description")
        ),
        lambda created: {"url": created[0].url, "events": created[0].event_list},
    )
    body = {"webhook": {**endpoint_json(endpoint), "secret": secret}}
    return jsonify(body), 201, {"Cache-Control": "no-store"}


@bp.get("/webhooks/<endpoint_id>")
def show_webhook(endpoint_id: str):
    """One endpoint and its latest deliveries."""
    _caller()
    endpoint = webhook_endpoints.endpoint_by_id(endpoint_id)
    deliveries = webhook_endpoints.deliveries_of(endpoint)
    return jsonify(
        {"webhook": endpoint_json(endpoint), "deliveries": [delivery_json(d) for d in deliveries]}
    )


@bp.delete("/webhooks/<endpoint_id>")
def disable_webhook(endpoint_id: str):
    """Disable an endpoint: nothing more is sent to it; its history stays."""
    actor = _caller()
    endpoint = audit.audited(
        actor,
        "webhook.disable",
        "webhook_endpoint",
        endpoint_id[:120],
        lambda: webhook_endpoints.disable(endpoint_id),
    )
    return jsonify({"webhook": endpoint_json(endpoint)})


@bp.post("/webhooks/<endpoint_id>/deliveries/<delivery_id>/replay")
def replay_delivery(endpoint_id: str, delivery_id: str):
    """Send a delivery again soon, with the same webhook-id: 202."""
    actor = _caller()
    endpoint = webhook_endpoints.endpoint_by_id(endpoint_id)
    delivery = webhook_endpoints.delivery_of(endpoint, delivery_id)
    if delivery is None:
        raise NotFound("No such delivery for this webhook endpoint.")
    replayed = audit.audited(
        actor,
        "webhook.replay",
        "webhook_delivery",
        str(delivery.uuid),
        lambda: webhook_endpoints.replay(str(delivery.uuid)),
    )
    return jsonify({"delivery": delivery_json(replayed)}), 202
