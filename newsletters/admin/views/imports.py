"""Importing a CSV of readers: upload, check (in the background), preview, apply."""

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user

from newsletters.admin.blueprint import audited, bp
from newsletters.admin.forms import ActionForm, ImportForm
from newsletters.errors import InvalidInput
from newsletters.models import ImportStatus
from newsletters.services.core import csvsafe
from newsletters.services.readers import imports


@bp.route("/imports/new", methods=["GET", "POST"])
def new_import():
    """Upload a file; checking starts at once, in the background."""
    form = ImportForm()
    error = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job = audited(
                "import.start",
                "import",
                upload.filename or "import.csv",
                lambda: imports.start_import(
                    upload.filename,
                    upload.read(),
                    admin_id=current_user.id,
                    attested=form.attest.data,
                    consent_note=form.consent_note.data,
                ),
                detail=lambda job: {"job": str(job.uuid), "attested": job.attested},
            )
        except InvalidInput as refused:
            error = refused
        else:
            imports.run_in_background(job.id, "check")
            return redirect(url_for("admin.import_job", uuid=job.uuid))
    status = 400 if error else 200
    return render_template("admin/import_new.html", form=form, error=error), status


@bp.get("/imports/<uuid>")
def import_job(uuid: str):
    """Progress while it runs; the preview (counts and refused rows) once checked."""
    job = imports.job_by_uuid(uuid)
    preview = job.errors_csv.splitlines()[1:51]
    return render_template(
        "admin/import_job.html",
        job=job,
        preview=[line.split(",", 2) for line in preview],
        running=job.status in (ImportStatus.CHECKING, ImportStatus.APPLYING),
        action=ActionForm(),
    )


@bp.post("/imports/<uuid>/apply")
def apply_import(uuid: str):
    """Apply the valid rows of a checked import, in the background."""
    job = imports.job_by_uuid(uuid)
    try:
        audited("import.apply", "import", str(job.uuid), lambda: imports.begin_apply(job))
    except InvalidInput as error:
        flash(error.message)
    else:
        imports.run_in_background(job.id, "apply")
    return redirect(url_for("admin.import_job", uuid=uuid))


@bp.get("/imports/<uuid>/errors.csv")
def import_errors(uuid: str):
    """The refused rows, with line numbers and reasons, to fix and import again.

    The rows echo the uploaded file, so their cells are neutralised on the way
    out; reports stored before that rule existed are covered too.
    """
    job = imports.job_by_uuid(uuid)
    return Response(
        csvsafe.neutralised(job.errors_csv),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-errors-{uuid}.csv"'},
    )
