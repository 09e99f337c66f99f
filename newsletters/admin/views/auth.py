"""Signing in (a password, then a code when two-factor sign-in is on) and out, audited."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from newsletters import error_pages
from newsletters.admin import sessions, sign_in_limits
from newsletters.admin.blueprint import actor, audited, bp, safe_next
from newsletters.admin.forms import ActionForm, CodeForm, LoginForm
from newsletters.models import AdminUser
from newsletters.services.console import admins, audit, two_factor

# Wrong codes after one right password, before the password is asked for again.
MAX_WRONG_CODES = 5
WRONG_CODE = "That code didn't work. Type the code your app shows now, or a recovery code."


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limits.limit_per_ip
@sign_in_limits.limit_per_account
def login():
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = admins.authenticate(form.email.data, form.password.data)
        if result.admin is not None:
            next_url = safe_next(request.args.get("next"))
            if result.admin.two_factor_enabled:
                account = sign_in_limits.account_hash(result.admin.email)
                sessions.await_second_factor(result.admin, account, next_url)
                return redirect(url_for("admin.login_code"))
            return _signed_in(result.admin, next_url, None)
        sign_in_limits.note_failure()
        error = result.reason
    status = 400 if request.method == "POST" else 200
    return render_template("admin/login.html", form=form, error=error), status


@bp.route("/login/code", methods=["GET", "POST"])
@sign_in_limits.limit_per_ip
@sign_in_limits.limit_per_account
def login_code():
    """The second step of signing in: a code from the app, or a recovery code."""
    pending = sessions.pending_sign_in()
    if pending is None:
        if request.method == "POST":
            flash("That took too long. Please sign in again.")
        return redirect(url_for("admin.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        admin = admins.admin_by_id(str(pending.get("id", "")))
        kind = two_factor.verify_second_factor(admin, form.code.data) if admin else None
        if admin is not None and kind is not None:
            return _signed_in(admin, safe_next(pending.get("next")), kind)
        sign_in_limits.note_failure()
        if sessions.count_wrong_code() >= MAX_WRONG_CODES or admin is None:
            sessions.forget_pending()
            flash("Too many wrong codes. Please sign in again.")
            return redirect(url_for("admin.login"))
        error = WRONG_CODE
    status = 400 if request.method == "POST" else 200
    return render_template("admin/login_code.html", form=form, error=error), status


def _signed_in(admin: AdminUser, next_url: str, second_factor: str | None):
    """Start the session, note the sign-in, and mark this browser as known to the account."""
    sessions.begin(admin)
    detail = {"second_factor": second_factor} if second_factor else None
    audit.audited(
        actor(), "admin.login", "admin", admin.email, lambda: admins.record_sign_in(admin), detail
    )
    return sign_in_limits.remember_device(redirect(next_url), admin.email)


@bp.post("/logout")
def logout():
    """Sign out everywhere: every copy of this admin's session cookie stops working."""
    if ActionForm().validate_on_submit():
        admin = current_user._get_current_object()
        audited("admin.logout", "admin", admin.email, lambda: admins.end_sessions(admin))
        sessions.end()
    return redirect(url_for("admin.login"))


@bp.errorhandler(429)
def too_many_attempts(error):
    """On the sign-in pages, the sign-in form again, saying how long to wait at most."""
    if request.endpoint not in sign_in_limits.SIGN_IN_ENDPOINTS:
        return error_pages.http_error(error)
    minutes = sign_in_limits.longest_wait_minutes()
    message = (
        "Too many sign-in attempts. Please wait a little and try again: "
        f"the wait is never longer than {minutes} minutes."
    )
    form = LoginForm()
    return render_template("admin/login.html", form=form, error=message), 429
