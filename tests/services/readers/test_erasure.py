"""An erasure ends only when the reader confirms by email: nobody else can undo it."""

import io
import time

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import (
    ImportJob,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    Suppression,
    SuppressionReason,
)
from newsletters.services.mail import suppressions
from newsletters.services.readers import audience, imports
from tests.support.admin import action_token
from tests.support.mail import link_in
from tests.support.reader import add_demo_newsletters, sign_up, statuses, submit_form

READER = "gone@example.com"


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0  # every step here may mail the address


@pytest.fixture
def erased(app, mailbox) -> str:
    """A reader who confirmed The Weekly and then asked to be erased."""
    reader = app.test_client()
    sign_up(reader, READER, "the-weekly")
    submit_form(reader, link_in(mailbox.last(to=READER), "/confirm/"))
    with app.app_context():
        audience.erase(str(db.session.scalar(select(Subscriber.uuid))))
    assert statuses(app, READER) == {}
    return READER


def _suppression(app) -> SuppressionReason | None:
    with app.app_context():
        return db.session.scalar(
            select(Suppression.reason).where(
                Suppression.email_hash == suppressions.address_hash(READER)
            )
        )


def _stranger_signs_up(app, mailbox) -> str:
    """Someone else types the erased address into the form; the confirm link that went out."""
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    assert sign_up(stranger, "Gone@Example.com", "the-weekly", "ai-digest").status_code == 200
    return link_in(mailbox.last(to=READER), "/confirm/")


def _import_file(tmp_path) -> str:
    path = tmp_path / "old-list.csv"
    path.write_text("email,newsletters\nＧｏｎｅ@example.com,the-weekly;ai-digest\n")
    return str(path)


def test_a_strangers_signup_leaves_the_erasure_and_only_the_confirm_link_ends_it(
    app, erased, mailbox, runner, tmp_path
):
    confirm_link = _stranger_signs_up(app, mailbox)
    # The confirmation goes out (the reader must be able to come back), nothing else changes.
    assert _suppression(app) == SuppressionReason.ERASED
    assert statuses(app, READER) == {"the-weekly": "pending", "ai-digest": "pending"}

    result = runner.invoke(
        args=[
            "subscribers",
            "import",
            _import_file(tmp_path),
            "--confirmed",
            "--consent-note",
            "an old list",
        ]
    )
    assert result.exit_code == 1 and "the address is suppressed" in result.output
    assert "0 of 1 rows" in result.output
    assert _suppression(app) == SuppressionReason.ERASED
    assert statuses(app, READER) == {"the-weekly": "pending", "ai-digest": "pending"}

    reader = app.test_client()
    assert submit_form(reader, confirm_link).status_code == 200
    assert _suppression(app) is None
    assert statuses(app, READER) == {"the-weekly": "active", "ai-digest": "active"}
    assert mailbox.last(to=READER)["Subject"].startswith("Welcome to")


def test_a_plain_import_refuses_the_row_too(app, erased, mailbox, runner, tmp_path):
    _stranger_signs_up(app, mailbox)
    result = runner.invoke(args=["subscribers", "import", _import_file(tmp_path)])
    assert result.exit_code == 1 and "the address is suppressed" in result.output
    assert _suppression(app) == SuppressionReason.ERASED


def _wait_for(app, job_uuid: str, status: str) -> ImportJob:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the console checks an import on a thread
        with app.app_context():
            job = imports.job_by_uuid(job_uuid)
            if job.status.value in (status, "failed"):
                db.session.expunge(job)
                return job
        time.sleep(0.05)
    raise AssertionError(f"the import did not reach {status}")


def test_an_attested_import_in_the_console_cannot_lift_it(app, erased, mailbox, owner):
    _stranger_signs_up(app, mailbox)
    response = owner.post(
        "/admin/imports/new",
        data={
            "csrf_token": action_token(owner, "/admin/imports/new"),
            "file": (io.BytesIO(b"email,newsletters\ngone@example.com,the-weekly\n"), "a.csv"),
            "attest": "y",
            "consent_note": "they ticked a box at our stand",
        },
        content_type="multipart/form-data",
    )
    job = _wait_for(app, response.location.rsplit("/", 1)[1], "checked")
    assert (job.valid_rows, job.error_count) == (0, 1)
    assert "the address is suppressed" in job.errors_csv
    assert _suppression(app) == SuppressionReason.ERASED
    assert "active" not in statuses(app, READER).values()


def test_the_api_and_the_console_cannot_lift_it(app, erased, mailbox, owner):
    api = app.test_client()
    body = {"email": "GONE@example.com", "newsletters": ["climate-report"]}
    assert api.post("/api/v1/subscriptions", json=body).status_code == 202
    assert _suppression(app) == SuppressionReason.ERASED

    with app.app_context():
        key = str(db.session.scalar(select(Subscriber.uuid).where(Subscriber.email == READER)))
        suppression_id = db.session.scalar(select(Suppression.id))
    resent = owner.post(
        f"/admin/subscribers/{key}/resend-confirmation", data={"csrf_token": action_token(owner)}
    )
    assert resent.status_code in (200, 302)
    removed = owner.post(
        f"/admin/suppressions/{suppression_id}/remove", data={"csrf_token": action_token(owner)}
    )
    assert removed.status_code == 400
    assert "stays suppressed" in removed.get_data(as_text=True)
    assert _suppression(app) == SuppressionReason.ERASED
    assert statuses(app, READER) == {"climate-report": "pending"}


def test_only_the_confirmation_reaches_an_erased_address(app, erased, mailbox):
    _stranger_signs_up(app, mailbox)
    before = len(mailbox.messages(to=READER))
    assert submit_form(app.test_client(), "/preferences", {"email": READER}).status_code == 200
    assert len(mailbox.messages(to=READER)) == before
    with app.app_context():
        link = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.PREFERENCES_LINK)
        )
        assert link.status == OutboxStatus.SUPPRESSED


@pytest.mark.parametrize("kind", list(OutboxKind))
@pytest.mark.parametrize("reason", list(SuppressionReason))
def test_the_rule_of_what_a_suppression_blocks(reason, kind):
    exempt = reason == SuppressionReason.ERASED and kind == OutboxKind.CONFIRMATION
    assert suppressions.blocks(reason, kind) is not exempt


def test_a_bounced_address_gets_no_confirmation(app, mailbox):
    with app.app_context():
        suppressions.suppress("bounced@example.com", SuppressionReason.BOUNCED)
        db.session.commit()
    sign_up(app.test_client(), "bounced@example.com", "the-weekly")
    assert mailbox.messages(to="bounced@example.com") == []
