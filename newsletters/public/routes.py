"""Reader routes. Each parses the request, calls one service, and renders the result."""

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from newsletters.errors import InvalidInput
from newsletters.extensions import csrf, limiter
from newsletters.http import json_error, private_page, request_origin, wants_json
from newsletters.public import forms
from newsletters.services import health, links, preferences, subscriptions
from newsletters.services.newsletters import public_newsletters
from newsletters.services.tokens import Purpose

bp = Blueprint("public", __name__)

THANKS = "Thank you for submitting your email!"


def _signup_ip_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


def _signup_address_limit() -> str:
    return current_app.config["SIGNUP_ADDRESS_RATE_LIMIT"]


limit_per_ip = limiter.limit(_signup_ip_limit, methods=["POST"])
limit_per_address = limiter.limit(
    _signup_address_limit, key_func=forms.address_rate_limit_key, methods=["POST"]
)


@bp.get("/")
def index():
    """Explore more newsletters: every public newsletter, with one signup form."""
    return _signup_page()


def _signup_page(error: InvalidInput | None = None, submission=None, status: int = 200):
    return (
        render_template(
            "public/index.html",
            newsletters=public_newsletters(),
            form_token=forms.signup_form_token(),
            error=error,
            email=submission.email if submission else "",
            selected=set(submission.newsletters) if submission else set(),
        ),
        status,
    )


@bp.post("/subscribe")
@csrf.exempt  # protected by the signed token in the form; see forms.py
@limit_per_ip
@limit_per_address
def subscribe():
    """Take a signup. The answer never says whether the address was known."""
    submission = forms.read_signup(request.form)
    try:
        subscriptions.subscribe(
            submission.email,
            submission.newsletters,
            request_origin(submission.source),
            automated=submission.looks_automated,
        )
    except InvalidInput as error:
        return _signup_error(error, submission)
    if wants_json():
        return jsonify({"status": "ok", "message": THANKS})
    return render_template("public/thanks.html", message=THANKS)


def _signup_error(error: InvalidInput, submission: forms.SignupSubmission):
    if wants_json():
        return json_error(error.code, error.message, error.status, field=error.field)
    return _signup_page(error, submission, error.status)


@bp.get("/confirm/<token>")
@private_page
def confirm(token: str):
    """A page whose script confirms at once; a GET itself never changes anything."""
    subscriber = subscriptions.subscriber_from_token(Purpose.CONFIRM, token)
    return render_template(
        "public/confirm.html",
        token=token,
        awaiting=subscriptions.awaiting_confirmation(subscriber),
    )


@bp.post("/confirm/<token>")
@private_page
def confirm_post(token: str):
    """Confirm the reader's pending newsletters."""
    outcome = subscriptions.confirm_subscription(token, request_origin("confirm-link"))
    return render_template(
        "public/confirmed.html",
        added=outcome.added,
        active=subscriptions.active_newsletters(outcome.subscriber),
        preferences_url=links.preferences_url(outcome.subscriber),
    )


@bp.get("/preferences/<token>", endpoint="preferences")
@private_page
def show_preferences(token: str):
    """The preference center: every public newsletter in its current state."""
    subscriber = subscriptions.subscriber_from_token(Purpose.PREFERENCES, token)
    return render_template(
        "public/preferences.html",
        token=token,
        subscriber=subscriber,
        choices=preferences.preference_choices(subscriber),
    )


@bp.post("/preferences/<token>")
@private_page
def save_preferences(token: str):
    """Apply the reader's choices at once, or leave everything."""
    origin = request_origin("preferences")
    if request.form.get("action") == "unsubscribe_all":
        outcome = preferences.unsubscribe_from_all(token, origin)
        message = "You have been unsubscribed from all newsletters."
    else:
        outcome = preferences.update_preferences(token, request.form.getlist("newsletters"), origin)
        message = "Your preferences have been saved."
    if wants_json():
        active = [n.slug for n in subscriptions.active_newsletters(outcome.subscriber)]
        return jsonify({"status": "ok", "message": message, "newsletters": active})
    flash(message)
    return redirect(url_for("public.preferences", token=token), code=303)


@bp.route("/preferences", methods=["GET", "POST"])
@limit_per_ip
@limit_per_address
def lost_link():
    """Lost your link? The same answer for every address, known or not."""
    if request.method == "GET":
        return render_template("public/lost_link.html")
    email = request.form.get("email", "")
    try:
        preferences.request_preferences_link(email, request_origin("lost-link"))
    except InvalidInput as error:
        return render_template("public/lost_link.html", error=error, email=email), error.status
    return render_template("public/lost_link_sent.html", email=email)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click posts carry no cookie and no CSRF token
@private_page
def unsubscribe(token: str):
    """GET shows a button; POST leaves; an RFC 8058 one-click POST needs nothing else."""
    if request.method == "GET":
        subscriber, newsletter = preferences.unsubscribe_link_target(token)
        return render_template(
            "public/unsubscribe.html",
            token=token,
            newsletter=newsletter,
            preferences_url=links.preferences_url(subscriber),
        )
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        _require_csrf()
    outcome = preferences.unsubscribe(
        token, request_origin("one-click" if one_click else "unsubscribe-page")
    )
    if one_click:
        return "You have been unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
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
