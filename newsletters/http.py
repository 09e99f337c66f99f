"""Small helpers every blueprint uses to read requests and shape answers."""

import functools
import re
from collections.abc import Callable, Iterator

from flask import Flask, jsonify, make_response, request
from flask.json.provider import DefaultJSONProvider

from newsletters.errors import InvalidInput
from newsletters.locales import translated
from newsletters.services.readers.history import Origin

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL, 64 on SQLite
ROW_ID = re.compile(r"[0-9]{1,10}")
# A path or a query string carries no control character at all; a form's text areas may
# hold line breaks and tabs, but no value anywhere holds NUL, which PostgreSQL cannot store.
NOT_IN_URL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NOT_IN_BODY = "\x00"


def wants_json() -> bool:
    """True when the client asked for JSON (a fetch from our pages, or an API client)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def json_error(code: str, message: str, status: int, **extra):
    """The one shape of every JSON error: ``{"error": {"code", "message"}}``, the message
    in the reader's language."""
    return jsonify({"error": {"code": code, "message": translated(message), **extra}}), status


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


def row_id_arg(name: str) -> int | None:
    """A row id from the query string (a page cursor): None when absent, refused when it
    is not a whole number that a database can hold."""
    value = request.args.get(name, "")
    if not value:
        return None
    if not ROW_ID.fullmatch(value) or int(value) > MAX_ROW_ID:
        raise InvalidInput(f"'{name}' must be a whole number.", field=name)
    return int(value)


# --- every request, before any view reads it -----------------------------------------------


class RequestJSON(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deeply to parse is simply bad JSON."""

    def loads(self, s, **kwargs):
        """Parse ``s``. Nesting past the recursion limit becomes a ValueError, which
        ``request.get_json`` answers with a 400 (or None when silent), never a crash."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("the JSON is nested too deeply") from exc


def _json_strings(document) -> Iterator[str]:
    """Every key and string in a parsed JSON document, walked without recursion."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _url_texts() -> Iterator[str]:
    """Every text of the path and the query string."""
    yield from (str(value) for value in (request.view_args or {}).values())
    for key, value in request.args.items(multi=True):
        yield from (key, value)


def _body_texts() -> Iterator[str]:
    """Every text a view may read from the body, and the User-Agent kept with consent."""
    for key, value in request.form.items(multi=True):
        yield from (key, value)
    for key, upload in request.files.items(multi=True):
        yield from (key, upload.filename or "")
    yield request.user_agent.string
    if request.is_json:
        yield from _json_strings(request.get_json(silent=True))


def refuse_control_characters() -> None:
    """Refuse a request holding a character no value may hold, before any of it reaches
    the database: PostgreSQL refuses NUL where SQLite would store it, and either way it is
    bad input, not an outage."""
    if any(NOT_IN_URL.search(text) for text in _url_texts()) or any(
        NOT_IN_BODY in text for text in _body_texts()
    ):
        raise InvalidInput("The request holds a control character (such as NUL) we can't accept.")


def init_app(app: Flask) -> None:
    """Parse JSON safely and refuse control characters, for every blueprint at once."""
    app.json = RequestJSON(app)
    app.before_request(refuse_control_characters)
