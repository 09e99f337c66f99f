"""Running an import in the background, and running it again when its runner stopped.

The console hands each phase (check, apply) to a Celery worker when there is a
broker, else to a thread of the web process. A worker killed mid-way leaves
the import "running" with no progress; after ``IMPORT_STALL_SECONDS`` the
console offers to resume it, and applying goes on from its checkpoint.
"""

import logging
import threading
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import or_, update

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import ImportJob, ImportStatus, utcnow
from newsletters.services.core.transactions import atomic
from newsletters.services.readers.imports import apply, check

log = logging.getLogger(__name__)

RUN_TASK = "newsletters.run_import"


def run(job_id: int, phase: str) -> None:
    """Run one phase ('check' or 'apply'), marking the job failed if it breaks."""
    try:
        (check if phase == "check" else apply)(job_id)
    except Exception as exc:
        fail(job_id, exc)
        log.exception("import %s failed during %s", job_id, phase)


def fail(job_id: int, exc: Exception) -> None:
    """Mark an import stopped, saying why (a refusal in its own words, anything else by name)."""
    db.session.rollback()
    job = db.session.get(ImportJob, job_id)
    said = exc.message if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
    job.status, job.failure = ImportStatus.FAILED, said[:2000]
    db.session.commit()


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


def stalled(job: ImportJob) -> bool:
    """True when the import is running but has made no progress for ``IMPORT_STALL_SECONDS``."""
    if job.status not in (ImportStatus.CHECKING, ImportStatus.APPLYING):
        return False
    cutoff = utcnow() - timedelta(seconds=current_app.config["IMPORT_STALL_SECONDS"])
    return job.updated_at is None or job.updated_at < cutoff


@atomic
def resume_stalled(job: ImportJob) -> str:
    """Claim a stalled import to run it again: checking starts over, applying goes on from
    its checkpoint. Returns the phase to run; only one of two admins gets it."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["IMPORT_STALL_SECONDS"])
    phase = "check" if job.status == ImportStatus.CHECKING else "apply"
    result = db.session.execute(
        update(ImportJob)
        .where(
            ImportJob.id == job.id,
            ImportJob.status.in_([ImportStatus.CHECKING, ImportStatus.APPLYING]),
            or_(ImportJob.updated_at.is_(None), ImportJob.updated_at < cutoff),
        )
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidInput("This import is not stalled: it is making progress, or it is over.")
    return phase
