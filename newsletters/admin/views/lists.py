"""The suppression list, the audit log and the team."""

from uuid import UUID

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from newsletters.admin.blueprint import audited, bp, owner_only
from newsletters.admin.forms import ActionForm, AdminForm, SuppressionForm
from newsletters.errors import InvalidInput
from newsletters.http import MAX_ROW_ID, row_id_arg
from newsletters.services.console import admins, audit, two_factor
from newsletters.services.mail import suppressions


@bp.route("/suppressions", methods=["GET", "POST"])
def suppression_list():
    """Addresses we never mail; add one with a reason."""
    before = row_id_arg("before")  # read first: a bad cursor refuses the request, post and all
    form = SuppressionForm()
    status = 200
    if form.validate_on_submit():
        try:
            added = audited(
                "suppression.add",
                "address",
                form.email.data,
                lambda: suppressions.add_manual(form.email.data, form.note.data),
            )
        except InvalidInput as error:
            form.email.errors = [*form.email.errors, error.message]
            status = 400
        else:
            flash(f"{added.email} will get no more mail.")
            return redirect(url_for("admin.suppression_list"))
    page = suppressions.listing(before_id=before)
    return render_template(
        "admin/suppressions.html", form=form, suppressions=page, action=ActionForm()
    ), status


@bp.post(f"/suppressions/<int(max={MAX_ROW_ID}):suppression_id>/remove")
def remove_suppression(suppression_id: int):
    """Allow mail to an address again."""
    removed = audited(
        "suppression.remove",
        "suppression",
        str(suppression_id),
        lambda: suppressions.remove(suppression_id),
        detail=lambda s: {"email": s.email, "reason": s.reason.value},
    )
    flash(f"{removed.email or 'The address'} may be mailed again.")
    return redirect(url_for("admin.suppression_list"))


@bp.get("/audit")
def audit_log():
    """Who did what, and when, newest first."""
    entries = audit.entries(before_id=row_id_arg("before"))
    return render_template("admin/audit.html", entries=entries)


@bp.route("/team", methods=["GET", "POST"])
@owner_only
def team():
    """The administrators; owners add more."""
    form = AdminForm()
    status = 200
    if form.validate_on_submit():
        try:
            created = audited(
                "admin.create",
                "admin",
                form.email.data,
                lambda: admins.create_admin(form.email.data, form.password.data, form.role.data),
                detail={"role": form.role.data},
            )
        except InvalidInput as error:
            getattr(form, error.field or "email").errors.append(error.message)
            status = 400
        else:
            flash(f"{created.email} can now sign in as {created.role.value}.")
            return redirect(url_for("admin.team"))
    elif form.is_submitted() and not form.errors:
        abort(400)
    return render_template(
        "admin/team.html", form=form, admins=admins.all_admins(), action=ActionForm(formdata=None)
    ), status


@bp.post("/team/<uuid:uuid>/two-factor/reset")
@owner_only
def reset_two_factor(uuid: UUID):
    """Turn off another admin's two-factor sign-in (a lost phone); their sessions end."""
    target = admins.admin_by_uuid(uuid)
    if target is None:
        abort(404)
    if target.id == current_user.id:
        flash("Turn your own two-factor sign-in off on your account page.")
        return redirect(url_for("admin.team"))
    audited("admin.two_factor_reset", "admin", target.email, lambda: two_factor.reset(target))
    flash(
        f"{target.email} signs in with their password alone until they set up two-factor "
        "sign-in again, and every session of theirs has ended."
    )
    return redirect(url_for("admin.team"))
