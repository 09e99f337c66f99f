"""Signing in and out: rate-limited, locked after repeated failures, audited."""

from flask import redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from newsletters.admin.blueprint import actor, bp, safe_next
from newsletters.admin.forms import ActionForm, LoginForm
from newsletters.extensions import limiter
from newsletters.services.console import admins, audit


def _login_email_key() -> str:
    return "admin-login:" + (request.form.get("email") or "").strip().lower()[:320]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
@limiter.limit("30 per hour", key_func=_login_email_key, methods=["POST"])
def login():
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = admins.authenticate(form.email.data, form.password.data)
        if result.admin is not None:
            session.clear()  # a fresh session: nothing carried over from before signing in
            login_user(result.admin)
            audit.audited(actor(), "admin.login", "admin", result.admin.email, lambda: None)
            return redirect(safe_next(request.args.get("next")))
        error = result.reason
    status = 400 if request.method == "POST" else 200
    return render_template("admin/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    """Sign out."""
    if ActionForm().validate_on_submit():
        logout_user()
        session.clear()
    return redirect(url_for("admin.login"))
