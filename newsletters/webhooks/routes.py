"""``POST /webhooks/bounces/<provider>``: thin, JSON in and out.

No session, so no CSRF token; no rate limit, so a provider's burst of retries
is never dropped (each request is a signature check before anything else).
The body is read as bytes, as signed, whatever its Content-Type (SNS sends
text/plain), up to ``MAX_CONTENT_LENGTH``.
"""

from flask import Blueprint, jsonify, request

from newsletters.errors import NewsletterError
from newsletters.extensions import csrf, limiter
from newsletters.http import json_error
from newsletters.services.deliverability import providers

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # providers authenticate with signatures, not session cookies
limiter.exempt(bp)


@bp.before_app_request
def keep_the_signed_bytes() -> None:
    """Read a webhook's body before anything parses it as a form (which would use it up):
    the signature is over these bytes, whatever the Content-Type says."""
    if request.blueprint == bp.name:
        request.get_data(cache=True)


@bp.post("/bounces/<provider>")
def bounces(provider: str):
    """Check the provider's signature, apply its bounces and complaints, say how many."""
    received = providers.receive(
        provider, providers.WebhookRequest(request.get_data(), request.headers)
    )
    return jsonify(received.answer())


@bp.errorhandler(NewsletterError)
def refused(error: NewsletterError):
    """Every refusal as ``{"error": {"code", "message"}}``, as the API answers."""
    body, status = json_error(error.code, error.message, error.status)
    challenge = getattr(error, "challenge", None)
    return body, status, {"WWW-Authenticate": challenge} if challenge else {}
