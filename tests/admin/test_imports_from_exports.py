"""The console's import of another system's export: preview, mapping, and the size limit."""

import io
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import AuditLog, ImportJob
from newsletters.services.readers import imports
from tests.support.admin import action_token
from tests.support.reader import statuses
from tests.support.readers import add_newsletter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


@pytest.fixture(autouse=True)
def lists(app):
    add_newsletter(app, "the-weekly", "The Weekly")
    add_newsletter(app, "ai-digest", "AI Digest")


def _upload(client, content: bytes, name="audience.csv", **fields):
    return client.post(
        "/admin/imports/new",
        data={
            "csrf_token": action_token(client, "/admin/imports/new"),
            "file": (io.BytesIO(content), name),
            **fields,
        },
        content_type="multipart/form-data",
    )


def _wait(app, key: str, status: str) -> ImportJob:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the check runs on a background thread
        with app.app_context():
            job = imports.job_by_uuid(key)
            if job.status.value in (status, "failed"):
                db.session.expunge(job)
                assert job.status.value == status, job.failure
                return job
        time.sleep(0.05)
    raise AssertionError(f"the import did not reach {status}")


def test_the_preview_shows_the_format_the_columns_and_the_refused_rows(app, owner):
    response = _upload(owner, (FIXTURES / "mailchimp_subscribed.csv").read_bytes())
    assert response.status_code == 302
    key = response.location.rsplit("/", 1)[1]
    job = _wait(app, key, "checked")
    assert (job.total_rows, job.valid_rows, job.error_count) == (5, 0, 5)
    page = owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    assert "Mailchimp audience export" in page
    assert "OPTIN_TIME, OPTIN_IP" in page and "CONFIRM_TIME, CONFIRM_IP" in page
    assert "not a valid email address" in page
    assert "no newsletter chosen for it" in page  # nothing chosen or mapped yet
    for tag in ("weekly", "ai"):
        assert f'name="tag-{["ai", "weekly"].index(tag)}" value="{tag}"' in page
    assert statuses(app, "ada@example.com") == {}  # nothing happens before "apply"


def test_the_mapping_is_adjusted_in_the_console_before_applying(app, owner, mailbox):
    response = _upload(owner, (FIXTURES / "mailchimp_subscribed.csv").read_bytes())
    key = response.location.rsplit("/", 1)[1]
    _wait(app, key, "checked")
    changed = owner.post(
        f"/admin/imports/{key}/mapping",
        data={
            "csrf_token": action_token(owner),
            "format": "auto",
            "newsletters": ["ai-digest"],
            "tag-0": "ai", "map-0": "",
            "tag-1": "weekly", "map-1": "the-weekly",
        },
    )  # fmt: skip
    assert changed.status_code == 303
    job = _wait(app, key, "checked")
    assert (job.valid_rows, job.error_count) == (3, 2)
    assert job.mapping == {"newsletters": ["ai-digest"], "tags": {"weekly": "the-weekly"}}
    assert "repeats an earlier row" in owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    owner.post(f"/admin/imports/{key}/apply", data={"csrf_token": action_token(owner)})
    _wait(app, key, "done")
    assert statuses(app, "ada@example.com") == {"the-weekly": "active"}
    assert statuses(app, "alan@example.com") == {"ai-digest": "active"}
    assert mailbox.messages(to="ada@example.com") == []  # the export's consent stands
    with app.app_context():
        actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id))
        assert [a for a in actions if a.startswith("import.")] == [
            "import.start", "import.mapping", "import.apply",
        ]  # fmt: skip


def test_a_wrong_mapping_or_format_is_refused_and_changes_nothing(app, owner):
    response = _upload(owner, (FIXTURES / "ghost_members.csv").read_bytes())
    key = response.location.rsplit("/", 1)[1]
    before = _wait(app, key, "checked")
    for data in (
        {"format": "mailchimp"},
        {"format": "auto", "newsletters": ["no-such-list"]},
        {"format": "auto", "tag-0": "vip", "map-0": "the-weeky"},
        {"format": "smoke-signals"},
    ):
        refused = owner.post(
            f"/admin/imports/{key}/mapping", data={"csrf_token": action_token(owner), **data}
        )
        assert refused.status_code == 303
        page = owner.get(refused.location).get_data(as_text=True)
        assert "notice" in page
        with app.app_context():
            job = imports.job_by_uuid(key)
            assert (job.status.value, job.format, job.mapping) == (
                "checked", "ghost", before.mapping,
            )  # fmt: skip


def test_an_upload_over_the_limit_gets_413_and_nothing_is_kept(app, owner, settings):
    app.config["IMPORT_MAX_BYTES"] = 2000
    content = (FIXTURES / "mailchimp_subscribed.csv").read_bytes() * 4
    assert len(content) > 2000
    response = _upload(owner, content)
    assert response.status_code == 413
    assert "Too much data" in response.get_data(as_text=True)
    far_too_big = _upload(owner, b"email,newsletters\n" + b"x@example.com,the-weekly\n" * 5000)
    assert far_too_big.status_code == 413
    with app.app_context():
        assert db.session.scalar(select(ImportJob.id)) is None
    assert list(Path(settings["IMPORT_DIR"]).glob("*")) == []
    # A file under the limit still goes through.
    app.config["IMPORT_MAX_BYTES"] = 200 * 1024 * 1024
    accepted = _upload(owner, content)
    assert accepted.status_code == 302
    _wait(app, accepted.location.rsplit("/", 1)[1], "checked")


def test_a_file_the_console_cannot_read_is_refused_with_a_reason(app, owner, settings):
    unknown = _upload(owner, b"address,lists\na@example.com,x\n")
    assert unknown.status_code == 400
    assert "Mailchimp, listmonk, Ghost or Substack" in unknown.get_data(as_text=True)
    forced = _upload(owner, b"email,newsletters\na@example.com,the-weekly\n", format="ghost")
    assert forced.status_code == 400 and "subscribed_to_emails" in forced.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ImportJob.id)) is None
    assert list(Path(settings["IMPORT_DIR"]).glob("*")) == []


class Stop(Exception):
    """Stands in for a worker killed between two batches."""


def test_a_stalled_import_is_resumed_from_its_checkpoint_in_the_console(app, owner, tmp_path):
    from datetime import timedelta

    from sqlalchemy import func, update

    from newsletters.models import Event, Subscriber, utcnow
    from tests.support.imports import write_mailchimp_export

    app.config["IMPORT_BATCH_SIZE"] = 100
    path = write_mailchimp_export(tmp_path / "audience.csv", 450)
    with app.app_context():
        job = imports.start_import("audience.csv", path=path, newsletters=["the-weekly"])
        imports.check(job.id)
        imports.begin_apply(job)

        def die_after_two_batches(job):
            if job.applied_through >= 200:
                raise Stop

        with pytest.raises(Stop):
            imports.apply(job.id, progress=die_after_two_batches)
        db.session.rollback()
        key = str(job.uuid)
    page = owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    assert "200 of 450 rows done" in page and "Resume the import" not in page
    refused = owner.post(f"/admin/imports/{key}/resume", data={"csrf_token": action_token(owner)})
    assert "not stalled" in owner.get(refused.location).get_data(as_text=True)

    with app.app_context():  # ten minutes without progress
        db.session.execute(update(ImportJob).values(updated_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
    page = owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    assert "No progress for 5 minutes" in page and "Resume the import" in page
    owner.post(f"/admin/imports/{key}/resume", data={"csrf_token": action_token(owner)})
    job = _wait(app, key, "done")
    assert (job.applied_through, job.applied_rows) == (450, 450)
    with app.app_context():
        emails = list(db.session.scalars(select(Subscriber.email)))
        assert len(emails) == len(set(emails)) == 450
        assert db.session.scalar(select(func.count(Event.id))) == 450


def test_a_header_that_is_not_csv_is_refused_with_the_reason(app, owner, settings):
    response = _upload(owner, b'"' + b"x" * 200_000 + b'",email\n')
    assert response.status_code == 400
    assert "Line 1 of the file cannot be read as CSV" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ImportJob.id)) is None
    assert list(Path(settings["IMPORT_DIR"]).glob("*")) == []


def test_the_preview_refuses_a_row_with_a_broken_quote_and_reads_on(app, owner):
    export = (
        b"Email Address,TAGS\n"
        b'ada@example.com,"Weekly"\n'
        b'broken@example.com,"Weekly\n'  # the quote is never closed
        b'alan@example.com,"AI"\n'
    )
    response = _upload(owner, export, newsletters=["ai-digest"])
    key = response.location.rsplit("/", 1)[1]
    job = _wait(app, key, "checked")
    assert (job.total_rows, job.valid_rows, job.error_count) == (3, 2, 1)
    page = owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    assert "a quoted cell is never closed (a missing closing quote)" in page
    owner.post(f"/admin/imports/{key}/apply", data={"csrf_token": action_token(owner)})
    _wait(app, key, "done")
    assert statuses(app, "ada@example.com") == statuses(app, "alan@example.com")
    assert statuses(app, "alan@example.com") == {"ai-digest": "active"}
    assert statuses(app, "broken@example.com") == {}
