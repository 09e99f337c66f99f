"""Choosing how often at signup: the newsletters page and the embed box show a "How often"
list for each newsletter that offers more than one rhythm, and the rhythm picked there
is the reader's once they confirm. A rhythm a newsletter does not offer is refused, in
the reader's language, and nothing is stored."""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber, Subscription, SubscriptionStatus
from newsletters.services.mail.links import confirm_url
from tests.support.reader import csrf_token_in, submit_form
from tests.support.readers import add_newsletter

READER = "new@example.com"
BOX = "/embed/signup?newsletters=paper,quiet"
PAGES = {"form": "/", "embed": BOX}


@pytest.fixture(autouse=True)
def newsletters(app):
    """'The Paper', weekly by default or daily; 'Quiet', weekly only."""
    add_newsletter(app, "paper", "The Paper", frequencies="weekly,daily")
    add_newsletter(app, "quiet", "Quiet")


def _post(client, source: str, headers: dict | None = None, **fields):
    """Sign up from the newsletters page or the embed box, as a browser without script."""
    page = client.get(PAGES[source], headers=headers).get_data(as_text=True)
    data = {
        "csrf_token": csrf_token_in(page),
        "source": source,
        "newsletters": ["paper"],
        "email": READER,
        **({"shown": "paper,quiet"} if source == "embed" else {}),
        **fields,
    }
    return client.post("/subscribe", data=data, headers=headers)


def _subscription(app, slug: str = "paper") -> Subscription | None:
    with app.app_context():
        found = db.session.scalar(
            select(Subscription)
            .join(Subscriber)
            .join(Newsletter)
            .where(Subscriber.email == READER, Newsletter.slug == slug)
        )
        db.session.expunge_all()
        return found


def _confirm(app, client) -> None:
    """Follow the confirm link the reader was mailed, and press its button."""
    with app.app_context(), app.test_request_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == READER))
        path = urlsplit(confirm_url(subscriber)).path
    assert submit_form(client, path).status_code == 200


def _selects(page: str) -> dict[str, str]:
    """Each "How often" list on a page: field name -> the rhythm shown selected."""
    found = {}
    for name, options in re.findall(
        r'<select[^>]*name="(frequency-[^"]+)"[^>]*>(.*?)</select>', page, re.S
    ):
        found[name] = re.search(r'<option value="([^"]+)" selected>', options)[1]
    return found


@pytest.mark.parametrize("source", PAGES)
def test_how_often_is_offered_outside_the_newsletters_label(client, source):
    page = client.get(PAGES[source]).get_data(as_text=True)
    assert _selects(page) == {"frequency-paper": "weekly"}  # Quiet has nothing to choose
    assert re.search(
        r'<label for="signup-frequency-paper">How often<span class="visually-hidden">: '
        r"The Paper</span></label>",
        page,
    )
    assert _lists_inside_labels(page) == 0


class _ListsInLabels(HTMLParser):
    """Counts the <select> elements a <label> holds: a list inside a checkbox's label
    makes every click on it tick or untick the box."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = self.inside = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "label":
            self.depth += 1
        elif tag == "select" and self.depth:
            self.inside += 1

    def handle_endtag(self, tag) -> None:
        if tag == "label":
            self.depth -= 1


def _lists_inside_labels(page: str) -> int:
    parser = _ListsInLabels()
    parser.feed(page)
    return parser.inside


@pytest.mark.parametrize("source", PAGES)
def test_the_rhythm_picked_at_signup_is_the_readers_once_confirmed(app, client, source):
    assert _post(client, source, **{"frequency-paper": "daily"}).status_code == 200
    pending = _subscription(app)
    assert (pending.status, pending.frequency) == (SubscriptionStatus.PENDING, "daily")
    _confirm(app, client)
    confirmed = _subscription(app)
    assert (confirmed.status, confirmed.frequency) == (SubscriptionStatus.ACTIVE, "daily")
    assert confirmed.next_frequency is None


@pytest.mark.parametrize("source", PAGES)
def test_a_rhythm_not_offered_is_refused_by_name_and_nothing_is_stored(app, client, source):
    response = _post(client, source, **{"frequency-paper": "monthly"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose how often you get The Paper: Weekly or Daily." in page
    assert _selects(page) == {"frequency-paper": "weekly"}  # drawn again, the offered default
    with app.app_context():
        assert db.session.scalar(select(Subscriber).where(Subscriber.email == READER)) is None


@pytest.mark.parametrize("source", PAGES)
def test_a_mistake_keeps_the_rhythm_the_reader_picked(app, client, source):
    response = _post(client, source, email="not-an-address", **{"frequency-paper": "daily"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Please enter a valid email address" in page
    assert _selects(page) == {"frequency-paper": "daily"}
    assert "The%20Paper%20%28Daily%29" in page  # the message to support names it too


def test_the_box_refuses_in_the_readers_language_as_json(app, client):
    headers = {"Accept": "application/json", "Accept-Language": "es"}
    response = _post(client, "embed", headers=headers, **{"frequency-paper": "monthly"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (
        error["message"] == "Elige con qué frecuencia quieres recibir The Paper: Semanal o Diario."
    )
    assert error["field"] == "frequency"
    assert _subscription(app) is None
