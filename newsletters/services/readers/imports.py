"""Importing readers from a CSV: check every row first, show the preview, then apply.

Both steps run in batches and record their progress, so a file of 100,000 rows
never holds a request open: the admin console runs them in the background and
shows the progress; ``flask subscribers import`` runs them in the terminal.
Rows are refused, with the reason, for a bad address, an unknown newsletter, a
suppressed address, a repeat of an earlier row, or a newsletter the reader left.
"""

import csv
import io
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import select, update

from newsletters.errors import InvalidEmail, InvalidInput
from newsletters.extensions import db
from newsletters.models import (
    ImportJob,
    ImportStatus,
    Newsletter,
    Subscriber,
    Subscription,
    utcnow,
)
from newsletters.services.core import csvsafe, sql
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.transactions import atomic
from newsletters.services.mail import suppressions
from newsletters.services.readers.history import Origin
from newsletters.services.readers.signup import import_subscription
from newsletters.services.readers.standing import HAS_LEFT

log = logging.getLogger(__name__)

BATCH = 500
MAX_BYTES = 50 * 1024 * 1024
RUN_TASK = "newsletters.run_import"


@dataclass
class Row:
    """One line of the file, as read."""

    line: int
    email: str
    slugs: list[str]
    error: str = ""
    newsletters: list[Newsletter] = field(default_factory=list)


ATTESTATION_NEEDS_NOTE = "Say where and when these readers consented."


@atomic
def start_import(
    filename: str,
    content: bytes,
    *,
    admin_id: int | None = None,
    attested: bool = False,
    consent_note: str | None = None,
) -> ImportJob:
    """Store an uploaded file as an import job, ready to be checked.

    ``attested`` means the importer vouches that the readers consented
    elsewhere; that needs a note saying where and when, kept as their
    consent record. Without it the readers get a confirmation email.
    """
    note = (consent_note or "").strip() or None
    if attested and note is None:
        raise InvalidInput(ATTESTATION_NEEDS_NOTE, field="consent_note")
    if len(content) > MAX_BYTES:
        raise InvalidInput("That file is larger than 50 MB; split it and import the parts.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is not UTF-8 text. Save it as CSV UTF-8 and try again."
        ) from exc
    header = next(csv.reader(io.StringIO(text)), [])
    if [h.strip().lower() for h in header[:2]] != ["email", "newsletters"]:
        raise InvalidInput("The first line must be the header: email,newsletters")
    job = ImportJob(
        filename=(filename or "import.csv")[:255],
        content=text,
        admin_id=admin_id,
        attested=attested,
        consent_note=note if attested else None,
        total_rows=sum(
            1
            for line, fields in enumerate(csv.reader(io.StringIO(text)))
            if line and any(f.strip() for f in fields)
        ),
    )
    db.session.add(job)
    return job


def job_by_uuid(public_id: str) -> ImportJob:
    """An import by its public id, or :class:`NotFound`."""
    return sql.by_public_id(ImportJob, public_id, "There is no such import.")


def _rows(job: ImportJob) -> Iterator[list[Row]]:
    """The file's rows, a batch at a time, with line numbers as a spreadsheet shows them."""
    reader = csv.reader(io.StringIO(job.content))
    next(reader, None)
    batch: list[Row] = []
    for line, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        # An export quotes the cells a spreadsheet would run as formulas: unquote them.
        email = csvsafe.restore_cell(fields[0].strip()) if fields else ""
        listed = csvsafe.restore_cell(fields[1] if len(fields) > 1 else "")
        slugs = [s.strip() for s in listed.split(";") if s.strip()]
        batch.append(Row(line, email, slugs))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _newsletter_map() -> dict[str, Newsletter]:
    return {n.slug: n for n in db.session.scalars(select(Newsletter).where(Newsletter.in_service))}


def _check_batch(rows: list[Row], newsletters: dict[str, Newsletter], seen: set[str]) -> None:
    """Fill in each row's error, or its address and newsletters; one query per check."""
    for row in rows:
        try:
            row.email = normalize_email(row.email)
        except InvalidEmail:
            row.error = "not a valid email address"
            continue
        unknown = [s for s in row.slugs if s not in newsletters]
        if not row.slugs:
            row.error = "no newsletter given"
        elif unknown:
            row.error = f"unknown newsletter: {', '.join(unknown)}"
        elif row.email in seen:
            row.error = "repeats an earlier row"
        row.newsletters = [newsletters[s] for s in row.slugs if s in newsletters]
        seen.add(row.email)
    live = [r for r in rows if not r.error]
    blocked = suppressions.suppressed_among(r.email for r in live)
    for row in live:
        if row.email in blocked:
            row.error = "the address is suppressed"
    _flag_departures([r for r in live if not r.error])


def _flag_departures(rows: list[Row]) -> None:
    """Report the rows that would put a reader back on a newsletter they left (``has_left``)."""
    if not rows:
        return
    left = db.session.execute(
        select(Subscriber.email, Newsletter.slug)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(Newsletter, Newsletter.id == Subscription.newsletter_id)
        .where(
            Subscriber.email.in_([r.email for r in rows]),
            HAS_LEFT,
        )
    ).all()
    departed: dict[str, set[str]] = {}
    for email, slug in left:
        departed.setdefault(email, set()).add(slug)
    for row in rows:
        gone = sorted(departed.get(row.email, set()) & set(row.slugs))
        if gone:
            row.error = f"unsubscribed earlier from: {', '.join(gone)}"


def _error_lines(rows: list[Row]) -> str:
    buffer = io.StringIO()
    # Kept as the file held it; the download neutralises it (``csvsafe.neutralised``).
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        if row.error:
            writer.writerow([row.line, row.email, row.error])
    return buffer.getvalue()


def check(job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Check every row, recording errors and progress after each batch."""
    job = db.session.get(ImportJob, job_id)
    newsletters, seen = _newsletter_map(), set()
    job.status, job.checked_rows, job.valid_rows, job.error_count = ImportStatus.CHECKING, 0, 0, 0
    job.errors_csv = "line,email,reason\r\n"
    db.session.commit()
    for rows in _rows(job):
        _check_batch(rows, newsletters, seen)
        job.checked_rows += len(rows)
        job.valid_rows += sum(1 for r in rows if not r.error)
        job.error_count += sum(1 for r in rows if r.error)
        job.errors_csv += _error_lines(rows)
        db.session.commit()
        if progress:
            progress(job)
    job.status = ImportStatus.CHECKED
    db.session.commit()
    return job


def apply(job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Apply the rows that pass the checks (checked again: things change), a batch per commit.

    The job must have been started with :func:`begin_apply`.
    """
    job = db.session.get(ImportJob, job_id)
    if job.status != ImportStatus.APPLYING:
        raise InvalidInput("This import was not started; start it with begin_apply.")
    newsletters, seen = _newsletter_map(), set()
    origin = Origin(source="import", ip=None, user_agent=f"import {job.uuid}")
    for rows in _rows(job):
        _check_batch(rows, newsletters, seen)
        _apply_batch([r for r in rows if not r.error], origin, job.consent_note)
        job.applied_rows += sum(1 for r in rows if not r.error)
        db.session.commit()
        if progress:
            progress(job)
    job.status, job.finished_at = ImportStatus.DONE, utcnow()
    db.session.commit()
    return job


@atomic
def _apply_batch(rows: list[Row], origin: Origin, consent_note: str | None) -> None:
    for row in rows:
        import_subscription(row.email, row.newsletters, origin, consent_note)


def run(job_id: int, phase: str) -> None:
    """Run one phase ('check' or 'apply'), marking the job failed if it breaks."""
    try:
        (check if phase == "check" else apply)(job_id)
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(ImportJob, job_id)
        job.status, job.failure = ImportStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        log.exception("import %s failed during %s", job_id, phase)


def run_in_background(job_id: int, phase: str) -> None:
    """On a Celery worker when there is one, else on a thread of this process."""
    app: Flask = current_app._get_current_object()
    if app.config["CELERY_BROKER_URL"]:
        app.extensions["celery"].send_task(RUN_TASK, args=[job_id, phase])
        return

    def work() -> None:
        with app.app_context():
            try:
                run(job_id, phase)
            finally:
                db.session.remove()

    threading.Thread(target=work, name=f"import-{job_id}-{phase}", daemon=True).start()


@atomic
def begin_apply(job: ImportJob) -> ImportJob:
    """Move a checked import to 'applying', once: a second click or a second admin gets an error."""
    result = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status == ImportStatus.CHECKED)
        .values(status=ImportStatus.APPLYING, applied_rows=0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidInput("This import is not waiting to be applied: it is running or done.")
    return job
