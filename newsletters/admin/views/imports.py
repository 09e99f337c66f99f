"""Importing a CSV of readers: upload, check (in the background), preview, adjust, apply."""

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from newsletters.admin.blueprint import audited, bp
from newsletters.admin.forms import ActionForm, ImportForm
from newsletters.errors import InvalidInput
from newsletters.models import ImportStatus
from newsletters.services.readers import import_files, import_runs, imports
from newsletters.services.readers.import_formats import FORMAT_CHOICES, FORMATS, NEWSLETTERS

# Room for the form's other fields and the multipart boundaries around the file.
FORM_OVERHEAD = 64 * 1024


@bp.route("/imports/new", methods=["GET", "POST"])
def new_import():
    """Upload a file, streamed to disk; checking starts at once, in the background."""
    if request.method == "POST":
        # The console takes 1 MB a request; an import file may be IMPORT_MAX_BYTES.
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + FORM_OVERHEAD
    form = ImportForm()
    form.newsletters.choices = [(n.slug, n.name) for n in imports.newsletters_taking_readers()]
    error = None
    if form.validate_on_submit():
        try:
            job = _start(form)
        except InvalidInput as refused:
            error = refused
        else:
            import_runs.run_in_background(job.id, "check")
            return redirect(url_for("admin.import_job", uuid=job.uuid))
    status = 400 if error else 200
    return render_template("admin/import_new.html", form=form, error=error), status


def _start(form: ImportForm):
    upload = form.file.data
    path = import_files.save_upload(upload.stream, current_app.config["IMPORT_MAX_BYTES"])
    try:
        return audited(
            "import.start",
            "import",
            upload.filename or "import.csv",
            lambda: imports.start_import(
                upload.filename,
                path=path,
                admin_id=current_user.id,
                attested=form.attest.data,
                consent_note=form.consent_note.data,
                format=form.format.data or "auto",
                newsletters=form.newsletters.data or [],
            ),
            detail=lambda job: {
                "job": str(job.uuid), "attested": job.attested, "format": job.format
            },
        )  # fmt: skip
    except BaseException:
        path.unlink(missing_ok=True)  # nothing is kept of a refused file
        raise


@bp.get("/imports/<uuid>")
def import_job(uuid: str):
    """Progress while it runs; the preview (format, mapping, refused rows) once checked."""
    job = imports.job_by_uuid(uuid)
    preview = (job.errors_csv or "").splitlines()[1:51]
    return render_template(
        "admin/import_job.html",
        job=job,
        fmt=FORMATS[job.format],
        formats=FORMAT_CHOICES,
        newsletters=imports.newsletters_taking_readers(),
        preview=[line.split(",", 2) for line in preview],
        running=job.status in (ImportStatus.CHECKING, ImportStatus.APPLYING),
        stalled=import_runs.stalled(job),
        own=job.format == NEWSLETTERS,
        action=ActionForm(),
    )


@bp.post("/imports/<uuid>/mapping")
def import_mapping(uuid: str):
    """Change the format, the tag map and the newsletters of a checked import; check again."""
    job = imports.job_by_uuid(uuid)
    form = ActionForm()
    if not form.validate_on_submit():
        flash("The form expired; try again.")
        return redirect(url_for("admin.import_job", uuid=uuid)), 303
    tags = {
        request.form.get(f"tag-{i}", ""): request.form.get(f"map-{i}", "")
        for i in range(len(job.tags_found or []))
    }
    try:
        audited(
            "import.mapping",
            "import",
            str(job.uuid),
            lambda: imports.change_mapping(
                job,
                request.form.get("format", "auto"),
                request.form.getlist("newsletters"),
                {tag: slug for tag, slug in tags.items() if tag and slug},
            ),
        )
    except InvalidInput as error:
        flash(error.message)
        return redirect(url_for("admin.import_job", uuid=uuid)), 303
    import_runs.run_in_background(job.id, "check")
    return redirect(url_for("admin.import_job", uuid=uuid)), 303


@bp.post("/imports/<uuid>/apply")
def apply_import(uuid: str):
    """Apply the valid rows of a checked import, in the background."""
    job = imports.job_by_uuid(uuid)
    try:
        audited("import.apply", "import", str(job.uuid), lambda: imports.begin_apply(job))
    except InvalidInput as error:
        flash(error.message)
    else:
        import_runs.run_in_background(job.id, "apply")
    return redirect(url_for("admin.import_job", uuid=uuid))


@bp.post("/imports/<uuid>/resume")
def resume_import(uuid: str):
    """Run again an import whose runner stopped (a worker killed): from its checkpoint."""
    job = imports.job_by_uuid(uuid)
    try:
        phase = audited(
            "import.resume", "import", str(job.uuid), lambda: import_runs.resume_stalled(job)
        )
    except InvalidInput as error:
        flash(error.message)
    else:
        import_runs.run_in_background(job.id, phase)
    return redirect(url_for("admin.import_job", uuid=uuid))


@bp.get("/imports/<uuid>/errors.csv")
def import_errors(uuid: str):
    """The refused rows, with line numbers and reasons, to fix and import again.

    The rows echo the uploaded file, so their cells are neutralised on the way
    out; reports stored before that rule existed are covered too.
    """
    job = imports.job_by_uuid(uuid)
    return Response(
        stream_with_context(import_files.safe_errors(job)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-errors-{uuid}.csv"'},
    )
