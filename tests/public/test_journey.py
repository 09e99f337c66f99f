"""A reader's whole journey, following the links in the emails actually sent."""

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import EventKind, OutboxMessage
from tests.support.mail import html_of, link_in, text_of
from tests.support.reader import (
    add_demo_newsletters,
    checked_boxes,
    csrf_token_in,
    events,
    sign_up,
    statuses,
    submit_form,
)

READER = "reader@example.com"
THANKS = "Thank you for submitting your email!"


@pytest.fixture
def settings(settings):
    # The journey re-subscribes within minutes; the mail throttle has its own tests.
    settings["CONFIRMATION_EMAIL_INTERVAL"] = 0
    return settings


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def test_index_lists_every_public_newsletter_with_a_signup_form(client):
    page = client.get("/").get_data(as_text=True)
    assert "Explore more newsletters" in page
    for name in ("The Weekly", "AI Digest", "Climate Report", "Morning Briefing"):
        assert name in page
    assert 'action="/subscribe"' in page
    assert 'name="newsletters" value="the-weekly"' in page
    assert 'name="website"' in page  # the honeypot


def test_sign_up_confirm_choose_and_leave(app, client, mailbox):
    response = sign_up(client, READER, "the-weekly", "ai-digest")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert THANKS in page
    assert 'href="/"' in page and "Explore more newsletters" in page
    assert statuses(app, READER) == {"the-weekly": "pending", "ai-digest": "pending"}

    confirmation = mailbox.last(to=READER)
    assert "Confirm your subscription" in confirmation["Subject"]
    assert "AI Digest" in text_of(confirmation) and "The Weekly" in text_of(confirmation)
    confirm_path = link_in(confirmation, "/confirm/")

    # Opening the link (what a mail scanner does) changes nothing...
    landing = client.get(confirm_path)
    assert landing.status_code == 200
    assert "data-auto-submit" in landing.get_data(as_text=True)
    assert "js/confirm.js" in landing.get_data(as_text=True)
    assert statuses(app, READER) == {"the-weekly": "pending", "ai-digest": "pending"}

    # ...the POST the page makes confirms exactly what was asked for.
    confirmed = client.post(
        confirm_path,
        data={"csrf_token": csrf_token_in(landing.get_data(as_text=True))},
        headers={"User-Agent": "JourneyBrowser/1.0"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert confirmed.status_code == 200
    assert "You're subscribed!" in confirmed.get_data(as_text=True)
    assert statuses(app, READER) == {"the-weekly": "active", "ai-digest": "active"}

    consent = [e for e in events(app, READER) if e.kind == EventKind.CONFIRMED]
    assert len(consent) == 1
    record = consent[0]
    assert sorted(record.newsletters) == ["ai-digest", "the-weekly"]
    assert record.ip == "203.0.113.7"
    assert record.user_agent == "JourneyBrowser/1.0"
    assert record.source == "form"
    assert record.consent_version == app.config["CONSENT_TEXT_VERSION"]
    assert record.created_at is not None
    assert set(record.detail["requests"]) == {"ai-digest", "the-weekly"}

    welcome = mailbox.last(to=READER)
    assert welcome["Subject"].startswith("Welcome to")
    assert welcome["List-Unsubscribe"].startswith("<http://newsletters.test/unsubscribe/")
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    preferences_path = link_in(welcome, "/preferences/")
    assert "/unsubscribe/" in text_of(welcome) and "/unsubscribe/" in html_of(welcome)

    # The preference center shows every public newsletter in its current state.
    page = client.get(preferences_path).get_data(as_text=True)
    for name in ("The Weekly", "AI Digest", "Climate Report", "Morning Briefing"):
        assert name in page
    assert _checked(page) == {"the-weekly", "ai-digest"}

    # Changes apply at once: the link proves the reader owns the address.
    mail_before = len(mailbox.messages())
    saved = submit_form(
        client,
        preferences_path,
        {"newsletters": ["the-weekly", "climate-report"], "action": "save"},
        follow_redirects=True,
    )
    assert "Your preferences have been saved." in saved.get_data(as_text=True)
    assert statuses(app, READER) == {
        "the-weekly": "active",
        "ai-digest": "unsubscribed",
        "climate-report": "active",
    }
    assert _checked(saved.get_data(as_text=True)) == {"the-weekly", "climate-report"}
    assert len(mailbox.messages()) == mail_before

    # "Unsubscribe from all" leaves everything.
    gone = submit_form(
        client, preferences_path, {"action": "unsubscribe_all"}, follow_redirects=True
    )
    assert "unsubscribed from all newsletters" in gone.get_data(as_text=True)
    assert set(statuses(app, READER).values()) == {"unsubscribed"}

    # Coming back means confirming again.
    sign_up(client, READER, "ai-digest")
    assert statuses(app, READER)["ai-digest"] == "pending"
    again = mailbox.last(to=READER)
    assert "Confirm your subscription to AI Digest" == again["Subject"]
    confirm_again = link_in(again, "/confirm/")
    submit_form(client, confirm_again)
    assert statuses(app, READER)["ai-digest"] == "active"


def test_confirmed_reader_adding_a_newsletter_confirms_it_by_email(app, client, mailbox):
    _subscribe_and_confirm(client, mailbox, "the-weekly")
    sign_up(client, READER, "climate-report")
    assert statuses(app, READER) == {"the-weekly": "active", "climate-report": "pending"}
    confirmation = mailbox.last(to=READER)
    assert confirmation["Subject"] == "Confirm your subscription to Climate Report"
    submit_form(client, link_in(confirmation, "/confirm/"))
    assert statuses(app, READER) == {"the-weekly": "active", "climate-report": "active"}


def test_unsubscribe_link_shows_a_button_and_the_post_leaves(app, client, mailbox):
    _subscribe_and_confirm(client, mailbox, "the-weekly", "ai-digest")
    unsubscribe_path = link_in(mailbox.last(to=READER), "/unsubscribe/")

    page = client.get(unsubscribe_path)
    assert page.status_code == 200
    assert "Unsubscribe from all newsletters?" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert statuses(app, READER) == {"the-weekly": "active", "ai-digest": "active"}

    left = submit_form(client, unsubscribe_path)
    assert left.status_code == 200
    assert "You're unsubscribed" in left.get_data(as_text=True)
    assert statuses(app, READER) == {"the-weekly": "unsubscribed", "ai-digest": "unsubscribed"}
    assert [e.kind for e in events(app, READER)][-1] == EventKind.UNSUBSCRIBED


def test_lost_link_mails_a_fresh_preferences_link(app, client, mailbox):
    _subscribe_and_confirm(client, mailbox, "the-weekly")
    known = submit_form(client, "/preferences", {"email": "Reader@Example.com"})
    assert known.status_code == 200
    link_mail = mailbox.last(to=READER)
    assert link_mail["Subject"] == "Your link to manage your newsletters"
    page = client.get(link_in(link_mail, "/preferences/"))
    assert page.status_code == 200 and "The Weekly" in page.get_data(as_text=True)


def test_every_message_is_multipart_alternative_with_the_footer(app, client, mailbox):
    _subscribe_and_confirm(client, mailbox, "the-weekly")
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage.status)).all() == ["sent", "sent"]
    for message in mailbox.messages():
        assert message.get_content_type() == "multipart/alternative"
        assert message["Message-ID"].endswith("@newsletters.test>")
        assert message["Date"] and message["List-Id"]
        assert "1 Press Row, Springfield" in text_of(message)
        assert "1 Press Row, Springfield" in html_of(message)
        assert 'style="' in html_of(message)  # CSS inlined for mail clients


def _subscribe_and_confirm(client, mailbox, *slugs):
    sign_up(client, READER, *slugs)
    submit_form(client, link_in(mailbox.last(to=READER), "/confirm/"))


def _checked(page: str) -> set[str]:
    return checked_boxes(page)


def test_lost_link_answers_known_and_unknown_addresses_alike(app, client, mailbox):
    _subscribe_and_confirm(client, mailbox, "the-weekly")
    mail_before = len(mailbox.messages())
    known = submit_form(client, "/preferences", {"email": READER})
    unknown = submit_form(client, "/preferences", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace(READER, "X") == unknown.get_data(
        as_text=True
    ).replace("nobody@example.com", "X")
    assert [m["To"] for m in mailbox.messages()[mail_before:]] == [READER]
