"""The suppression list, the audit log and the team."""

from flask import abort, flash, redirect, render_template, request, url_for

from newsletters.admin.blueprint import audited, bp, owner_only
from newsletters.admin.forms import ActionForm, AdminForm, SuppressionForm
from newsletters.errors import InvalidInput
from newsletters.services.console import admins, audit
from newsletters.services.mail import suppressions


def _before() -> int | None:
    value = request.args.get("before", "")
    return int(value) if value.isdigit() else None


@bp.route("/suppressions", methods=["GET", "POST"])
def suppression_list():
    """Addresses we never mail; add one with a reason."""
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
    page = suppressions.listing(before_id=_before())
    return render_template(
        "admin/suppressions.html", form=form, suppressions=page, action=ActionForm()
    ), status


@bp.post("/suppressions/<int:suppression_id>/remove")
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
    return render_template("admin/audit.html", entries=audit.entries(before_id=_before()))


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
    return render_template("admin/team.html", form=form, admins=admins.all_admins()), status
