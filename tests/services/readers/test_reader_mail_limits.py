"""Mail that typing an address can cause is rationed per reader, however the address is spelt."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import Newsletter, OutboxKind, OutboxMessage, Subscriber, utcnow
from newsletters.services.core.addresses import normalize_email
from newsletters.services.readers import preferences, signup
from newsletters.services.readers.history import Origin
from tests.support.reader import add_demo_newsletters, sign_up, submit_form
from tests.support.readers import add_readers

READER = "reader@example.com"
# One address, spelt twenty ways: case, full-width letters, a full-width domain, both.
SPELLINGS = [
    "reader@example.com",
    "READER@EXAMPLE.COM",
    "Reader@Example.com",
    "ｒｅａｄｅｒ@example.com",
    "ＲＥＡＤＥＲ@example.com",
    "reader@ｅｘａｍｐｌｅ.ｃｏｍ",
    "ｒｅａｄｅｒ@ｅｘａｍｐｌｅ.ｃｏｍ",
    "ＲｅＡｄＥｒ@ＥＸＡＭＰＬＥ.com",
    "rｅader@example.com",
    "reaｄer@Example.COM",
] * 2
# The rate limiter stops twenty requests sooner; here the mail rules alone are tested.
NO_RATE_LIMITS = {
    "SIGNUP_RATE_LIMIT": "100 per minute",
    "SIGNUP_ADDRESS_RATE_LIMIT": "100 per minute",
}
ORIGIN = Origin(source="lost-link", ip="198.51.100.7", user_agent="Test/1.0")


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


@pytest.fixture
def reader(app) -> str:
    """A confirmed reader of The Weekly who has had no mail lately."""
    with app.app_context():
        weekly = db.session.scalar(select(Newsletter.id).where(Newsletter.slug == "the-weekly"))
    add_readers(app, weekly, 1)
    with app.app_context():
        db.session.execute(update(Subscriber).values(email=READER))
        db.session.commit()
    return READER


def _reader_mail(app, kind: OutboxKind | None = None) -> int:
    with app.app_context():
        query = select(func.count()).select_from(OutboxMessage)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return db.session.scalar(query.where(OutboxMessage.kind != OutboxKind.WELCOME))


def test_every_spelling_is_one_address(app):
    with app.app_context():
        assert {normalize_email(spelling) for spelling in SPELLINGS} == {READER}


def test_twenty_lost_link_requests_in_any_spelling_send_one_link_per_interval(
    app, client, reader, mailbox
):
    app.config.update(NO_RATE_LIMITS)
    for spelling in SPELLINGS:
        assert submit_form(client, "/preferences", {"email": spelling}).status_code == 200
    assert _reader_mail(app, OutboxKind.PREFERENCES_LINK) == 1
    assert len(mailbox.messages(to=READER)) == 1


def test_without_an_interval_the_day_still_has_its_cap(app, client, reader, mailbox):
    app.config.update(NO_RATE_LIMITS, CONFIRMATION_EMAIL_INTERVAL=0)
    for spelling in SPELLINGS:
        assert submit_form(client, "/preferences", {"email": spelling}).status_code == 200
    allowed = app.config["CONFIRMATIONS_PER_DAY"]
    assert _reader_mail(app, OutboxKind.PREFERENCES_LINK) == allowed == 3
    assert len(mailbox.messages(to=READER)) == allowed


def test_signups_and_lost_links_share_one_budget(app, reader):
    """Reminders, confirmations and links together: no mix of forms buys more mail."""
    app.config.update(CONFIRMATION_EMAIL_INTERVAL=0)
    with app.app_context():
        for spelling in SPELLINGS[:10]:
            signup.subscribe(spelling, ["the-weekly", "ai-digest"], ORIGIN)
            preferences.request_preferences_link(spelling, ORIGIN)
    assert _reader_mail(app) == app.config["CONFIRMATIONS_PER_DAY"]


def test_the_budget_is_a_rolling_day(app, reader):
    app.config.update(CONFIRMATION_EMAIL_INTERVAL=0)
    with app.app_context():
        for _ in range(5):
            preferences.request_preferences_link(READER, ORIGIN)
        assert _reader_mail(app) == 3
        db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
        preferences.request_preferences_link(READER, ORIGIN)
    assert _reader_mail(app) == 4


def test_a_link_soon_after_a_signup_is_not_blocked_by_its_confirmation(app, client, mailbox):
    """Each kind has its own interval: a reader who just signed up can still get their link."""
    sign_up(client, "new@example.com", "the-weekly")
    submit_form(client, "/preferences", {"email": "ＮＥＷ@example.com"})
    kinds = sorted(m["Subject"] for m in mailbox.messages(to="new@example.com"))
    assert kinds == [
        "Confirm your subscription to The Weekly",
        "Your link to manage your newsletters",
    ]


# --- the rate limiter ---------------------------------------------------------------------


def _lost_link(client, spelling):
    return submit_form(client, "/preferences", {"email": spelling}).status_code


def _signup(client, spelling):
    return sign_up(client, spelling, "the-weekly").status_code


def _api(client, spelling):
    body = {"email": spelling, "newsletters": ["the-weekly"]}
    return client.post("/api/v1/subscriptions", json=body).status_code


@pytest.mark.parametrize("send", [_lost_link, _signup, _api], ids=["lost-link", "signup", "api"])
def test_the_per_address_limit_counts_every_spelling_as_one(app, send):
    app.config["SIGNUP_ADDRESS_RATE_LIMIT"] = "2 per minute"
    clients = [app.test_client() for _ in range(4)]
    for n, client in enumerate(clients):
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
    assert send(clients[0], "reader@example.com") in (200, 202)
    assert send(clients[1], "READER@Example.com") in (200, 202)
    assert send(clients[2], "ｒｅａｄｅｒ@ｅｘａｍｐｌｅ.ｃｏｍ") == 429
    assert send(clients[3], "ＲＥＡＤＥＲ@example.com") == 429
    assert send(clients[3], "someone@example.com") in (200, 202)
