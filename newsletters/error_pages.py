"""Turn errors into pages (or JSON) a reader can act on. Nothing is half-saved."""

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException, SecurityError

from newsletters.errors import InvalidToken, NewsletterError
from newsletters.extensions import db
from newsletters.http import json_error, wants_json
from newsletters.locales import N_, translated

log = logging.getLogger(__name__)

MESSAGES = {
    400: (N_("Bad request"), N_("We couldn't understand that request.")),
    404: (N_("Page not found"), N_("We couldn't find that page. It may have moved.")),
    405: (N_("Not allowed"), N_("That page can't be used this way.")),
    413: (N_("Too much data"), N_("That was more than we accept in one go.")),
    429: (
        N_("Too many attempts"),
        N_(
            "You've tried that several times in a short while. Please wait a few minutes "
            "and try again."
        ),
    ),
    500: (
        N_("Something went wrong"),
        N_("Something went wrong on our side and nothing was saved. Please try again in a moment."),
    ),
    503: (
        N_("We'll be right back"),
        N_(
            "We can't reach our database just now, so nothing was changed. "
            "Please try again in a minute."
        ),
    ),
}


def _answer(
    status: int, code: str, title: str, message: str, template: str = "errors/error.html", **extra
):
    """The page (or JSON) for an error; title and message are English, shown translated.
    ``extra`` goes into the JSON error only (``field``: which input was refused)."""
    if wants_json() or request.path.startswith(("/api/", "/webhooks/")):
        return json_error(code, message, status, **extra)
    page = render_template(
        template, status=status, title=translated(title), message=translated(message)
    )
    return page, status


def invalid_link(error: InvalidToken):
    """A bad, expired or tampered link: say so, offer a new one, change nothing."""
    return _answer(400, error.code, N_("This link doesn't work"), error.message, "errors/link.html")


def domain_error(error: NewsletterError):
    """Any other refusal by the domain."""
    field = getattr(error, "field", None)
    extra = {"field": field} if field else {}
    body, status = _answer(
        error.status, error.code, N_("We couldn't do that"), error.message, **extra
    )
    headers = {"WWW-Authenticate": 'Bearer realm="newsletters"'} if status == 401 else {}
    return body, status, headers


def csrf_error(error: CSRFError):
    """A form without a valid CSRF token, usually an old tab."""
    return _answer(
        400, "form_expired", N_("This form has expired"), N_("Reload the page and try again.")
    )


def http_error(error: HTTPException):
    """404, 405, 413, 429 and friends, in the site's own words."""
    status = error.code or 500
    title, message = MESSAGES.get(status, (error.name, error.description or ""))
    return _answer(status, error.name.lower().replace(" ", "_"), title, message)


def server_error(error: Exception):
    """Roll back whatever the request started, and say nothing was saved."""
    db.session.rollback()
    original = getattr(error, "original_exception", None) or error
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    title, message = MESSAGES[500]
    return _answer(500, "internal_error", title, message)


def untrusted_host(error: SecurityError):
    """A request for a host this site does not serve (TRUSTED_HOSTS): no page, no links."""
    return "This site does not answer to that host name.\n", 400, {"Content-Type": "text/plain"}


def unavailable(error: Exception):
    """The database is away (after the retries inside the request): 503, nothing changed."""
    db.session.rollback()
    log.error("database unavailable on %s %s: %r", request.method, request.path, error)
    title, message = MESSAGES[503]
    return _answer(503, "unavailable", title, message)


def bad_data(error: DataError):
    """A value the database refused (text with NUL, a number out of range): the request
    was bad, the database is fine. 400, nothing changed."""
    db.session.rollback()
    refusal = type(error.orig).__name__  # the class only: the message may quote the value
    log.warning("database refused a value on %s %s: %s", request.method, request.path, refusal)
    return _answer(
        400,
        "invalid_input",
        N_("We couldn't do that"),
        N_("Something in that request can't be stored."),
    )


def register_error_handlers(app: Flask) -> None:
    """Install every handler above."""
    app.register_error_handler(DataError, bad_data)  # a refused value is no outage
    app.register_error_handler(DBAPIError, unavailable)
    app.register_error_handler(SecurityError, untrusted_host)
    app.register_error_handler(InvalidToken, invalid_link)
    app.register_error_handler(NewsletterError, domain_error)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(500, server_error)
