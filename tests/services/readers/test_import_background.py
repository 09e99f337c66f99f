"""Large imports: in the background (a Celery worker, or a thread), and resumed after a kill."""

import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import Event, ImportJob, ImportStatus, Subscriber, Subscription
from tests.conftest import ROOT
from tests.support.admin import action_token
from tests.support.imports import write_mailchimp_export
from tests.support.readers import add_newsletter, add_readers
from tests.support.stack import celery_worker_on_own_queue
from tests.support.stack import environment as cli_env


@pytest.fixture
def weekly(app):
    return add_newsletter(app, "the-weekly", "The Weekly")


def _flask(settings, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=cli_env(settings),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _job(app) -> ImportJob | None:
    with app.app_context():
        job = db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()).limit(1))
        if job is not None:
            db.session.expunge(job)
        return job


def _wait_until(condition, seconds=120.0, what="the condition"):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return found


def _kill_while_applying(app, settings, command: tuple[str, ...], after: int) -> None:
    """Run the import and kill it with SIGKILL once it has applied ``after`` rows."""
    run = _flask(settings, *command)
    _wait_until(
        lambda: (job := _job(app)) and job.status == ImportStatus.APPLYING
        and job.applied_through >= after,
        what="the import to be applying",
    )  # fmt: skip
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    run.stdout.close()


def _counts(app) -> tuple[Counter, int, int]:
    with app.app_context():
        emails = Counter(db.session.scalars(select(Subscriber.email)))
        subscriptions = db.session.scalar(select(func.count(Subscription.id)))
        events = db.session.scalar(select(func.count(Event.id)))
    return emails, subscriptions, events


def test_an_import_killed_mid_way_resumes_and_gives_each_address_once(
    app, settings, weekly, tmp_path
):
    total = 12_000
    settings["IMPORT_BATCH_SIZE"] = 100  # many small checkpoints: room to be caught mid-way
    path = write_mailchimp_export(tmp_path / "audience.csv", total)
    command = ("subscribers", "import", str(path), "--newsletters", "the-weekly")
    _kill_while_applying(app, settings, command, after=1000)
    killed = _job(app)
    assert killed.status == ImportStatus.APPLYING
    assert killed.applied_through < total, "the kill came too late to prove anything"
    emails, subscriptions, _ = _counts(app)
    # What was committed is whole batches, with their checkpoint.
    assert len(emails) == subscriptions == killed.applied_through

    second = _flask(settings, *command)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    assert "resuming the import of audience.csv" in output
    assert f"applied {total}/{total} rows" in output
    assert f"imported {total} rows (active)" in output  # the job's total, both runs
    emails, subscriptions, events = _counts(app)
    assert len(emails) == total and set(emails.values()) == {1}
    assert subscriptions == total and events == total
    finished = _job(app)
    assert finished.status == ImportStatus.DONE and finished.applied_through == total
    with app.app_context():
        assert db.session.scalar(select(func.count(ImportJob.id))) == 1  # one job, resumed


def test_an_import_resumed_twice_at_once_records_each_readers_consent_once(
    app, settings, database_url, weekly, tmp_path
):
    if database_url.startswith("sqlite"):
        pytest.skip("two processes writing at once: PostgreSQL's row locks are what is tested")
    total = 8_000
    # Readers we have already (on another newsletter): the runs do not queue up behind
    # each other's new readers, so both read who is on The Weekly before either commits.
    add_readers(app, add_newsletter(app, "ai-digest", "AI Digest"), total, prefix="reader")
    settings["IMPORT_BATCH_SIZE"] = 1_000
    path = write_mailchimp_export(tmp_path / "audience.csv", total)
    command = ("subscribers", "import", str(path), "--newsletters", "the-weekly")
    _kill_while_applying(app, settings, command, after=1_000)
    assert _job(app).applied_through < total, "the kill came too late to prove anything"

    # The same import resumed from two terminals: both carry on from the one checkpoint.
    resumed = [_flask(settings, *command), _flask(settings, *command)]
    outputs = [run.communicate(timeout=300)[0] for run in resumed]
    for run, output in zip(resumed, outputs, strict=True):
        assert run.returncode == 0, output
        assert "resuming the import of audience.csv" in output
    emails, subscriptions, events = _counts(app)
    assert len(emails) == total and set(emails.values()) == {1}
    assert subscriptions == 2 * total  # The Weekly's, beside AI Digest's
    with app.app_context():
        per_reader = Counter(db.session.scalars(select(Event.subscriber_id)))
    assert len(per_reader) == total and set(per_reader.values()) == {1}  # one consent entry each
    assert events == total
    assert _job(app).status == ImportStatus.DONE


def _import_in_the_console(app, owner, path) -> ImportJob:
    from newsletters.services.readers.imports import job_by_uuid

    with open(path, "rb") as upload:
        response = owner.post(
            "/admin/imports/new",
            data={
                "csrf_token": action_token(owner, "/admin/imports/new"),
                "file": (upload, "audience.csv"),
                "newsletters": ["the-weekly"],
            },
            content_type="multipart/form-data",
        )
    assert response.status_code == 302, response.get_data(as_text=True)
    key = response.location.rsplit("/", 1)[1]

    def reached(status):
        with app.app_context():
            job = job_by_uuid(key)
            db.session.expunge(job)
        assert job.status != ImportStatus.FAILED, job.failure
        return job if job.status == status else None

    checked = _wait_until(lambda: reached(ImportStatus.CHECKED), what="the check")
    assert checked.checked_rows == checked.total_rows == checked.valid_rows
    page = owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    assert "Mailchimp audience export" in page and "Ready to import" in page
    owner.post(f"/admin/imports/{key}/apply", data={"csrf_token": action_token(owner)})
    done = _wait_until(lambda: reached(ImportStatus.DONE), what="the import")
    page = owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    assert f"{done.applied_rows} rows imported" in page
    return done


def test_a_celery_worker_checks_and_applies_a_console_import(
    app, settings, weekly, owner, redis_url, tmp_path
):
    path = write_mailchimp_export(tmp_path / "audience.csv", 3000)
    worker = celery_worker_on_own_queue(app, settings, redis_url)
    try:
        done = _import_in_the_console(app, owner, path)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker_output = worker.communicate(timeout=30)[0]
    assert (done.applied_rows, done.applied_through) == (3000, 3000), worker_output
    emails, subscriptions, events = _counts(app)
    assert len(emails) == subscriptions == events == 3000


def test_without_a_broker_a_thread_runs_the_console_import(app, weekly, owner, tmp_path):
    app.config["IMPORT_BATCH_SIZE"] = 250
    path = write_mailchimp_export(tmp_path / "audience.csv", 2000)
    done = _import_in_the_console(app, owner, path)
    assert (done.applied_rows, done.applied_through) == (2000, 2000)
    emails, subscriptions, events = _counts(app)
    assert len(emails) == subscriptions == events == 2000
