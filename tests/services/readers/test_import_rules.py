"""The rules of importing readers, held by the service whoever calls it."""

import pytest
from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import ImportJob, Subscription, SubscriptionStatus
from newsletters.services.catalogue import newsletter_by_slug
from newsletters.services.readers import imports, preferences, signup
from newsletters.services.readers.history import Origin
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
