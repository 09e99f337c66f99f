"""The OpenAPI description of the readers and issues routes, merged into the document."""

from newsletters.api.openapi_shapes import errors, json_body
from newsletters.locales import languages
from newsletters.models import SubscriberStatus, SubscriptionStatus
from newsletters.services.catalogue import public_newsletters
from newsletters.services.issues import sent
from newsletters.services.rhythm.periods import FREQUENCIES

TEXT = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
ENGAGED = "Null when the issue went out without counting these (TRACK_OPENS, TRACK_CLICKS)."
MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
NO_READER = "No reader has this address (or it is not an address at all)."
EMAIL = {
    "name": "email",
    "in": "path",
    "required": True,
    "description": "The reader's address, in any case: Ann@Example.com finds ann@example.com.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 320},
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def paths() -> dict:
    """The readers and issues routes."""
    reader = json_body(_ref("SubscriberAnswer"), "The reader and each of their subscriptions.")
    return {
        "/subscribers/{email}": {
            "parameters": [EMAIL],
            "get": {
                "summary": "A reader by address, with their subscriptions",
                "operationId": "getSubscriber",
                "security": [{"bearer": ["subscribers:read"]}],
                "responses": {"200": reader, **errors(400, 401, 403, 404, 503, e404=NO_READER)},
            },
            "patch": {
                "summary": "Change a reader's newsletters, rhythms or language",
                "description": (
                    "The preference page's rules: `newsletters` becomes exactly what the "
                    "reader gets (an unknown, private or archived newsletter they do not get "
                    "is a 400 naming the field). Only the reader's own click adds a newsletter "
                    "for a reader who never confirmed their address, or brings back one who "
                    "left a newsletter: those are 409 `consent_needed`. On any error nothing "
                    "changes. The change is in the reader's history and the audit log."
                ),
                "operationId": "updateSubscriber",
                "security": [{"bearer": ["subscribers:write"]}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SubscriberChange")}},
                },
                "responses": {
                    "200": reader,
                    **errors(
                        400,
                        401,
                        403,
                        404,
                        409,
                        413,
                        503,
                        e404=NO_READER,
                        e409="Only the reader can do that (confirm, or come back).",
                    ),
                },
            },
            "delete": {
                "summary": "Erase a reader, as the console does",
                "description": (
                    "Their row, history and mail go; their address stays suppressed, by its "
                    "hash only, so no import or signup mails them by mistake."
                ),
                "operationId": "eraseSubscriber",
                "security": [{"bearer": ["subscribers:write"]}],
                "responses": {
                    "204": {"description": "Erased."},
                    **errors(400, 401, 403, 404, 503, e404=NO_READER),
                },
            },
        },
        "/issues": {
            "get": {
                "summary": "The issues that went out, newest first, with their counts",
                "description": "Any valid token may read them, whatever its scopes.",
                "operationId": "listIssues",
                "security": [{"bearer": []}],
                "parameters": [
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": sent.MAX_LIMIT},
                        f"Issues per page, {sent.DEFAULT_LIMIT} when absent.",
                    ),
                    _query(
                        "cursor",
                        {"type": "string", "pattern": sent.CURSOR.pattern},
                        "The next_cursor of the page before.",
                    ),
                    _query("newsletter", TEXT, "Only this newsletter's issues (its slug)."),
                ],
                "responses": {
                    "200": json_body(_ref("IssuePage"), "A page of issues."),
                    **errors(400, 401, 404, 503, e404="No newsletter has that slug."),
                },
            }
        },
    }


def _subscription() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["newsletter", "status", "frequency", "next_frequency", "since"],
        "properties": {
            "newsletter": TEXT,
            "status": {"enum": [s.value for s in SubscriptionStatus]},
            "frequency": {"enum": list(FREQUENCIES), "description": "The rhythm they get now."},
            "next_frequency": {
                "description": "A change of rhythm waiting for its boundary, or null.",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["frequency", "from"],
                        "properties": {"frequency": {"enum": list(FREQUENCIES)}, "from": TIME},
                    },
                ],
            },
            "since": {**MAYBE_TIME, "description": "When the subscription took this status."},
        },
    }


def schemas() -> dict:
    """The bodies of the readers and issues routes."""
    slug = {"type": "string", "enum": [n.slug for n in public_newsletters()] or [""]}
    subscriber = {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "email",
            "status",
            "locale",
            "created_at",
            "confirmed_at",
            "subscriptions",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "email": TEXT,
            "status": {"enum": [s.value for s in SubscriberStatus]},
            "locale": {"type": ["string", "null"]},
            "created_at": TIME,
            "confirmed_at": MAYBE_TIME,
            "subscriptions": {"type": "array", "items": _subscription()},
        },
    }
    counts = {
        "type": "object",
        "additionalProperties": False,
        "required": [*sent.COUNTS, *sent.ENGAGEMENT],
        "properties": {
            **{name: {"type": "integer", "minimum": 0} for name in sent.COUNTS},
            **{
                name: {"type": ["integer", "null"], "minimum": 0, "description": ENGAGED}
                for name in sent.ENGAGEMENT
            },
        },
    }
    issue = {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "newsletter",
            "frequency",
            "subject",
            "status",
            "period_start",
            "period_end",
            "sent_at",
            "completed_at",
            "counts",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "newsletter": TEXT,
            "frequency": {"enum": list(FREQUENCIES)},
            "subject": {"type": ["string", "null"]},
            "status": {"enum": [s.value for s in sent.GONE_OUT]},
            "period_start": TIME,
            "period_end": TIME,
            "sent_at": {**TIME, "description": "When it started going out."},
            "completed_at": {**MAYBE_TIME, "description": "When the last delivery settled."},
            "counts": counts,
        },
    }
    return {
        "Subscriber": subscriber,
        "SubscriberAnswer": {
            "type": "object",
            "additionalProperties": False,
            "required": ["subscriber"],
            "properties": {"subscriber": _ref("Subscriber")},
        },
        "SubscriberChange": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "newsletters": {"type": "array", "items": slug},
                "frequencies": {
                    "type": "object",
                    "description": "Newsletter slug to rhythm, for newsletters they get.",
                    "additionalProperties": {"enum": list(FREQUENCIES)},
                },
                "locale": {"type": "string", "enum": languages()},
            },
        },
        "Issue": issue,
        "IssuePage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["issues", "next_cursor"],
            "properties": {
                "issues": {"type": "array", "items": _ref("Issue")},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
    }
