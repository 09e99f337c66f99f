"""The signup form: one answer for every address, and nothing for bots."""

import pytest

from tests.support.reader import add_demo_newsletters, sign_up, snapshot, statuses

THANKS = "Thank you for submitting your email!"


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _answer(response):
    return response.status_code, response.get_data(as_text=True)


def test_new_pending_subscribed_and_unsubscribed_addresses_get_the_same_answer(
    app, client, mailbox
):
    from tests.support.mail import link_in
    from tests.support.reader import submit_form

    new = _answer(sign_up(client, "new@example.com", "the-weekly"))
    sign_up(client, "pending@example.com", "the-weekly")
    pending = _answer(sign_up(client, "pending@example.com", "the-weekly"))
    sign_up(client, "active@example.com", "the-weekly")
    submit_form(client, link_in(mailbox.last(to="active@example.com"), "/confirm/"))
    active = _answer(sign_up(client, "active@example.com", "the-weekly"))
    gone_path = link_in(mailbox.last(to="active@example.com"), "/unsubscribe/")
    submit_form(client, gone_path)
    unsubscribed = _answer(sign_up(client, "active@example.com", "the-weekly"))

    assert new[0] == 200 and THANKS in new[1]
    assert new == pending == active == unsubscribed


def test_json_signup_gets_the_same_answer_as_json(app, client):
    response = sign_up(
        client, "json@example.com", "ai-digest", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "message": THANKS}
    assert statuses(app, "json@example.com") == {"ai-digest": "pending"}


def test_a_filled_honeypot_gets_the_usual_answer_and_stores_nothing(app, client, mailbox):
    before = snapshot(app)
    response = sign_up(client, "bot@example.com", "the-weekly", website="http://spam.example")
    assert response.status_code == 200 and THANKS in response.get_data(as_text=True)
    assert snapshot(app) == before
    assert mailbox.messages() == []


def test_a_form_filled_too_fast_gets_the_usual_answer_and_sends_no_mail(app, client, mailbox):
    app.config["SIGNUP_MIN_SECONDS"] = 30
    before = snapshot(app)
    response = sign_up(client, "quick@example.com", "the-weekly")
    assert response.status_code == 200 and THANKS in response.get_data(as_text=True)
    assert snapshot(app) == before
    assert mailbox.messages() == []


def test_the_signup_form_works_without_a_session_cookie(app, client):
    """The embed box posts from another site's iframe, where our cookie is not sent."""
    page = client.get("/").get_data(as_text=True)
    client.delete_cookie("session")
    fresh = app.test_client()
    from tests.support.reader import csrf_token_in

    response = fresh.post(
        "/subscribe",
        data={
            "csrf_token": csrf_token_in(page),
            "email": "iframe@example.com",
            "newsletters": "the-weekly",
        },
    )
    assert response.status_code == 200
    assert statuses(app, "iframe@example.com") == {"the-weekly": "pending"}


def test_a_fast_typo_is_still_pointed_out(app, client, mailbox):
    """A person with autofill can be quick; their mistakes still deserve an answer."""
    app.config["SIGNUP_MIN_SECONDS"] = 30
    response = sign_up(client, "not-an-address", "the-weekly")
    assert response.status_code == 400
    assert "Please enter a valid email address" in response.get_data(as_text=True)
