"""Small helpers every blueprint uses to read requests and shape answers."""

import functools
from collections.abc import Callable

from flask import jsonify, make_response, request

from newsletters.services.readers.history import Origin


def wants_json() -> bool:
    """True when the client asked for JSON (a fetch from our pages, or an API client)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def json_error(code: str, message: str, status: int, **extra):
    """The one shape of every JSON error: ``{"error": {"code", "message"}}``."""
    return jsonify({"error": {"code": code, "message": message, **extra}}), status


def request_origin(source: str) -> Origin:
    """Who is asking, for the consent record."""
    return Origin(
        source=source,
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
    )


def private_page(view: Callable) -> Callable:
    """Keep a page whose URL holds a personal token out of caches and Referer headers."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper
