"""Only a POST changes anything (and, with a bearer token, the JSON API's PATCH and
DELETE). A HEAD is a GET, and no other method reaches a change.

Every rule in the URL map is sent every method but POST, each with a form body and a
JSON body that would change something if it were a POST; the database (every table),
the outbox and the development mailbox must stay exactly as they were.
"""

from uuid import uuid4

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber
from newsletters.services.issues import stories
from newsletters.services.mail import devmailbox, links, suppressions
from tests.support.mail import link_in
from tests.support.reader import (
    add_demo_newsletters,
    csrf_token_in,
    sign_up,
    snapshot,
    statuses,
    submit_form,
)
from tests.support.rows import row_counts

READER = "reader@example.com"
NOT_POST = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
# The reader pages' POSTs that need no CSRF token: a signup carries a signed form token of
# its own, and an RFC 8058 one-click unsubscribe comes from a mail provider, with no cookie.
CSRF_EXEMPT = {"public.subscribe", "public.unsubscribe_post"}


@pytest.fixture
def world(app, owner, mailbox):
    """A confirmed reader with a pending newsletter, a story, a suppression, some mail;
    and the values each route's placeholders take."""
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    add_demo_newsletters(app)
    sign_up(owner, READER, "the-weekly")
    submit_form(owner, link_in(mailbox.last(to=READER), "/confirm/"))
    sign_up(owner, READER, "ai-digest")
    with app.app_context():
        reader = db.session.scalar(select(Subscriber).where(Subscriber.email == READER))
        newsletter = db.session.scalar(select(Newsletter).where(Newsletter.slug == "the-weekly"))
        story, _ = stories.add_story(
            "the-weekly", stories.StoryInput(title="A story", url="https://news.example/1")
        )
        suppression = suppressions.add_manual("gone@example.com", "asked by phone")
        return {
            "tokens": {
                "confirm": links.confirm_url(reader).rsplit("/", 1)[1],
                "preferences": links.preferences_url(reader).rsplit("/", 1)[1],
                "unsubscribe": links.unsubscribe_url(reader).rsplit("/", 1)[1],
            },
            "uuids": {
                "subscribers": str(reader.uuid),
                "newsletters": str(newsletter.uuid),
                "stories": str(story.uuid),
            },
            "slug": "the-weekly",
            "suppression_id": suppression.id,
            "key": devmailbox.list_messages()[0].key,
        }


def _url(rule, world) -> str:
    """The rule's path with a real value in each placeholder where there is one."""
    area = rule.rule.strip("/").split("/")
    area = area[1] if area[0] == "admin" and len(area) > 1 else area[0]
    known = {
        "token": world["tokens"].get(area),
        "uuid": world["uuids"].get(area, str(uuid4())),
        "slug": world["slug"],
        "suppression_id": world["suppression_id"],
        "key": world["key"],
    }
    values = {name: known.get(name) or "1" for name in rule.arguments}
    return rule.build(values)[1]


def _changing_bodies(client, world) -> list[dict]:
    """A form and a JSON body with every field any POST here acts on, and a valid token."""
    token = csrf_token_in(client.get("/preferences").get_data(as_text=True))
    fields = {
        "csrf_token": token,
        "email": READER,
        "newsletters": "climate-report",
        "action": "unsubscribe_all",
        "List-Unsubscribe": "One-Click",
        "website": "",
        "source": "form",
        "name": "Renamed",
        "slug": "renamed",
        "send_day": "tue",
        "send_hour": "9",
        "title": "Another story",
        "url": "https://news.example/2",
        "newsletter": "the-weekly",
        "note": "no more",
        "password": "a new long password for someone",
        "role": "owner",
        "address": "test@example.com",
    }
    headers = {"X-CSRFToken": token}
    return [{"data": fields, "headers": headers}, {"json": fields, "headers": headers}]


def _everything(app, mailbox) -> dict:
    """Rows in every table, the readers' standing, and the mail sent."""
    return {"rows": row_counts(app), "readers": snapshot(app), "mail": len(mailbox.messages())}


def test_no_method_but_post_changes_anything_on_any_route(app, owner, mailbox, world):
    bodies = _changing_bodies(owner, world)
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    assert {r.endpoint.split(".")[0] for r in rules} >= {"public", "admin", "api", "dev"}
    before = _everything(app, mailbox)
    for rule in rules:
        url = _url(rule, world)
        for method in NOT_POST:
            for body in bodies:
                response = owner.open(url, method=method, **body)
                assert response.status_code < 500, (method, url, response.status_code)
        assert _everything(app, mailbox) == before, rule.rule


def test_routes_change_state_by_post_alone(app):
    """Besides the safe methods, POST is the only one any route accepts; the JSON API may
    also take PATCH and DELETE, since they need a bearer token that no other site's page
    can send (and the test above sends them without one: nothing changes)."""
    for rule in app.url_map.iter_rules():
        allowed = {"POST", "PATCH", "DELETE"} if rule.rule.startswith("/api/") else {"POST"}
        assert rule.methods - {"GET", "HEAD", "OPTIONS"} <= allowed, rule.rule


def test_a_head_with_a_body_to_the_lost_link_page_sends_no_mail(app, client, mailbox, world):
    before = _everything(app, mailbox)
    response = client.open("/preferences", method="HEAD", data={"email": READER})
    assert response.status_code == 200
    assert _everything(app, mailbox) == before
    # The POST, with its CSRF token, still mails the link.
    assert submit_form(client, "/preferences", {"email": READER}).status_code == 200
    assert _everything(app, mailbox)["mail"] == before["mail"] + 1


def test_a_head_one_click_unsubscribe_leaves_the_reader_subscribed(app, client, mailbox, world):
    url = "/unsubscribe/" + world["tokens"]["unsubscribe"]
    before = statuses(app, READER)
    assert before["the-weekly"] == "active"
    response = client.open(url, method="HEAD", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert statuses(app, READER) == before
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert statuses(app, READER)["the-weekly"] == "unsubscribed"


def test_every_post_needs_a_csrf_token_but_the_few_exempt_on_purpose(app, owner, world):
    before = snapshot(app)
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in CSRF_EXEMPT:
            continue
        if rule.endpoint.startswith(("api.", "webhooks.")):
            continue  # a bearer token or a provider's signature, never a session cookie
        url = _url(rule, world)
        response = owner.post(url, data={"email": READER, "action": "unsubscribe_all"})
        assert response.status_code == 400, (url, response.status_code)
        assert "expired" in response.get_data(as_text=True), url
    assert snapshot(app) == before
