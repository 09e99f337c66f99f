"""What a reader does in a browser, done through the Flask test client."""

import re
from html.parser import HTMLParser

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Event, Subscriber, Subscription
from newsletters.services import catalogue

CSRF_FIELD = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]+)"')


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    field = CSRF_FIELD.search(html)
    assert field, "no csrf_token field on the page"
    return VALUE.search(field[0])[1]


def add_demo_newsletters(app) -> None:
    """The four demo newsletters: the-weekly, ai-digest, climate-report, morning-briefing."""
    with app.app_context():
        catalogue.add_demo_newsletters()


def sign_up(client, email: str, *slugs: str, headers: dict | None = None, **fields):
    """Fill in the signup form on ``/`` and submit it; ``fields`` override form values."""
    page = client.get("/")
    data = {
        "csrf_token": csrf_token_in(page.get_data(as_text=True)),
        "email": email,
        "newsletters": list(slugs),
        "website": "",
        "source": "form",
        **fields,
    }
    return client.post("/subscribe", data=data, headers=headers)


def submit_form(client, url: str, extra: dict | None = None, **kwargs):
    """GET a page and post its first form back with its CSRF token."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_token_in(page.get_data(as_text=True)), **(extra or {})}
    return client.post(url, data=data, **kwargs)


def statuses(app, email: str) -> dict[str, str]:
    """Newsletter slug → subscription status for one address."""
    with app.app_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
        if subscriber is None:
            return {}
        return {s.newsletter.slug: s.status.value for s in subscriber.subscriptions}


def events(app, email: str) -> list[Event]:
    """The reader's history, oldest first, detached from the session."""
    with app.app_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
        found = list(
            db.session.scalars(
                select(Event).where(Event.subscriber_id == subscriber.id).order_by(Event.id)
            )
        )
        db.session.expunge_all()
        return found


def snapshot(app) -> dict:
    """Every subscriber and subscription, to prove a request changed nothing."""
    with app.app_context():
        return {
            "subscribers": sorted(
                (s.email, s.status.value) for s in db.session.scalars(select(Subscriber))
            ),
            "subscriptions": sorted(
                (s.subscriber_id, s.newsletter_id, s.status.value)
                for s in db.session.scalars(select(Subscription))
            ),
            "events": db.session.query(Event).count(),
        }


class _CheckedBoxes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.checked: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name") == "newsletters" and "checked" in attributes:
            self.checked.add(attributes.get("value"))


def checked_boxes(html: str) -> set[str]:
    """The newsletters whose checkbox is ticked on a page, as a browser would see them."""
    parser = _CheckedBoxes()
    parser.feed(html)
    return parser.checked
