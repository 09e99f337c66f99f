"""How many SQL statements a page costs, as the lists behind it grow.

Used by the test that holds each count constant, and by ``bench/queries.py``,
which prints them.
"""

from contextlib import contextmanager
from urllib.parse import urlsplit

from sqlalchemy import event, insert, select

from newsletters.extensions import db
from newsletters.models import (
    AdminUser,
    Newsletter,
    Subscriber,
    Subscription,
    utcnow,
)
from newsletters.services.mail.links import preferences_url
from tests.support.admin import create_admin, sign_in
from tests.support.readers import active_subscription, add_newsletter, add_readers

PROBE = "probe@example.com"
ADMIN = "counting-admin@example.com"


@contextmanager
def counting(app):
    """Collect every statement the app sends while the block runs."""
    counted: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        counted.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", count)


def grow(app, newsletters: int, readers: int) -> None:
    """Bring the site to ``newsletters`` newsletters and about ``readers`` readers.

    The probe reader subscribes to every newsletter, so the preference page shows
    every one of them in a state of its own; the rest read the first newsletter.
    """
    with app.app_context():
        have = db.session.scalar(select(db.func.count()).select_from(Newsletter))
        present = db.session.scalar(select(db.func.count()).select_from(Subscriber))
    for n in range(have, newsletters):
        add_newsletter(app, slug=f"list-{n}", name=f"List number {n}")
    with app.app_context():
        first = db.session.scalar(select(Newsletter.id).order_by(Newsletter.id))
    if readers > present:
        add_readers(app, first, readers - present, prefix=f"bulk{present}-")
    with app.app_context():
        probe = db.session.scalar(select(Subscriber).where(Subscriber.email == PROBE))
        if probe is None:
            probe = Subscriber(email=PROBE, confirmed_at=utcnow())
            db.session.add(probe)
            db.session.flush()
        subscribed = set(
            db.session.scalars(
                select(Subscription.newsletter_id).where(Subscription.subscriber_id == probe.id)
            )
        )
        now = utcnow()
        missing = [
            active_subscription(probe.id, newsletter_id, now)
            for newsletter_id in db.session.scalars(select(Newsletter.id))
            if newsletter_id not in subscribed
        ]
        if missing:
            db.session.execute(insert(Subscription), missing)
        db.session.commit()


def statements_per_page(app) -> dict[str, int]:
    """The statements each page costs, counted on a second visit (the first warms caches)."""
    with app.app_context():
        probe = db.session.scalar(select(Subscriber).where(Subscriber.email == PROBE))
        with app.test_request_context():
            preferences = urlsplit(preferences_url(probe)).path
        has_admin = db.session.scalar(select(AdminUser.id).where(AdminUser.email == ADMIN))
        db.session.remove()
    if not has_admin:
        create_admin(app, ADMIN)
    reader = app.test_client()
    admin = app.test_client()
    sign_in(admin, ADMIN)
    pages = {
        "newsletters page `/`": (reader, "/"),
        "preference page": (reader, preferences),
        "admin subscriber list": (admin, "/admin/subscribers"),
    }
    counts = {}
    for name, (client, path) in pages.items():
        assert client.get(path).status_code == 200, path
        with counting(app) as counted:
            response = client.get(path)
        assert response.status_code == 200, path
        counts[name] = len(counted)
    return counts
