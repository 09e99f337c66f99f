"""Importing readers from a CSV: check every row first, show the preview, then apply.

The file is ours (``email,newsletters``) or another system's export as it was
written (``import_formats``). Both steps stream the file from disk in batches
and record their progress, so a list of a million readers takes constant
memory and never holds a request open: the console runs them in the background
(``import_runs``: Celery, or a thread) and shows the progress; ``flask subscribers import`` runs
them in the terminal. Each applied batch commits with the checkpoint
(``applied_through``), so an import that was killed resumes where it stopped.

Rows are refused, with the reason, for a bad address, an unknown newsletter, a
suppressed address, a repeat of an earlier row, or a newsletter the reader left.
"""

import csv
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import ImportJob, ImportStatus, Newsletter, utcnow
from newsletters.services.core import sql
from newsletters.services.core.transactions import atomic
from newsletters.services.readers import import_apply
from newsletters.services.readers import import_files as files
from newsletters.services.readers.history import Origin
from newsletters.services.readers.import_checks import Row, check_batch
from newsletters.services.readers.import_formats import FORMATS, NEWSLETTERS, Member, State
from newsletters.services.readers.import_formats import detect as detect_format
from newsletters.services.readers.import_formats import reader as row_reader
from newsletters.services.readers.signup import import_subscription

log = logging.getLogger(__name__)

PREVIEW_ERRORS = 100  # refused rows kept on the job for the page; the report file has them all
MAX_TAGS = 50
ATTESTATION_NEEDS_NOTE = "Say where and when these readers consented."
UNFINISHED = (ImportStatus.CHECKING, ImportStatus.CHECKED, ImportStatus.APPLYING)


@atomic
def start_import(
    filename: str,
    content: bytes | None = None,
    *,
    path: Path | str | None = None,
    admin_id: int | None = None,
    attested: bool = False,
    consent_note: str | None = None,
    format: str = "auto",
    newsletters: list[str] | None = None,
    tags: dict[str, str] | None = None,
    fingerprint: str | None = None,
) -> ImportJob:
    """Record a file (``content``, or one already on disk at ``path``) as an import to check.

    ``attested`` means the importer vouches that the readers of our own format
    consented elsewhere; that needs a note saying where and when, kept as their
    consent record. Without it they get a confirmation email. Another system's
    export carries its own consent record; ``newsletters`` and ``tags`` (tag ->
    newsletter slug) say where its members go.
    """
    note = (consent_note or "").strip() or None
    if attested and note is None:
        raise InvalidInput(ATTESTATION_NEEDS_NOTE, field="consent_note")
    owned = path is None
    if owned:
        path = _store_bytes(content or b"")
    job = ImportJob(
        filename=(filename or "import.csv")[:255],
        path=str(path),
        fingerprint=fingerprint,
        admin_id=admin_id,
        attested=attested,
        consent_note=note if attested else None,
        errors_csv="line,email,reason\r\n",
    )
    try:
        job.format = detect_format(files.read_header(job), format).name
        job.mapping = _checked_mapping(newsletters or [], tags or {})
    except InvalidInput:
        if owned:
            Path(path).unlink(missing_ok=True)
        raise
    db.session.add(job)
    return job


def _store_bytes(content: bytes) -> Path:
    return files.save_upload(io.BytesIO(content), max(len(content), 1))


def _checked_mapping(newsletters: list[str], tags: dict[str, str]) -> dict:
    """The mapping as stored, once every newsletter it names exists and takes readers."""
    known = _newsletter_map()
    named = [*newsletters, *tags.values()]
    unknown = sorted({slug for slug in named if slug not in known})
    if unknown:
        raise InvalidInput(f"Unknown newsletter: {', '.join(unknown)}.", field="newsletters")
    return {
        "newsletters": list(dict.fromkeys(newsletters)),
        "tags": {tag.strip().lower(): slug for tag, slug in tags.items() if tag.strip()},
    }


@atomic
def change_mapping(
    job: ImportJob, format: str, newsletters: list[str], tags: dict[str, str]
) -> ImportJob:
    """Change a checked import's format and mapping; it must then be checked again."""
    mapping = _checked_mapping(newsletters, tags)
    chosen = detect_format(files.read_header(job), format).name
    result = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status.in_([ImportStatus.CHECKED]))
        .values(status=ImportStatus.CHECKING, format=chosen, mapping=mapping, checked_rows=0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidInput("This import can no longer be changed: it is running or done.")
    return job


def job_by_uuid(public_id: str) -> ImportJob:
    """An import by its public id, or :class:`NotFound`."""
    return sql.by_public_id(ImportJob, public_id, "There is no such import.")


def unfinished_import(fingerprint: str) -> ImportJob | None:
    """The latest import of this very file that has not finished, if any (to resume it)."""
    return db.session.scalar(
        select(ImportJob)
        .where(ImportJob.fingerprint == fingerprint, ImportJob.status.in_(UNFINISHED))
        .order_by(ImportJob.id.desc())
        .limit(1)
    )


def _batches(job: ImportJob, skip: int = 0) -> Iterator[list[Row]]:
    """The file's rows after the first ``skip``, a batch at a time."""
    read = row_reader(FORMATS[job.format], files.read_header(job))
    size = max(1, int(current_app.config["IMPORT_BATCH_SIZE"]))
    batch: list[Row] = []
    for line, fields in files.lines(job, skip):
        if isinstance(fields, files.Unreadable):  # refused as it is, the next rows go on
            row = Row(line, Member("", State.SKIPPED, reason=fields.reason), error=fields.reason)
        else:
            row = Row(line, read(fields))
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def newsletters_taking_readers() -> list[Newsletter]:
    """The newsletters an import may put readers on, by name."""
    return list(
        db.session.scalars(
            select(Newsletter).where(Newsletter.in_service).order_by(Newsletter.name)
        )
    )


def _newsletter_map() -> dict[str, Newsletter]:
    return {n.slug: n for n in newsletters_taking_readers()}


def _record_refusals(job: ImportJob, rows: list[Row]) -> None:
    refused = [(r.line, r.email, r.error) for r in rows if r.error]
    if not refused:
        return
    files.append_errors(job, refused)
    room = PREVIEW_ERRORS - job.error_count
    if room > 0:
        buffer = io.StringIO()
        # Kept as the file held it; the download neutralises it (``csvsafe.neutralised``).
        csv.writer(buffer, lineterminator="\r\n").writerows(refused[:room])
        job.errors_csv = (job.errors_csv or "line,email,reason\r\n") + buffer.getvalue()
    job.error_count += len(refused)


def check(job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Check every row, recording errors and progress after each batch."""
    job = db.session.get(ImportJob, job_id)
    job.status, job.checked_rows, job.valid_rows, job.error_count = ImportStatus.CHECKING, 0, 0, 0
    job.suppressed_rows, job.errors_csv = 0, "line,email,reason\r\n"
    job.total_rows = files.count_rows(job)
    db.session.commit()
    files.start_errors(job)
    newsletters, seen, tags = _newsletter_map(), files.SeenAddresses(job), set()
    batches = _batches(job)
    try:
        seen.clear()
        for rows in batches:
            check_batch(job, rows, newsletters, seen)
            _note_tags(tags, rows)
            job.checked_rows += len(rows)
            ok = [r for r in rows if not r.error]
            job.valid_rows += sum(1 for r in ok if r.member.state == State.SUBSCRIBED)
            job.suppressed_rows += sum(1 for r in ok if r.member.state != State.SUBSCRIBED)
            _record_refusals(job, rows)
            db.session.commit()
            if progress:
                progress(job)
    finally:
        batches.close()  # the file too, whatever stopped the loop
        seen.close()
    job.status, job.tags_found = ImportStatus.CHECKED, sorted(tags)
    db.session.commit()
    return job


def _note_tags(tags: set[str], rows: list[Row]) -> None:
    """Remember the tags the file uses (a few dozen at most: a page of choices, not a list)."""
    for row in rows:
        for tag in row.member.tags:
            if len(tags) >= MAX_TAGS:
                return
            tags.add(tag.strip().lower())


def apply(job_id: int, progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Apply the rows that pass the checks (checked again: things change), a batch per commit.

    The job must have been started with :func:`begin_apply`. Each batch commits
    with the checkpoint, so after an interruption this carries on from it.
    """
    job = db.session.get(ImportJob, job_id)
    if job.status != ImportStatus.APPLYING:
        raise InvalidInput("This import was not started; start it with begin_apply.")
    newsletters, seen = _newsletter_map(), files.SeenAddresses(job)
    batches = _batches(job, skip=job.applied_through)
    try:
        for rows in batches:
            check_batch(job, rows, newsletters, seen)
            if not _apply_batch(job, rows, job.applied_through + len(rows)):
                # Another run of this import applied the batch first (two resumes at
                # once): it carries on, and this one stops without writing a thing.
                db.session.refresh(job)
                log.info("import %s: another run is applying it; this one stops", job.uuid)
                return job
            if progress:
                progress(job)
    finally:
        batches.close()  # the file too, whatever stopped the loop
        seen.close()
    job.status, job.finished_at = ImportStatus.DONE, utcnow()
    db.session.commit()
    files.remove_working_files(job)
    return job


@atomic
def _apply_batch(job: ImportJob, rows: list[Row], through: int) -> bool:
    """One batch and its checkpoint, in one transaction: all of it happens, or none.

    The checkpoint moves first, and only from where this run read it: a second run
    of the same import that read the same checkpoint waits on the job's row until
    the first commits, then finds it moved and applies nothing (False). So no row,
    and no consent record, is applied twice, whichever format the file is in.
    """
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.applied_through == through - len(rows))
        .values(applied_through=through)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    ok = [r for r in rows if not r.error]
    if job.format == NEWSLETTERS:
        origin = Origin(source="import", ip=None, user_agent=f"import {job.uuid}")
        for row in ok:
            import_subscription(row.email, row.newsletters, origin, job.consent_note)
        applied = len(ok)
    else:
        joining = [r for r in ok if r.member.state == State.SUBSCRIBED]
        import_apply.subscribe_members(joining, job.format, f"import {job.uuid}", utcnow())
        import_apply.suppress_departed(ok, job.format)
        applied = len(joining)
    job.applied_rows = (job.applied_rows or 0) + applied
    job.applied_through = through
    return True


@atomic
def begin_apply(job: ImportJob) -> ImportJob:
    """Move a checked import to 'applying', once: a second click or a second admin gets an error."""
    result = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status == ImportStatus.CHECKED)
        .values(status=ImportStatus.APPLYING, applied_rows=0, applied_through=0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidInput("This import is not waiting to be applied: it is running or done.")
    return job
