"""RFC 8058 one-click unsubscribe: a mail client's POST, with no cookie and no CSRF token."""

import pytest

from tests.support.mail import link_in
from tests.support.reader import add_demo_newsletters, sign_up, statuses, submit_form

READER = "reader@example.com"


@pytest.fixture
def unsubscribe_path(app, client, mailbox):
    add_demo_newsletters(app)
    sign_up(client, READER, "the-weekly", "ai-digest")
    submit_form(client, link_in(mailbox.last(to=READER), "/confirm/"))
    header = mailbox.last(to=READER)["List-Unsubscribe"]
    assert header.startswith("<http://newsletters.test/unsubscribe/")
    return header.strip("<>").removeprefix("http://newsletters.test")


def test_one_click_post_unsubscribes_without_cookie_or_csrf(app, unsubscribe_path):
    mail_client = app.test_client()  # a fresh client: no session cookie at all
    response = mail_client.post(
        unsubscribe_path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.location is None
    assert set(statuses(app, READER).values()) == {"unsubscribed"}


def test_one_click_accepts_multipart_form_data(app, unsubscribe_path):
    response = app.test_client().post(
        unsubscribe_path,
        data={"List-Unsubscribe": "One-Click"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert set(statuses(app, READER).values()) == {"unsubscribed"}


def test_repeating_one_click_still_answers_200(app, unsubscribe_path):
    mail_client = app.test_client()
    for _ in range(3):
        response = mail_client.post(unsubscribe_path, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    assert set(statuses(app, READER).values()) == {"unsubscribed"}


def test_a_post_without_the_one_click_body_still_needs_csrf(app, unsubscribe_path):
    response = app.test_client().post(unsubscribe_path, data={"List-Unsubscribe": "Other"})
    assert response.status_code == 400
    assert set(statuses(app, READER).values()) == {"active"}
