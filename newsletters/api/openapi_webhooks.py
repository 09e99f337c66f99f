"""The OpenAPI paths and schemas of the webhook endpoints API, merged into :mod:`.openapi`."""

from newsletters.api.openapi_shapes import errors, json_body
from newsletters.services.integrations.webhook_events import EVENT_TYPES

SECURITY = [{"bearer": ["webhooks:write"]}]
# What the general error words mean on these routes.
WORDS = {
    "e400": (
        "The request is malformed (an id with control characters, say) or refused (its URL, "
        "its events); nothing was changed."
    ),
    "e401": "A valid token is required.",
    "e403": "The token lacks the webhooks:write scope.",
    "e404": "No such webhook endpoint or delivery.",
}
ENDPOINT_ID = {
    "name": "endpoint_id",
    "in": "path",
    "required": True,
    "description": "The endpoint's id.",
    "schema": {"type": "string"},
}
DELIVERY_ID = {**ENDPOINT_ID, "name": "delivery_id", "description": "The delivery's id."}


def _object(**properties) -> dict:
    return {"type": "object", "required": list(properties), "properties": properties}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def paths() -> dict:
    """The webhook routes, under the API's base path."""
    one = _object(webhook=_ref("WebhookEndpoint"))
    return {
        "/webhooks": {
            "get": {
                "summary": "List webhook endpoints",
                "operationId": "listWebhooks",
                "security": SECURITY,
                "responses": {
                    "200": json_body(
                        _object(webhooks={"type": "array", "items": _ref("WebhookEndpoint")}),
                        "Every endpoint, newest first.",
                    ),
                    **errors(401, 403, 503, **WORDS),
                },
            },
            "post": {
                "summary": "Add a webhook endpoint; its signing secret is shown this once",
                "description": (
                    "The URL must be http:// or https://, carry no user name or password, and "
                    "resolve to public internet addresses; it is checked again at every "
                    "delivery. Requests are signed per Standard Webhooks with the secret."
                ),
                "operationId": "createWebhook",
                "security": SECURITY,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("WebhookRequest")}},
                },
                "responses": {
                    "201": json_body(
                        _object(webhook=_ref("WebhookEndpointWithSecret")),
                        "Added. Keep the secret: it is not shown again.",
                    ),
                    **errors(400, 401, 403, 413, 503, **WORDS),
                },
            },
        },
        "/webhooks/{endpoint_id}": {
            "parameters": [ENDPOINT_ID],
            "get": {
                "summary": "One webhook endpoint and its latest deliveries",
                "operationId": "getWebhook",
                "security": SECURITY,
                "responses": {
                    "200": json_body(
                        _object(
                            webhook=_ref("WebhookEndpoint"),
                            deliveries={"type": "array", "items": _ref("WebhookDelivery")},
                        ),
                        "The endpoint and its latest 100 deliveries, newest first.",
                    ),
                    **errors(400, 401, 403, 404, 503, **WORDS),
                },
            },
            "delete": {
                "summary": "Disable a webhook endpoint",
                "description": (
                    "Disables rather than deletes: nothing more is sent to it, what was "
                    "waiting is marked failed, and its deliveries stay visible. Repeating it "
                    "is harmless."
                ),
                "operationId": "disableWebhook",
                "security": SECURITY,
                "responses": {
                    "200": json_body(one, "Disabled."),
                    **errors(400, 401, 403, 404, 503, **WORDS),
                },
            },
        },
        "/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay": {
            "parameters": [ENDPOINT_ID, DELIVERY_ID],
            "post": {
                "summary": "Send a delivery again, with the same webhook-id",
                "operationId": "replayWebhookDelivery",
                "security": SECURITY,
                "responses": {
                    "202": json_body(
                        _object(delivery=_ref("WebhookDelivery")),
                        "Queued: the next dispatch pass sends it, with a fresh retry window.",
                    ),
                    **errors(400, 401, 403, 404, 503, **WORDS),
                },
            },
        },
    }


def schemas() -> dict:
    """The webhook schemas, for ``components.schemas``."""
    moment = {"type": "string", "format": "date-time"}
    maybe_moment = {"type": ["string", "null"], "format": "date-time"}
    maybe_text = {"type": ["string", "null"]}
    event_type = {"type": "string", "enum": list(EVENT_TYPES)}
    endpoint = {
        "type": "object",
        "required": [
            "id", "url", "description", "events", "enabled", "disabled_reason",
            "disabled_at", "failing_since", "created_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "url": {"type": "string"},
            "description": {"type": "string"},
            "events": {"type": "array", "items": event_type},
            "enabled": {"type": "boolean"},
            "disabled_reason": maybe_text,
            "disabled_at": maybe_moment,
            "failing_since": maybe_moment,
            "created_at": moment,
        },
    }  # fmt: skip
    with_secret = {
        **endpoint,
        "required": [*endpoint["required"], "secret"],
        "properties": {
            **endpoint["properties"],
            "secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]+$"},
        },
    }
    return {
        "WebhookRequest": {
            "type": "object",
            "required": ["url", "events"],
            "properties": {
                "url": {"type": "string", "format": "uri", "maxLength": 2048},
                "events": {"type": "array", "minItems": 1, "items": event_type},
                "description": {"type": "string", "maxLength": 300},
            },
        },
        "WebhookEndpoint": endpoint,
        "WebhookEndpointWithSecret": with_secret,
        "WebhookDelivery": {
            "type": "object",
            "required": [
                "id",
                "event_id",
                "event_type",
                "status",
                "attempts",
                "last_status_code",
                "last_error",
                "created_at",
                "last_attempt_at",
                "next_attempt_at",
                "delivered_at",
            ],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "event_id": {"type": "string", "description": "The webhook-id of its requests."},
                "event_type": event_type,
                "status": {"type": "string", "enum": ["pending", "sending", "delivered", "failed"]},
                "attempts": {"type": "integer", "minimum": 0},
                "last_status_code": {"type": ["integer", "null"]},
                "last_error": maybe_text,
                "created_at": moment,
                "last_attempt_at": maybe_moment,
                "next_attempt_at": moment,
                "delivered_at": maybe_moment,
            },
        },  # fmt: skip
    }
