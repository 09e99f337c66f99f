"""The rules of importing readers, held by the service whoever calls it."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import Event, ImportJob, Subscription, SubscriptionStatus
from newsletters.services.catalogue import newsletter_by_slug
from newsletters.services.readers import imports, preferences, signup
from newsletters.services.readers.history import Origin
from newsletters.services.readers.import_files import SeenAddresses
from newsletters.services.readers.standing import subscriber_by_email
from tests.support.readers import add_newsletter

ORIGIN = Origin(source="import", ip=None, user_agent=None)
LEFT = "left@example.com"


@pytest.fixture
def left_the_weekly(app):
    """A reader who had The Weekly and AI Digest, and then left The Weekly."""
    add_newsletter(app, "the-weekly", "The Weekly")
    add_newsletter(app, "ai-digest", "AI Digest")
    with app.app_context():
        weekly, ai = newsletter_by_slug("the-weekly"), newsletter_by_slug("ai-digest")
        signup.import_subscription(LEFT, [weekly, ai], ORIGIN, consent_note="signed up at a fair")
        db.session.commit()
        reader = subscriber_by_email(LEFT)
        preferences.leave(reader, weekly, ORIGIN)
        db.session.commit()


def _states(email: str) -> dict[str, SubscriptionStatus]:
    reader = subscriber_by_email(email)
    return {s.newsletter.slug: s.status for s in reader.subscriptions}


@pytest.mark.parametrize("note", ["re-confirmed by phone", None])
def test_an_import_never_puts_back_a_reader_who_left(app, left_the_weekly, note):
    """Called directly, with or without attested consent: the service holds the rule."""
    with app.app_context():
        weekly = newsletter_by_slug("the-weekly")
        changed = signup.import_subscription(LEFT, [weekly], ORIGIN, consent_note=note)
        db.session.commit()
        assert not changed
        assert _states(LEFT) == {
            "the-weekly": SubscriptionStatus.UNSUBSCRIBED,
            "ai-digest": SubscriptionStatus.ACTIVE,
        }


def test_a_whole_import_reports_and_skips_the_reader_who_left(app, left_the_weekly):
    csv = f"email,newsletters\n{LEFT},the-weekly;ai-digest\nnew@example.com,the-weekly\n"
    with app.app_context():
        job = imports.start_import("list.csv", csv.encode(), attested=True, consent_note="fair")
        job = imports.check(job.id)
        assert f"{LEFT},unsubscribed earlier from: the-weekly" in job.errors_csv
        imports.begin_apply(job)
        imports.apply(job.id)
        assert _states(LEFT)["the-weekly"] == SubscriptionStatus.UNSUBSCRIBED
        assert _states("new@example.com") == {"the-weekly": SubscriptionStatus.ACTIVE}


@pytest.mark.parametrize("note", [None, "", "   "])
def test_attesting_consent_needs_a_note(app, note):
    add_newsletter(app, "the-weekly", "The Weekly")
    with app.app_context():
        with pytest.raises(InvalidInput) as refused:
            imports.start_import(
                "list.csv", b"email,newsletters\na@example.com,the-weekly\n", attested=True,
                consent_note=note,
            )  # fmt: skip
        assert refused.value.field == "consent_note"
        assert db.session.scalar(select(ImportJob)) is None


def test_a_note_without_attesting_is_not_a_consent_record(app):
    add_newsletter(app, "the-weekly", "The Weekly")
    with app.app_context():
        job = imports.start_import(
            "list.csv", b"email,newsletters\na@example.com,the-weekly\n", consent_note="fair"
        )
        assert (job.attested, job.consent_note) == (False, None)
        imports.check(job.id)
        imports.begin_apply(job)
        imports.apply(job.id)
        status = db.session.scalar(select(Subscription.status))
        assert status == SubscriptionStatus.PENDING  # waits for the reader's own confirmation


def test_the_cli_and_the_console_refuse_attesting_without_a_note(app, runner, client, tmp_path):
    add_newsletter(app, "the-weekly", "The Weekly")
    rows = tmp_path / "list.csv"
    rows.write_text("email,newsletters\na@example.com,the-weekly\n")
    result = runner.invoke(args=["subscribers", "import", str(rows), "--confirmed"])
    assert result.exit_code == 2 and "consented" in result.output
    with app.app_context():
        assert db.session.scalar(select(ImportJob)) is None


@pytest.mark.parametrize("attested", [False, True])
def test_a_batch_is_applied_once_when_two_runs_read_the_same_checkpoint(app, attested):
    """Two resumes of one import read the same checkpoint; the one that commits second
    applies nothing: no second consent record, no second count, whichever the path."""
    add_newsletter(app)
    rows = "".join(f"reader{n}@example.com,the-weekly\n" for n in range(4))
    note = "signed up at the fair" if attested else None
    with app.app_context():
        job = imports.start_import(
            "list.csv", f"email,newsletters\n{rows}".encode(), attested=attested,
            consent_note=note,
        )  # fmt: skip
        imports.check(job.id)
        imports.begin_apply(job)
        batch = next(imports._batches(job))
        seen = SeenAddresses(job)
        imports.check_batch(job, batch, imports._newsletter_map(), seen)
        seen.close()
        assert not any(row.error for row in batch)
        assert imports._apply_batch(job, batch, len(batch)) is True
        events = db.session.scalar(select(func.count(Event.id)))
        assert events == 4

        # The other run read the checkpoint before the first committed.
        db.session.expire_all()
        stale = db.session.get(ImportJob, job.id)
        set_committed_value(stale, "applied_through", 0)
        assert imports._apply_batch(stale, batch, len(batch)) is False
        db.session.expire_all()
        assert db.session.scalar(select(func.count(Event.id))) == events
        again = db.session.get(ImportJob, job.id)
        assert (again.applied_through, again.applied_rows) == (4, 4)
