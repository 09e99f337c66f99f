"""Reader routes. Each parses the request, calls one service, and renders the result.

A page that changes something has two views: a GET view that only shows it (a HEAD runs
it too) and a POST view that changes it, so no other method reaches a change.
"""

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import InternalServerError
from wtforms import ValidationError

from newsletters import error_pages, locales, support
from newsletters.errors import FormExpired, InvalidInput
from newsletters.extensions import csrf
from newsletters.http import private_page, request_origin, wants_json
from newsletters.limits import limit_signups
from newsletters.locales import N_
from newsletters.public import failures, forms, pages
from newsletters.security import allow_framing
from newsletters.services.catalogue import signup_cards
from newsletters.services.console import health
from newsletters.services.core import idempotency
from newsletters.services.core.tokens import Purpose
from newsletters.services.mail import links
from newsletters.services.readers import bot_checks, preferences, signup, standing
from newsletters.services.readers import confirm as confirming

log = logging.getLogger(__name__)

bp = Blueprint("public", __name__)

THANKS = signup.SIGNUP_ANSWER
SAVE_ENDPOINTS = {"public.subscribe", "public.save_preferences"}
EMBED_LOADER_MAX_AGE = 3600  # publishers' pages pick up a new loader within the hour


def _idempotency_key() -> str | None:
    """The key of this request: the header a script sends, or the form's own field."""
    return idempotency.check_key(
        request.headers.get("Idempotency-Key") or request.form.get("idempotency_key")
    )


# --- signing up ---------------------------------------------------------------------------


@bp.get("/")
def index():
    """Explore more newsletters: every public newsletter, with one signup form."""
    return pages.signup_page(signup_cards())


@bp.get("/embed/signup")
def embed_signup():
    """The compact 'Stay connected' box for an iframe under an article."""
    wanted = [s.strip() for s in request.args.get("newsletters", "").split(",") if s.strip()]
    cards = forms.cards_for_embed(signup_cards(), wanted)
    if not cards:
        abort(404)
    return pages.signup_page(cards, source="embed", selected={c.slug for c in cards})


@bp.get("/embed/signup.js")
def embed_loader():
    """The script that places the box in an article and keeps it as tall as its content."""
    return send_from_directory(
        current_app.static_folder,
        "embed/signup.js",
        mimetype="text/javascript",
        max_age=EMBED_LOADER_MAX_AGE,
    )


@bp.post("/subscribe")
@csrf.exempt  # protected by the signed token in the form; see forms.py
@limit_signups
def subscribe():
    """Take a signup. The answer never says whether the address was known."""
    try:
        submission = forms.read_signup(request.form)
    except FormExpired as error:
        return pages.form_expired_page(error, request.form)
    if submission.source == "embed":
        allow_framing()
    try:
        automated = bot_checks.screen(
            request.form, request.remote_addr, shown_at=submission.shown_at
        )
        status, body = idempotency.apply_once(
            _idempotency_key(),
            "subscribe",
            idempotency.fingerprint(
                submission.email,
                sorted(submission.newsletters),
                sorted(submission.frequencies.items()),
            ),
            lambda: signup.subscribe(
                submission.email,
                submission.newsletters,
                request_origin(submission.source),
                automated=automated,
                locale=locales.current_locale(),
                frequencies=submission.frequencies,
            ),
            lambda _: (200, {"status": "ok", "message": locales.translated(THANKS)}),
        )
    except InvalidInput as error:
        return pages.signup_error_page(error, submission, request.form)
    if wants_json():
        return jsonify(body), status
    template = "public/embed_thanks.html" if submission.source == "embed" else "public/thanks.html"
    return render_template(template, message=locales.translated(THANKS))


# --- confirming ---------------------------------------------------------------------------


@bp.get("/confirm/<token>")
@private_page
def confirm(token: str):
    """A page whose script confirms at once; a GET itself never changes anything."""
    subscriber = standing.subscriber_from_token(Purpose.CONFIRM, token)
    return render_template(
        "public/confirm.html",
        token=token,
        awaiting=confirming.awaiting_confirmation(subscriber),
    )


@bp.post("/confirm/<token>")
@private_page
def confirm_post(token: str):
    """Confirm the reader's pending newsletters."""
    outcome = confirming.confirm_subscription(token, request_origin("confirm-link"))
    return render_template(
        "public/confirmed.html",
        added=outcome.added,
        active=standing.active_newsletters(outcome.subscriber),
        preferences_url=links.preferences_url(outcome.subscriber),
    )


# --- choosing -----------------------------------------------------------------------------


@bp.get("/preferences/<token>", endpoint="preferences")
@private_page
def show_preferences(token: str):
    """The preference center: every public newsletter in its current state."""
    subscriber = standing.subscriber_from_token(Purpose.PREFERENCES, token)
    choices = preferences.preference_choices(subscriber)
    return render_template(
        "public/preferences.html",
        token=token,
        email=subscriber.email,
        choices=choices,
        idempotency_key=pages.new_key(),
        mailto=support.support_mailto([c.newsletter.name for c in choices if c.checked]),
        failed=False,
    )


@bp.post("/preferences/<token>")
@private_page
def save_preferences(token: str):
    """Apply the reader's choices at once, or leave everything."""
    origin = request_origin("preferences")
    leave_all = request.form.get("action") == "unsubscribe_all"
    slugs = [] if leave_all else request.form.getlist("newsletters")
    rhythms = {} if leave_all else forms.chosen_frequencies(request.form)
    message = locales.translated(
        N_("You have been unsubscribed from all newsletters.")
        if leave_all
        else N_("Your preferences have been saved.")
    )

    def apply():
        if leave_all:
            return preferences.unsubscribe_from_all(token, origin)
        return preferences.update_preferences(token, slugs, origin, rhythms)

    def answer(outcome):
        active = [n.slug for n in standing.active_newsletters(outcome.subscriber)]
        return 200, {"status": "ok", "message": message, "newsletters": active}

    status, body = idempotency.apply_once(
        _idempotency_key(),
        "preferences",
        idempotency.fingerprint(token, leave_all, sorted(slugs), sorted(rhythms.items())),
        apply,
        answer,
    )
    if wants_json():
        return jsonify(body), status
    flash(body["message"])
    return redirect(url_for("public.preferences", token=token), code=303)


@bp.get("/preferences")
def lost_link():
    """Lost your link? Ask for a new one."""
    return render_template("public/lost_link.html")


@bp.post("/preferences")
@limit_signups
def send_lost_link():
    """Mail a fresh preferences link: the same answer for every address, known or not."""
    email = request.form.get("email", "")
    try:
        preferences.request_preferences_link(email, request_origin("lost-link"))
    except InvalidInput as error:
        return render_template("public/lost_link.html", error=error, email=email), error.status
    return render_template("public/lost_link_sent.html", email=email)


# --- leaving ------------------------------------------------------------------------------


@bp.get("/unsubscribe/<token>")
@private_page
def unsubscribe(token: str):
    """A button to leave; the GET itself never changes anything."""
    subscriber, newsletter = preferences.unsubscribe_link_target(token)
    return render_template(
        "public/unsubscribe.html",
        token=token,
        newsletter=newsletter,
        preferences_url=links.preferences_url(subscriber),
    )


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # RFC 8058 one-click posts carry no cookie and no CSRF token
@private_page
def unsubscribe_post(token: str):
    """Leave: the page's button (with its CSRF token), or an RFC 8058 one-click POST."""
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        _require_csrf()
    outcome = preferences.unsubscribe(
        token, request_origin("one-click" if one_click else "unsubscribe-page")
    )
    if one_click:
        said = locales.translated(N_("You have been unsubscribed."))
        return f"{said}\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template(
        "public/unsubscribed.html",
        newsletter=outcome.newsletter,
        removed=outcome.removed,
        preferences_url=links.preferences_url(outcome.subscriber),
    )


def _require_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not."""
    if health.database_ok():
        return jsonify({"status": "ok"})
    return jsonify({"status": "unavailable"}), 503


# --- when saving fails --------------------------------------------------------------------


@bp.errorhandler(DBAPIError)
def database_failed(error: DBAPIError):
    """The database could not save (after the retries inside the request): say so, keep the form."""
    if isinstance(error, DataError):  # it refused a value: bad input, not an outage
        return error_pages.bad_data(error)
    return failures.save_failed_response(error, 503, SAVE_ENDPOINTS)


@bp.errorhandler(InternalServerError)
def crashed(error: InternalServerError):
    """Any other failure while saving gets the same message; elsewhere the usual 500 page."""
    if request.endpoint in SAVE_ENDPOINTS:
        return failures.save_failed_response(error.original_exception or error, 500, SAVE_ENDPOINTS)
    return error_pages.server_error(error)
