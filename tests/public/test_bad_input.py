"""Every kind of bad input gets a clear error and leaves the data as it was."""

import html

import pytest

from newsletters.services import newsletter_settings
from tests.support.mail import link_in
from tests.support.reader import (
    add_demo_newsletters,
    checked_boxes,
    csrf_token_in,
    sign_up,
    snapshot,
    statuses,
    submit_form,
)
from tests.support.tokens import tamper

READER = "reader@example.com"


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)
    with app.app_context():
        newsletter_settings.add_newsletter("insiders", "Insiders", public=False)


@pytest.fixture
def links(app, client, mailbox):
    """A confirmed reader's real links: confirm, preferences, unsubscribe."""
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    sign_up(client, READER, "the-weekly")
    confirm = link_in(mailbox.last(to=READER), "/confirm/")
    submit_form(client, confirm)
    welcome = mailbox.last(to=READER)
    sign_up(client, READER, "ai-digest")  # a pending one, so confirm has work to do
    return {
        "confirm": link_in(mailbox.last(to=READER), "/confirm/"),
        "preferences": link_in(welcome, "/preferences/"),
        "unsubscribe": link_in(welcome, "/unsubscribe/"),
    }


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("email", "slugs", "message"),
    [
        ("not-an-address", ["the-weekly"], "Please enter a valid email address"),
        ("", ["the-weekly"], "Please enter a valid email address"),
        ("x" * 300 + "@example.com", ["the-weekly"], "Please enter a valid email address"),
        (READER, [], "Choose at least one newsletter."),
        (READER, ["no-such-newsletter"], "no longer available"),
        (READER, ["insiders"], "no longer available"),
        (READER, ["the-weekly"] + [f"n{i}" for i in range(150)], "more newsletters than"),
    ],
)
def test_bad_signups_are_refused_clearly_and_keep_what_was_typed(
    app, client, mailbox, email, slugs, message
):
    before = snapshot(app)
    response = sign_up(client, email, *slugs)
    assert response.status_code == 400
    page = _text(response)
    assert message in page
    assert 'role="alert"' in page
    if "the-weekly" in slugs:
        assert checked_boxes(page) == {"the-weekly"}
    assert snapshot(app) == before
    assert mailbox.messages() == []


def test_bad_signups_get_json_errors_when_json_was_asked_for(client):
    response = sign_up(client, "nope", "the-weekly", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_email"
    assert response.get_json()["error"]["message"]


@pytest.mark.parametrize("token", [None, "", "forged.token.value"])
def test_signup_without_a_valid_form_token_is_refused(app, client, mailbox, token):
    before = snapshot(app)
    data = {"email": READER, "newsletters": "the-weekly"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/subscribe", data=data)
    assert response.status_code == 400
    assert "This form has expired" in _text(response)
    assert snapshot(app) == before
    assert mailbox.messages() == []


def test_an_oversized_request_is_refused(app, client):
    before = snapshot(app)
    response = client.post(
        "/subscribe", data={"email": READER, "newsletters": "the-weekly", "pad": "x" * 2_000_000}
    )
    assert response.status_code == 413
    assert "Too much data" in _text(response)
    assert snapshot(app) == before


@pytest.mark.parametrize("name", ["confirm", "preferences", "unsubscribe"])
def test_posts_without_a_csrf_token_change_nothing(app, client, links, name):
    before = snapshot(app)
    response = client.post(links[name], data={"newsletters": [], "action": "unsubscribe_all"})
    assert response.status_code == 400
    assert "This form has expired" in _text(response)
    assert snapshot(app) == before


def test_lost_link_without_a_csrf_token_is_refused(app, client, mailbox):
    response = client.post("/preferences", data={"email": READER})
    assert response.status_code == 400
    assert mailbox.messages() == []


def test_lost_link_with_a_bad_address_says_so(client):
    response = submit_form(client, "/preferences", {"email": "nope"})
    assert response.status_code == 400
    assert "Please enter a valid email address" in _text(response)


def _tamper(path: str) -> str:
    head, token = path.rsplit("/", 1)
    return f"{head}/{tamper(token)}"


@pytest.mark.parametrize("name", ["confirm", "preferences", "unsubscribe"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_links_get_a_page_offering_a_new_link(app, client, links, name, method):
    before = snapshot(app)
    page = client.get("/preferences").get_data(as_text=True)  # a session-bound CSRF token
    data = {"csrf_token": csrf_token_in(page), "List-Unsubscribe": "One-Click"}
    response = getattr(client, method)(_tamper(links[name]), data=data)
    assert response.status_code == 400
    text = _text(response)
    assert "This link doesn't work" in text
    assert "Email me a new link" in text and 'action="/preferences"' in text
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("token_of", "used_on"),
    [
        ("preferences", "/confirm/"),
        ("preferences", "/unsubscribe/"),
        ("unsubscribe", "/preferences/"),
        ("confirm", "/preferences/"),
    ],
)
def test_tokens_for_another_purpose_are_refused(app, client, links, token_of, used_on):
    before = snapshot(app)
    token = links[token_of].rsplit("/", 1)[1]
    assert client.get(used_on + token).status_code == 400
    assert client.post(used_on + token, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert snapshot(app) == before


def test_an_expired_confirm_link_says_it_expired_and_changes_nothing(app, client, links):
    app.config["CONFIRM_TOKEN_MAX_AGE"] = -1
    before = snapshot(app)
    response = client.get(links["confirm"])
    assert response.status_code == 400
    assert "This link has expired." in _text(response)
    assert snapshot(app) == before
    assert statuses(app, READER)["ai-digest"] == "pending"


def test_unknown_pages_get_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in _text(response)
