"""Importing readers: every bad row refused with its reason, the rest applied in batches."""

import io
import time

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Event, EventKind, ImportJob, Subscriber, SuppressionReason
from newsletters.services.mail import suppressions
from newsletters.services.readers import imports
from tests.support.admin import action_token
from tests.support.reader import add_demo_newsletters, sign_up, statuses, submit_form

BROKEN = (
    "email,newsletters\n"
    "good@example.com,the-weekly\n"
    "not-an-address,the-weekly\n"
    "two@example.com,the-weekly;ai-digest\n"
    "typo@example.com,the-weeky\n"
    "\n"
    "blocked@example.com,ai-digest\n"
    "GOOD@example.com,ai-digest\n"
    "nothing@example.com,\n"
    "left@example.com,climate-report\n"
)


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)
    with app.app_context():
        suppressions.suppress("blocked@example.com", SuppressionReason.BOUNCED)
        db.session.commit()
    # left@ unsubscribed from Climate Report before: an import must not put them back.
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    reader = app.test_client()
    sign_up(reader, "left@example.com", "climate-report")
    with app.app_context():
        from newsletters.services.mail.links import unsubscribe_url

        subscriber = db.session.scalar(select(Subscriber).filter_by(email="left@example.com"))
        path = unsubscribe_url(subscriber).removeprefix("http://newsletters.test")
    reader.post(path, data={"List-Unsubscribe": "One-Click"})


def _upload(client, content: str, **fields):
    return client.post(
        "/admin/imports/new",
        data={
            "csrf_token": action_token(client, "/admin/imports/new"),
            "file": (io.BytesIO(content.encode()), "readers.csv"),
            **fields,
        },
        content_type="multipart/form-data",
    )


def _wait(app, job_uuid: str, status: str) -> ImportJob:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the check runs on a background thread
        with app.app_context():
            job = imports.job_by_uuid(job_uuid)
            if job.status.value in (status, "failed"):
                db.session.expunge(job)
                return job
        time.sleep(0.05)
    raise AssertionError(f"the import did not reach {status}")


def test_a_broken_file_is_previewed_with_every_reason_and_only_good_rows_applied(
    app, owner, mailbox
):
    response = _upload(owner, BROKEN)
    assert response.status_code == 302
    key = response.location.rsplit("/", 1)[1]
    job = _wait(app, key, "checked")
    assert (job.total_rows, job.valid_rows, job.error_count) == (8, 2, 6)
    page = owner.get(f"/admin/imports/{key}").get_data(as_text=True)
    for reason in (
        "not a valid email address",
        "unknown newsletter: the-weeky",
        "the address is suppressed",
        "repeats an earlier row",
        "no newsletter given",
        "unsubscribed earlier from: climate-report",
    ):
        assert reason in page, reason
    errors = owner.get(f"/admin/imports/{key}/errors.csv")
    assert errors.headers["Content-Disposition"].startswith("attachment;")
    lines = errors.get_data(as_text=True).splitlines()
    assert (
        lines[0] == "line,email,reason" and lines[1] == "3,not-an-address,not a valid email address"
    )
    assert statuses(app, "good@example.com") == {}  # nothing happens before "apply"

    owner.post(f"/admin/imports/{key}/apply", data={"csrf_token": action_token(owner)})
    job = _wait(app, key, "done")
    assert job.applied_rows == 2
    assert statuses(app, "good@example.com") == {"the-weekly": "pending"}
    assert statuses(app, "two@example.com") == {"the-weekly": "pending", "ai-digest": "pending"}
    assert statuses(app, "left@example.com") == {"climate-report": "unsubscribed"}
    assert statuses(app, "blocked@example.com") == {}
    assert "Confirm your subscription" in mailbox.last(to="good@example.com")["Subject"]
    assert mailbox.messages(to="blocked@example.com") == []
    again = owner.post(f"/admin/imports/{key}/apply", data={"csrf_token": action_token(owner)})
    assert "not waiting to be applied" in owner.get(again.location).get_data(as_text=True)


def test_attested_consent_makes_readers_active_and_is_their_consent_record(app, owner, mailbox):
    note = "Signed up on paper at the Springfield book fair, 2026-10-03"
    response = _upload(
        owner,
        "email,newsletters\nfair@example.com,the-weekly;ai-digest\n",
        attest="y",
        consent_note=note,
    )
    key = response.location.rsplit("/", 1)[1]
    _wait(app, key, "checked")
    owner.post(f"/admin/imports/{key}/apply", data={"csrf_token": action_token(owner)})
    _wait(app, key, "done")
    assert statuses(app, "fair@example.com") == {"the-weekly": "active", "ai-digest": "active"}
    assert mailbox.messages(to="fair@example.com") == []
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.kind == EventKind.IMPORTED))
        assert event.detail == {"attested": True, "consent_note": note}
        assert event.source == "import" and event.consent_version == "attested"


def test_attesting_needs_a_note_and_files_need_the_header(app, owner):
    no_note = _upload(owner, "email,newsletters\na@example.com,the-weekly\n", attest="y")
    assert no_note.status_code == 400 and "where and when" in no_note.get_data(as_text=True)
    no_header = _upload(owner, "a@example.com,the-weekly\n")
    assert no_header.status_code == 400
    assert "header: email,newsletters" in no_header.get_data(as_text=True)
    not_text = owner.post(
        "/admin/imports/new",
        data={
            "csrf_token": action_token(owner, "/admin/imports/new"),
            "file": (io.BytesIO(b"\xff\xfe\x00bad"), "readers.csv"),
        },
        content_type="multipart/form-data",
    )
    assert not_text.status_code == 400 and "not UTF-8" in not_text.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ImportJob.id)) is None


def test_the_cli_imports_pending_or_confirmed(app, runner, tmp_path, mailbox):
    path = tmp_path / "readers.csv"
    path.write_text("email,newsletters\ncli@example.com,ai-digest\nbad,ai-digest\n")
    result = runner.invoke(args=["subscribers", "import", str(path)])
    assert result.exit_code == 1  # one row was refused
    assert "1 of 2 rows can be imported; 1 refused" in result.output
    assert "imported 1 rows (pending)" in result.output
    assert statuses(app, "cli@example.com") == {"ai-digest": "pending"}
    refused = runner.invoke(args=["subscribers", "import", str(path), "--confirmed"])
    assert refused.exit_code == 2 and "--consent-note" in refused.output
    path.write_text("email,newsletters\nfair@example.com,ai-digest\n")
    confirmed = runner.invoke(
        args=["subscribers", "import", str(path), "--confirmed", "--consent-note", "paper form"]
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert statuses(app, "fair@example.com") == {"ai-digest": "active"}


def test_an_erased_reader_is_not_imported_again(app, owner, mailbox):
    reader = app.test_client()
    sign_up(reader, "gone@example.com", "the-weekly")
    from tests.support.mail import link_in

    submit_form(reader, link_in(mailbox.last(to="gone@example.com"), "/confirm/"))
    with app.app_context():
        key = str(db.session.scalar(select(Subscriber.uuid).filter_by(email="gone@example.com")))
    owner.post(f"/admin/subscribers/{key}/erase", data={"csrf_token": action_token(owner)})
    response = _upload(
        owner,
        "email,newsletters\nGone@Example.com,the-weekly\n",
        attest="y",
        consent_note="old list",
    )
    job = _wait(app, response.location.rsplit("/", 1)[1], "checked")
    assert (job.valid_rows, job.error_count) == (0, 1)
    assert "the address is suppressed" in job.errors_csv
    assert statuses(app, "gone@example.com") == {}
