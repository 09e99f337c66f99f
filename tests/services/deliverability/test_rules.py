"""The rules a report triggers: hard, soft within a window, complaint; once, and all or nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import (
    AuditLog,
    BounceKind,
    BounceReport,
    DeliveryStatus,
    Event,
    EventKind,
    OutboxMessage,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
    utcnow,
)
from newsletters.services.deliverability import events
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.mail import suppressions, verp
from newsletters.services.readers.standing import subscriber_by_email
from tests.support.bounces import BOUNCE_DOMAIN, delivery_of, sent_issue
from tests.support.reader import sign_up
from tests.support.readers import add_newsletter


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings(), BOUNCE_DOMAIN=BOUNCE_DOMAIN)
    return settings


@pytest.fixture
def tokens(app, runner, smtp_server, weekly):
    """Three readers who got this week's issue, each with the token of their copy."""
    return sent_issue(app, runner, smtp_server, weekly)


def _event(kind, key="report-1", **fields):
    return BounceEvent(source="mailbox", event_key=key, kind=kind, **fields)


def _suppression(address):
    return db.session.scalar(
        select(Suppression).where(Suppression.email_hash == suppressions.address_hash(address))
    )


def _history(address, kind):
    subscriber = subscriber_by_email(address)
    return db.session.scalars(
        select(Event).where(Event.subscriber_id == subscriber.id, Event.kind == kind)
    ).all()


def _audits(action):
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def test_a_hard_bounce_suppresses_the_address_marks_the_delivery_and_writes_it_down(app, tokens):
    address, token = next(iter(tokens.items()))
    with app.app_context():
        applied = events.apply(_event(BounceKind.HARD, tokens=(token,), status="5.1.1"))
        assert applied.outcome == "suppressed"
        assert _suppression(address).reason == SuppressionReason.BOUNCED == "bounce"
        assert delivery_of(address).status == DeliveryStatus.BOUNCED
        [entry] = _history(address, EventKind.BOUNCED)
        assert entry.detail["status"] == "5.1.1" and entry.newsletters == ["the-weekly"]
        [audit] = _audits("deliverability.hard")
        assert audit.admin_id is None and audit.admin_email == "mailbox report"
        others = [a for a in tokens if a != address]
        assert not any(_suppression(a) for a in others)


def test_a_replayed_report_changes_nothing_the_second_time(app, tokens):
    address, token = next(iter(tokens.items()))
    with app.app_context():
        first = events.apply(_event(BounceKind.COMPLAINT, tokens=(token,)))
        again = events.apply(_event(BounceKind.COMPLAINT, tokens=(token,)))
        assert (first.replayed, again.replayed) == (False, True)
        assert again.report_id == first.report_id
        assert db.session.scalar(select(func.count(BounceReport.id))) == 1
        assert len(_history(address, EventKind.COMPLAINED)) == 1
        assert len(_history(address, EventKind.UNSUBSCRIBED)) == 1
        assert len(_audits("deliverability.complaint")) == 1


@pytest.mark.parametrize("tamper", ["mac", "id", "foreign key", "garbage"])
def test_a_forged_or_tampered_token_changes_nothing(app, tokens, tamper):
    address, token = next(iter(tokens.items()))
    body, mac = token.split("-")
    forged = {
        "mac": f"{body}-{'a' if mac[0] != 'a' else 'b'}{mac[1:]}",
        "id": f"d{int(body[1:], 36) + 1:x}-{mac}",
        "foreign key": None,
        "garbage": "d1-not-a-token",
    }[tamper]
    with app.app_context():
        if forged is None:
            secret, app.config["SECRET_KEY"] = app.config["SECRET_KEY"], "another-secret"
            forged = verp.token_for_delivery(delivery_of(address).id)
            app.config["SECRET_KEY"] = secret
        applied = events.apply(_event(BounceKind.HARD, tokens=(forged,), email=address))
        assert applied.outcome == "unmatched"
        assert _suppression(address) is None
        assert delivery_of(address).status == DeliveryStatus.SENT
        assert db.session.scalar(select(func.count(Event.id)).where(Event.kind == "bounced")) == 0


def test_a_token_signed_with_the_previous_secret_still_counts(app, tokens):
    address, token = next(iter(tokens.items()))
    with app.app_context():
        app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
        app.config["SECRET_KEY"] = "the-new-secret"
        assert events.apply(_event(BounceKind.HARD, tokens=(token.upper(),))).outcome == (
            "suppressed"
        )


def _soft(app, token, key, at):
    with app.app_context():
        return events.apply(_event(BounceKind.SOFT, key=key, tokens=(token,)), now=at).outcome


def test_soft_bounces_suppress_at_the_limit_within_the_window_edges_included(app, tokens):
    address, token = next(iter(tokens.items()))
    now = utcnow()
    window = timedelta(days=app.config["BOUNCE_SOFT_WINDOW_DAYS"])
    assert app.config["BOUNCE_SOFT_LIMIT"] == 3
    assert _soft(app, token, "a", now - window) == "counted"
    assert _soft(app, token, "b", now - window / 2) == "counted"
    with app.app_context():
        assert _suppression(address) is None
    assert _soft(app, token, "c", now) == "suppressed"  # the first is exactly 14 days old
    with app.app_context():
        suppression = _suppression(address)
        assert suppression.reason == SuppressionReason.BOUNCED
        assert "3 soft bounces in 14 days" in suppression.detail
        assert len(_history(address, EventKind.BOUNCED)) == 3
        assert len(_audits("deliverability.soft")) == 1  # only the one that changed something
        assert delivery_of(address).status == DeliveryStatus.SENT


def test_soft_bounces_older_than_the_window_are_not_counted(app, tokens):
    address, token = next(iter(tokens.items()))
    now = utcnow()
    window = timedelta(days=app.config["BOUNCE_SOFT_WINDOW_DAYS"])
    assert _soft(app, token, "a", now - window - timedelta(seconds=1)) == "counted"
    assert _soft(app, token, "b", now - timedelta(days=1)) == "counted"
    assert _soft(app, token, "c", now) == "counted"  # only two inside the window
    assert _soft(app, token, "d", now + timedelta(seconds=1)) == "suppressed"
    with app.app_context():
        assert _suppression(address).reason == SuppressionReason.BOUNCED


def test_soft_bounces_count_per_address_not_across_readers(app, tokens):
    now = utcnow()
    for n, token in enumerate(tokens.values()):
        assert _soft(app, token, f"k{n}", now) == "counted"
        assert _soft(app, token, f"j{n}", now) == "counted"
    with app.app_context():
        assert db.session.scalar(select(func.count(Suppression.id))) == 0


def test_a_complaint_found_by_the_message_id_unsubscribes_from_everything(app, tokens, smtp_server):
    address, token = next(iter(tokens.items()))
    other = add_newsletter(app, slug="climate", name="Climate Report")
    with app.app_context():
        reader = subscriber_by_email(address)
        db.session.add(
            Subscription(
                subscriber_id=reader.id,
                newsletter_id=other,
                status=SubscriptionStatus.ACTIVE,
                confirmed_at=utcnow(),
            )
        )
        db.session.commit()
    [message_id] = [
        m["Message-ID"] for m in smtp_server.messages if m["To"] == address
    ]  # the provider redacted the recipient; the original's Message-ID is all there is
    with app.app_context():
        applied = events.apply(_event(BounceKind.COMPLAINT, message_ids=(message_id,)))
        assert applied.outcome == "unsubscribed"
        reader = subscriber_by_email(address)
        assert {s.status for s in reader.subscriptions} == {SubscriptionStatus.UNSUBSCRIBED}
        assert _suppression(address).reason == SuppressionReason.COMPLAINED == "complaint"
        [left] = _history(address, EventKind.UNSUBSCRIBED)
        assert set(left.newsletters) == {"the-weekly", "climate"}
        assert left.source == "report:mailbox"
        assert len(_history(address, EventKind.COMPLAINED)) == 1
        assert len(_audits("deliverability.complaint")) == 1


def test_a_bounce_of_a_confirmation_email_is_found_by_the_outbox_message(app, client, smtp_server):
    add_newsletter(app)
    assert sign_up(client, "new@example.com", "the-weekly").status_code in (200, 302, 303)
    [envelope] = smtp_server.envelopes
    token = envelope.mail_from.removeprefix("bounces+").partition("@")[0]
    with app.app_context():
        assert verp.read_token(token).kind == "outbox"
        message = db.session.get(OutboxMessage, verp.read_token(token).row_id)
        assert message.to_address == "new@example.com"
        by_id = events.apply(_event(BounceKind.HARD, message_ids=(message.message_id,)))
        assert by_id.outcome == "suppressed"
        assert _suppression("new@example.com").reason == SuppressionReason.BOUNCED


def test_an_address_alone_counts_only_when_a_signed_provider_reported_it(app, tokens):
    address = next(iter(tokens))
    with app.app_context():
        untrusted = events.apply(_event(BounceKind.HARD, key="m", email=address))
        assert untrusted.outcome == "unmatched" and _suppression(address) is None
        trusted = events.apply(
            BounceEvent("generic", "g1", BounceKind.HARD, email=address.upper(), trusted_email=True)
        )
        assert trusted.outcome == "suppressed" and _suppression(address) is not None
        unknown = events.apply(
            BounceEvent(
                "generic", "g2", BounceKind.HARD, email="stranger@example.org", trusted_email=True
            )
        )
        assert unknown.outcome == "suppressed" and _suppression("stranger@example.org")


def test_a_fault_midway_leaves_nothing_half_done(app, tokens, monkeypatch):
    address, token = next(iter(tokens.items()))

    def audit_log_unavailable(*args, **kwargs):
        raise RuntimeError("the audit log could not be written")

    monkeypatch.setattr(events, "record", audit_log_unavailable)
    with app.app_context():
        with pytest.raises(RuntimeError):
            events.apply(_event(BounceKind.COMPLAINT, tokens=(token,)))
        db.session.rollback()
        assert db.session.scalar(select(func.count(BounceReport.id))) == 0
        assert _suppression(address) is None
        assert not _history(address, EventKind.UNSUBSCRIBED)
        reader = subscriber_by_email(address)
        assert {s.status for s in reader.subscriptions} == {SubscriptionStatus.ACTIVE}
    monkeypatch.undo()
    with app.app_context():
        assert events.apply(_event(BounceKind.COMPLAINT, tokens=(token,))).outcome == (
            "unsubscribed"
        )


def test_auto_replies_and_unknown_mail_are_kept_and_change_nothing(app, tokens):
    address, token = next(iter(tokens.items()))
    with app.app_context():
        reply = events.apply(_event(BounceKind.AUTOREPLY, key="ooo", tokens=(token,), raw="x"))
        person = events.apply(_event(BounceKind.UNKNOWN, key="hi", tokens=(token,), raw="y"))
        assert (reply.outcome, person.outcome) == ("ignored", "kept")
        assert db.session.get(BounceReport, person.report_id).raw == "y"
        assert _suppression(address) is None and not _history(address, EventKind.BOUNCED)


def test_erasing_a_reader_keeps_their_reports_counted_but_forgets_the_address(app, tokens):
    from newsletters.services.readers import audience

    address, token = next(iter(tokens.items()))
    with app.app_context():
        raw = f"Final-Recipient: rfc822; {address}"
        report_id = events.apply(_event(BounceKind.SOFT, tokens=(token,), raw=raw)).report_id
        audience.erase(str(subscriber_by_email(address).uuid))
        report = db.session.get(BounceReport, report_id)
        assert (report.email, report.raw, report.subscriber_id) == (None, None, None)
        assert (report.kind, report.domain) == (BounceKind.SOFT, "example.com")
