"""Counted links and the open pixel: ``GET /r/<token>`` and ``GET /o/<token>.gif``.

Each route reads its token, asks the counting service to add one, and answers: a
302 to the story for a click, a 1x1 GIF for the pixel. What a token names is checked
before anything else; a token that does not verify, or names nothing we sent, gets a
plain 400 page and never a redirect. With counting off the routes are not there (404),
except that a counted link already mailed keeps taking its reader to the story.
"""

from flask import abort, current_app, make_response, redirect, request

from newsletters.errors import InvalidToken
from newsletters.limits import counting_allowed
from newsletters.models import utcnow
from newsletters.public.routes import bp
from newsletters.services.issues import counting
from newsletters.services.issues.machines import Fetch

# A transparent 1x1 GIF (43 bytes).
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def _fetch(started) -> Fetch:
    return Fetch(
        method=request.method,
        user_agent=request.headers.get("User-Agent", ""),
        address=request.remote_addr,
        at=utcnow(),
        issue_started=started,
    )


@bp.route("/r/<token>", methods=["GET", "HEAD"])
def counted_click(token: str):
    """Count a click on a story link and send the reader on to the story."""
    on = current_app.config["TRACK_CLICKS"]
    try:
        link_id, url, started = counting.click_target(token)
    except InvalidToken:
        abort(400 if on else 404)
    if on and counting_allowed("click", token):
        counting.count_click(link_id, _fetch(started))
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/o/<token>.gif", methods=["GET", "HEAD"])
def counted_open(token: str):
    """Count an open of an issue: the picture every copy of it carries."""
    if not current_app.config["TRACK_OPENS"]:
        abort(404)
    try:
        issue_id, started = counting.open_target(token)
    except InvalidToken:
        abort(400)
    if counting_allowed("open", token):
        counting.count_open(issue_id, _fetch(started))
    response = make_response(PIXEL)
    response.headers["Content-Type"] = "image/gif"
    # Every fetch must reach us to be counted, and no cache may keep it for another reader.
    response.headers["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
    response.headers["Pragma"] = "no-cache"
    return response
