"""An admin's own account: their password, their sessions and their two-factor sign-in."""

from flask import flash, make_response, redirect, render_template, url_for
from flask_login import current_user

from newsletters.admin import sessions, sign_in_limits
from newsletters.admin.blueprint import audited, bp
from newsletters.admin.forms import ActionForm, ChangePasswordForm, CodeForm, PasswordCheckForm
from newsletters.errors import InvalidInput
from newsletters.services.console import admins, two_factor


def _me():
    """The signed-in admin (the model, not Flask-Login's proxy)."""
    return current_user._get_current_object()


def _page(status: int = 200, **forms):
    """The account page, with any form given in place of a blank one."""
    admin = _me()
    return render_template(
        "admin/account.html",
        password_form=forms.get("password_form") or ChangePasswordForm(formdata=None),
        code_form=forms.get("code_form") or CodeForm(formdata=None),
        disable_form=forms.get("disable_form") or PasswordCheckForm(formdata=None),
        action=ActionForm(formdata=None),
        enrolment=two_factor.pending_enrolment(admin),
        codes_left=two_factor.recovery_codes_left(admin) if admin.two_factor_enabled else 0,
    ), status


def _refused(form, error: InvalidInput, default_field: str):
    """Show the error by its field, and count it when it was a wrong password."""
    getattr(form, error.field or default_field, getattr(form, default_field)).errors.append(
        error.message
    )
    if error.field in ("current_password", "password"):
        sign_in_limits.note_failure()


def _change_own_account(form, slot: str, action: str, change, field: str):
    """Check ``form``, make the audited ``change`` to this admin, and keep this browser in.

    Returns ``(result, None)`` once the change is made, or ``(None, page)`` with the
    account page showing the form's errors (400) when it is not.
    """
    if not form.validate_on_submit():
        return None, _page(400, **{slot: form})
    admin = _me()
    try:
        result = audited(action, "admin", admin.email, lambda: change(admin))
    except InvalidInput as error:
        _refused(form, error, field)
        return None, _page(400, **{slot: form})
    sessions.begin(admin)  # the change ended every session: this one goes on
    return result, None


@bp.get("/account")
def account():
    """Change your password, end your other sessions, set up two-factor sign-in."""
    return _page()


@bp.post("/account/password")
@sign_in_limits.limit_per_ip
@sign_in_limits.limit_per_account
def change_password():
    """A new password; every other session of this admin ends, this one goes on."""
    form = ChangePasswordForm()
    data = form.data
    _, refusal = _change_own_account(
        form,
        "password_form",
        "admin.password_change",
        lambda admin: admins.change_password(
            admin, data["current_password"], data["new_password"], data["repeat_password"]
        ),
        "new_password",
    )
    if refusal:
        return refusal
    flash("Your password is changed, and every other session of yours has ended.")
    return redirect(url_for("admin.account"))


@bp.post("/account/sessions/end")
def end_other_sessions():
    """Sign out of every other browser; this one stays signed in."""
    admin = _me()
    audited("admin.sessions_end", "admin", admin.email, lambda: admins.end_sessions(admin))
    sessions.begin(admin)
    flash("Every other session of yours has ended.")
    return redirect(url_for("admin.account"))


@bp.post("/account/two-factor")
def start_two_factor():
    """A new secret for the authenticator app, shown on the account page until confirmed."""
    try:
        two_factor.begin_enrolment(_me())
    except InvalidInput as error:
        flash(error.message)
    return redirect(url_for("admin.account"))


@bp.post("/account/two-factor/confirm")
def confirm_two_factor():
    """The first code from the app turns two-factor sign-in on; the recovery codes, once."""
    form = CodeForm()
    codes, refusal = _change_own_account(
        form,
        "code_form",
        "admin.two_factor_enable",
        lambda admin: two_factor.confirm_enrolment(admin, form.code.data),
        "code",
    )
    if refusal:
        return refusal
    response = make_response(render_template("admin/recovery_codes.html", codes=codes))
    response.headers["Cache-Control"] = "no-store"  # shown once: never from a cache
    return response


@bp.post("/account/two-factor/disable")
@sign_in_limits.limit_per_ip
@sign_in_limits.limit_per_account
def disable_two_factor():
    """Turn two-factor sign-in off, with the current password."""
    form = PasswordCheckForm()
    _, refusal = _change_own_account(
        form,
        "disable_form",
        "admin.two_factor_disable",
        lambda admin: two_factor.disable(admin, form.password.data),
        "password",
    )
    if refusal:
        return refusal
    flash("Two-factor sign-in is off, and every other session of yours has ended.")
    return redirect(url_for("admin.account"))
