"""Other systems' exports, imported as they are: detected, consented, suppressed, mapped."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import (
    Event,
    ImportJob,
    OutboxMessage,
    Subscriber,
    Subscription,
    Suppression,
    SuppressionReason,
)
from newsletters.services.readers import import_files, imports
from newsletters.services.readers.import_formats import detect
from tests.support.readers import add_newsletter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"


@pytest.fixture
def lists(app):
    add_newsletter(app, "the-weekly", "The Weekly")
    add_newsletter(app, "ai-digest", "AI Digest")


def _import(app, name: str, **options) -> ImportJob:
    with app.app_context():
        job = imports.start_import(name, (FIXTURES / name).read_bytes(), **options)
        job = imports.check(job.id)
        imports.begin_apply(job)
        job = imports.apply(job.id)
        db.session.expunge(job)
        return job


def _states(app) -> dict[str, dict[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Subscriber.email, Subscription.newsletter_id, Subscription.status)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        ).all()  # fmt: skip
        slugs = {1: "the-weekly", 2: "ai-digest"}
        states: dict[str, dict[str, str]] = {}
        for email, newsletter_id, status in rows:
            states.setdefault(email, {})[slugs[newsletter_id]] = status.value
        return states


def _suppressed(app) -> dict[str, str]:
    with app.app_context():
        return {s.email: s.reason.value for s in db.session.scalars(select(Suppression))}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mailchimp_subscribed.csv", "mailchimp"),
        ("mailchimp_unsubscribed.csv", "mailchimp"),
        ("mailchimp_cleaned.csv", "mailchimp"),
        ("listmonk_export.csv", "listmonk"),
        ("listmonk_import.csv", "listmonk"),
        ("ghost_members.csv", "ghost"),
        ("substack_subscribers.csv", "substack"),
    ],
)
def test_each_export_is_recognised_by_its_header(app, name, expected):
    with app.app_context():
        job = imports.start_import(name, (FIXTURES / name).read_bytes())
        assert job.format == expected
        assert detect(import_files.read_header(job)).name == expected


def test_our_own_format_is_still_ours_and_a_stranger_is_refused(app):
    assert detect(["email", "newsletters"]).name == "newsletters"
    with pytest.raises(InvalidInput) as unknown:
        detect(["address", "lists"])
    assert "header: email,newsletters" in unknown.value.message
    with pytest.raises(InvalidInput) as forced:
        detect(["email", "newsletters"], "ghost")
    assert "subscribed_to_emails" in forced.value.message


def test_mailchimp_members_join_at_once_with_the_exports_consent_record(app, lists):
    job = _import(
        app, "mailchimp_subscribed.csv", newsletters=["ai-digest"], tags={"Weekly": "the-weekly"}
    )
    assert (job.applied_rows, job.error_count) == (3, 2)
    assert _states(app) == {
        "ada@example.com": {"the-weekly": "active"},  # tagged Weekly (and AI, not mapped)
        "grace@example.com": {"the-weekly": "active"},
        "alan@example.com": {"ai-digest": "active"},  # no tag: the chosen newsletters
    }
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.id)) is None  # no confirmation email
        sources = set(db.session.scalars(select(Subscription.source)))
        assert sources == {"import:mailchimp"}
        grace = db.session.scalar(
            select(Event).join(Subscriber).where(Subscriber.email == "grace@example.com")
        )
        assert grace.source == "import:mailchimp" and grace.ip == "198.51.100.24"
        assert grace.detail["optin_time"] == "2024-05-12 18:00:00"
        assert grace.detail["optin_ip"] == "198.51.100.23"
        assert grace.detail["confirm_time"] == "2024-05-12 18:02:11"
        assert grace.newsletters == ["the-weekly"]
    report = "".join(import_files_report(app, job))
    assert "not-an-address,not a valid email address" in report
    assert "grace@example.com,repeats an earlier row" in report


def import_files_report(app, job):
    with app.app_context():
        return list(import_files.safe_errors(db.session.get(ImportJob, job.id)))


def test_unsubscribed_and_cleaned_members_become_suppressions_never_readers(app, lists):
    for name in ("mailchimp_unsubscribed.csv", "mailchimp_cleaned.csv"):
        job = _import(app, name, newsletters=["the-weekly"])
        assert job.applied_rows == 0 and job.error_count == 0
    assert _states(app) == {}
    assert _suppressed(app) == {
        "left@example.com": "unsubscribed",
        "spam@example.com": "complaint",
        "bounced@example.com": "bounce",
    }
    # A later list that still has them subscribed cannot bring them back.
    job = _import(app, "mailchimp_subscribed.csv", newsletters=["the-weekly"])
    with app.app_context():
        assert "left@example.com" not in _states(app)
    assert job.applied_rows == 3


def test_listmonk_ghost_and_substack_states(app, lists):
    _import(app, "listmonk_export.csv", newsletters=["the-weekly"])
    _import(app, "ghost_members.csv", newsletters=["the-weekly"], tags={"vip": "ai-digest"})
    job = _import(app, "substack_subscribers.csv", tags={"yearly": "ai-digest"})
    assert _states(app) == {
        "lin@example.com": {"the-weekly": "active"},
        "gia@example.com": {"ai-digest": "active"},
        "pat@example.com": {"ai-digest": "active"},
    }
    assert _suppressed(app) == {
        "block@example.com": "unsubscribed",
        "quiet@example.com": "unsubscribed",
        "mute@example.com": "unsubscribed",
    }
    report = "".join(import_files_report(app, job))
    assert "sue@example.com,no newsletter chosen for it" in report
    with app.app_context():
        sources = set(db.session.scalars(select(Subscription.source)))
    assert sources == {"import:listmonk", "import:ghost", "import:substack"}


def test_refused_rows_say_why_for_the_other_systems(app, lists):
    with app.app_context():
        job = imports.start_import(
            "ghost.csv", (FIXTURES / "ghost_members.csv").read_bytes(), newsletters=["the-weekly"]
        )
        job = imports.check(job.id)
        assert "gone-ghost@example.com,deleted in Ghost" in job.errors_csv
        assert (job.valid_rows, job.suppressed_rows, job.error_count) == (1, 1, 1)
        assert job.tags_found == ["vip", "weekly"]
        listmonk = imports.start_import("l.csv", (FIXTURES / "listmonk_export.csv").read_bytes())
        assert "off@example.com,disabled in listmonk" in imports.check(listmonk.id).errors_csv


def test_an_unknown_newsletter_in_the_mapping_is_refused_and_nothing_is_kept(app, lists, settings):
    with app.app_context():
        with pytest.raises(InvalidInput) as refused:
            imports.start_import(
                "m.csv",
                (FIXTURES / "mailchimp_subscribed.csv").read_bytes(),
                tags={"Weekly": "the-weeky"},
            )
        assert "the-weeky" in refused.value.message
        assert db.session.scalar(select(ImportJob.id)) is None
    assert list(Path(settings["IMPORT_DIR"]).glob("*.csv")) == []


def test_a_suppressed_address_is_refused_not_revived(app, lists):
    with app.app_context():
        from newsletters.services.mail import suppressions

        suppressions.suppress("ada@example.com", SuppressionReason.MANUAL)
        db.session.commit()
    job = _import(app, "mailchimp_subscribed.csv", newsletters=["the-weekly"])
    assert "ada@example.com" not in _states(app)
    assert "ada@example.com,the address is suppressed" in "".join(import_files_report(app, job))


def test_the_same_export_twice_changes_nothing_the_second_time(app, lists, tmp_path):
    copy = tmp_path / "again.csv"
    shutil.copy(FIXTURES / "mailchimp_subscribed.csv", copy)
    _import(app, "mailchimp_subscribed.csv", newsletters=["the-weekly"])
    with app.app_context():
        events = db.session.scalar(select(db.func.count(Event.id)))
    _import(app, "mailchimp_subscribed.csv", newsletters=["the-weekly"])
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Event.id))) == events
        assert db.session.scalar(select(db.func.count(Subscription.id))) == 3
