"""JSON API routes: parse, call one service, answer JSON. Errors are JSON too."""

from flask import Blueprint, jsonify, request

from newsletters import locales
from newsletters.api import access, openapi
from newsletters.errors import InvalidEmail, InvalidInput
from newsletters.extensions import csrf
from newsletters.http import request_origin
from newsletters.limits import limit_signups
from newsletters.models import Story
from newsletters.services.catalogue import public_newsletters
from newsletters.services.console import api_tokens
from newsletters.services.core import idempotency
from newsletters.services.issues import stories
from newsletters.services.readers import signup
from newsletters.services.rhythm.choice import default_frequency, offered

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # API clients authenticate with a bearer token, not a session cookie


def json_object() -> dict:
    """The request's body, which must be a JSON object; else a 400 saying what is wrong."""
    if not request.is_json:
        raise InvalidInput(
            "The request body must be a JSON object, sent with Content-Type: application/json."
        )
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return payload


def _story_json(story: Story) -> dict:
    return {
        "id": str(story.uuid),
        "newsletter": story.newsletter.slug,
        "title": story.title,
        "url": story.url,
        "summary": story.summary,
        "image_url": story.image_url,
        "guid": story.guid,
        "published_at": story.published_at.isoformat(),
    }


@bp.get("/openapi.json")
def openapi_document():
    """This API, described for people and for code generators."""
    return jsonify(openapi.document())


def _signup_language(payload: dict) -> tuple[str | None, bool]:
    """The language to save with an API signup, and whether the caller named it: the
    body's ``locale`` (or ``language``), which this site must offer; else the request's
    (``?lang=``, then ``Accept-Language``, as a reader page would read it); else none,
    and the reader is written to in the default language until they choose."""
    named = {field: payload[field] for field in ("locale", "language") if field in payload}
    if not named:
        asked = locales.asked_language() or request.accept_languages.best_match(locales.languages())
        return asked, False
    field = next(iter(named))
    values = set(named.values()) if all(isinstance(v, str) for v in named.values()) else None
    if not values or len(values) > 1:
        raise InvalidInput("locale must be one language code.", field=field)
    code = locales.offered(values.pop())
    if code is None:
        offered = ", ".join(locales.languages())
        raise InvalidInput(f"locale must be one of the languages offered: {offered}.", field=field)
    return code, True


@bp.post("/subscriptions")
@limit_signups
def create_subscription():
    """Sign a reader up, exactly as the form does: 202 and the same answer for everyone."""
    payload = json_object()
    automated = access.screen_signup(payload)
    email, slugs = payload.get("email"), payload.get("newsletters")
    if not isinstance(email, str):
        raise InvalidEmail()
    if not isinstance(slugs, list) or not all(isinstance(slug, str) for slug in slugs):
        raise InvalidInput("newsletters must be a list of newsletter slugs.", field="newsletters")
    locale, named = _signup_language(payload)
    status, body = idempotency.apply_once(
        idempotency.check_key(request.headers.get("Idempotency-Key")),
        "api-subscriptions",
        idempotency.fingerprint(email, sorted(slugs), *([locale] if named else [])),
        lambda: signup.subscribe(
            email, slugs, request_origin("api"), automated=automated, locale=locale
        ),
        lambda _: (202, {"status": "accepted", "message": signup.SIGNUP_ANSWER}),
    )
    return jsonify(body), status


@bp.get("/newsletters")
def list_newsletters():
    """The public newsletters."""
    return jsonify(
        {
            "newsletters": [
                {
                    "slug": n.slug,
                    "name": n.name,
                    "description": n.description,
                    "cadence": default_frequency(n),
                    "frequencies": offered(n),
                }
                for n in public_newsletters()
            ]
        }
    )


@bp.post("/stories")
def create_story():
    """Add a story to a newsletter: 201, or 200 with the story already filed under that guid."""
    api_tokens.authenticate(request.headers.get("Authorization"), api_tokens.STORIES_WRITE)
    payload = json_object()
    story, created = stories.add_story(
        payload.get("newsletter"),
        stories.StoryInput(
            title=payload.get("title"),
            url=payload.get("url"),
            summary=payload.get("summary", ""),
            published_at=payload.get("published_at"),
            guid=payload.get("guid"),
            image_url=payload.get("image_url"),
        ),
        source="api",
    )
    return jsonify({"story": _story_json(story)}), 201 if created else 200
