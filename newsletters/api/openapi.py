"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from flask import current_app

from newsletters.api import openapi_records, openapi_webhooks
from newsletters.api.openapi_shapes import errors, json_body
from newsletters.locales import languages
from newsletters.services.catalogue import all_newsletters

# Each part describes more routes: a module with paths() and schemas(), merged below.
PARTS = (openapi_records, openapi_webhooks)


def document() -> dict:
    """The whole description, with this deployment's address as the server."""
    site = current_app.config["SITE_URL"].rstrip("/")
    described = {
        "openapi": "3.1.0",
        "info": {
            "title": f"{current_app.config['SITE_NAME']} newsletters API",
            "version": "1.0.0",
            "description": (
                "Sign readers up from your own forms, list the newsletters, file stories for "
                "the issues, look readers up, change or erase them, and read the issues that "
                'went out with their counts. Errors are JSON: {"error": {"code", "message", '
                '"field"?}}; "field" names the part of the request at fault.'
            ),
        },
        "servers": [{"url": f"{site}/api/v1"}],
        "paths": {
            "/openapi.json": {
                "get": {
                    "summary": "This description",
                    "operationId": "getOpenApi",
                    "responses": {
                        "200": json_body({"type": "object"}, "The OpenAPI 3.1 document."),
                        **errors(400, 503),
                    },
                }
            },
            "/subscriptions": {
                "post": {
                    "summary": "Sign a reader up; they confirm by email",
                    "description": (
                        "Answers the same whether the address is new, pending or already "
                        "subscribed. From a web page: a publishable key, sent from one of its "
                        "origins, and the CAPTCHA answer when one is configured (CORS is open "
                        "to EMBED_ALLOWED_ORIGINS). From a server: a token with the "
                        "subscribers:write scope. Outside production, neither is needed."
                    ),
                    "operationId": "createSubscription",
                    "security": [
                        {"publishableKey": []},
                        {"bearer": ["subscribers:write"]},
                    ],
                    "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SubscriptionRequest"}
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Accepted; a confirmation email is on its way.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Accepted"}
                                }
                            },
                        },
                        **errors(400, 401, 403, 409, 413, 429, 503),
                    },
                }
            },
            "/newsletters": {
                "get": {
                    "summary": "The public newsletters",
                    "operationId": "listNewsletters",
                    "responses": {
                        "200": {
                            "description": "Every newsletter a reader can sign up for.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["newsletters"],
                                        "properties": {
                                            "newsletters": {
                                                "type": "array",
                                                "items": {
                                                    "$ref": "#/components/schemas/Newsletter"
                                                },
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **errors(400, 503),
                    },
                }
            },
            "/stories": {
                "post": {
                    "summary": "File a story for a newsletter's next issue",
                    "operationId": "createStory",
                    "security": [{"bearer": ["stories:write"]}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/StoryRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": {"$ref": "#/components/responses/Story"},
                        "200": {"$ref": "#/components/responses/Story"},
                        **errors(400, 401, 403, 404, 413, 503),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "A secret token from `flask admin token NAME --scopes ...` or the "
                        "console's API tokens page. Each operation names the scope it needs."
                    ),
                },
                "publishableKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Publishable-Key",
                    "description": (
                        "A key from `flask admin token NAME --publishable --origin ORIGIN`, for "
                        "signups from web pages on its origins (or send it as the field `key`)."
                    ),
                },
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Send the same key when retrying; the request is applied once.",
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{8,100}$"},
                }
            },
            "responses": {
                "Story": {
                    "description": "201: filed. 200: a story with this guid was already filed.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["story"],
                                "properties": {"story": {"$ref": "#/components/schemas/Story"}},
                            }
                        }
                    },
                }
            },
            "schemas": _schemas(),
        },
    }
    for part in PARTS:
        described["paths"].update(part.paths())
        described["components"]["schemas"].update(part.schemas())
    return described


def _schemas() -> dict:
    text = {"type": "string"}
    url = {"type": "string", "format": "uri", "maxLength": 2048}
    newsletters = [n for n in all_newsletters() if n.in_service]
    # This deployment's newsletters, so clients (and code generators) know the valid slugs.
    public_slug = {"type": "string", "enum": [n.slug for n in newsletters if n.is_public] or [""]}
    any_slug = {"type": "string", "enum": [n.slug for n in newsletters] or [""]}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": text, "message": text, "field": text},
                }
            },
        },
        "SubscriptionRequest": {
            "type": "object",
            "required": ["email", "newsletters"],
            "properties": {
                "email": {"type": "string", "format": "email", "maxLength": 254},
                "newsletters": {"type": "array", "minItems": 1, "items": public_slug},
                "key": {"type": "string", "description": "The publishable key, if not a header."},
                "captcha": {
                    "type": "string",
                    "description": "The CAPTCHA widget's answer, when a CAPTCHA is configured.",
                },
                "website": {
                    "type": "string",
                    "description": (
                        "A hidden field of your form that people leave empty; filled, the "
                        "answer is the same but nothing is stored."
                    ),
                },
                "locale": {
                    "type": "string",
                    "enum": languages(),
                    "description": (
                        "The reader's language: their emails (the confirmation first) are "
                        "written in it. Without it, the request's ?lang= or Accept-Language "
                        "when the site offers it. Kept only by a reader who has none yet. Any "
                        "other value is a 400."
                    ),
                },
                "language": {
                    "type": "string",
                    "enum": languages(),
                    "description": "The same as locale; if both are given they must agree.",
                },
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {"status": {"const": "accepted"}, "message": text},
        },
        "Newsletter": {
            "type": "object",
            "required": ["slug", "name", "description", "cadence", "frequencies"],
            "properties": {
                "slug": text,
                "name": text,
                "description": text,
                "cadence": text,
                "frequencies": {"type": "array", "items": text},
            },
        },
        "StoryRequest": {
            "type": "object",
            "required": ["newsletter", "title", "url"],
            "properties": {
                "newsletter": any_slug,
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
                "url": url,
                "summary": {"type": "string", "maxLength": 5000},
                "published_at": {"type": "string", "format": "date-time"},
                "guid": {"type": "string", "maxLength": 512},
                "image_url": url,
            },
        },
        "Story": {
            "type": "object",
            "required": ["id", "newsletter", "title", "url", "guid", "published_at"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "newsletter": text,
                "title": text,
                "url": url,
                "summary": text,
                "image_url": {"type": ["string", "null"]},
                "guid": text,
                "published_at": {"type": "string", "format": "date-time"},
            },
        },
    }
