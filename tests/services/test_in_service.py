"""An archived newsletter takes no readers and gets no mail: at signup, confirmation,
import, feed pulls and sending. One rule (``Newsletter.in_service``), five doors."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update

from newsletters.errors import UnknownNewsletter
from newsletters.extensions import db
from newsletters.models import (
    Delivery,
    Issue,
    IssueStatus,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.issues import compose
from newsletters.services.readers import confirm, imports, signup
from newsletters.services.readers.history import Origin
from tests.support.mail import link_in
from tests.support.readers import add_newsletter, add_readers, add_stories

ORIGIN = Origin(source="form", ip="198.51.100.7", user_agent="Test/1.0")


@pytest.fixture
def settings(settings, smtp_server):
    """Mail goes to a real SMTP server, so a test sees exactly who got what."""
    settings.update(smtp_server.settings())
    return settings


def _archive(app, newsletter_id: int) -> None:
    with app.app_context():
        db.session.execute(
            update(Newsletter).where(Newsletter.id == newsletter_id).values(is_archived=True)
        )
        db.session.commit()


@pytest.fixture
def two(app):
    """The Weekly, in service, and Old News, archived."""
    weekly = add_newsletter(app, "the-weekly", "The Weekly")
    old = add_newsletter(app, "old-news", "Old News")
    _archive(app, old)
    return weekly, old


def test_signup_refuses_an_archived_newsletter_and_stores_nothing(app, client, two):
    with app.app_context(), pytest.raises(UnknownNewsletter):
        signup.subscribe("reader@example.com", ["the-weekly", "old-news"], ORIGIN)
    answer = client.post(
        "/api/v1/subscriptions", json={"email": "reader@example.com", "newsletters": ["old-news"]}
    )
    assert answer.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
    assert "Old News" not in client.get("/").get_data(as_text=True)


def test_confirming_skips_a_newsletter_archived_since_the_signup(app, smtp_server):
    weekly = add_newsletter(app, "the-weekly", "The Weekly")
    old = add_newsletter(app, "old-news", "Old News")
    with app.app_context():
        signup.subscribe("reader@example.com", ["the-weekly", "old-news"], ORIGIN)
    _archive(app, old)
    link = link_in(smtp_server.messages[-1], "/confirm/")
    with app.app_context():
        outcome = confirm.confirm_subscription(link.rsplit("/", 1)[1], ORIGIN)
        assert [n.slug for n in outcome.added] == ["the-weekly"]
        states = dict(
            db.session.execute(select(Subscription.newsletter_id, Subscription.status)).all()
        )
    assert states == {weekly: SubscriptionStatus.ACTIVE, old: SubscriptionStatus.PENDING}


def test_an_import_refuses_rows_for_an_archived_newsletter(app, two):
    csv = b"email,newsletters\nkept@example.com,the-weekly\ngone@example.com,old-news\n"
    with app.app_context():
        job = imports.start_import("list.csv", csv, attested=True, consent_note="events desk")
        job = imports.check(job.id)
        assert (job.valid_rows, job.error_count) == (1, 1)
        assert "gone@example.com,unknown newsletter: old-news" in job.errors_csv
        imports.begin_apply(job)
        imports.apply(job.id)
        emails = set(db.session.scalars(select(Subscriber.email)))
    assert emails == {"kept@example.com"}


class CountingFeed(BaseHTTPRequestHandler):
    """Answers every request with an empty RSS feed, and counts them."""

    requests = 0

    def do_GET(self):  # noqa: N802 - the name http.server calls
        type(self).requests += 1
        body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_feeds_of_archived_newsletters_are_not_fetched(app, runner):
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the feed is served from 127.0.0.1
    server = ThreadingHTTPServer(("127.0.0.1", 0), CountingFeed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/feed.rss"
        add_newsletter(app, "the-weekly", "The Weekly", feed_url=url)
        old = add_newsletter(app, "old-news", "Old News", feed_url=url + "?old")
        _archive(app, old)
        CountingFeed.requests = 0
        result = runner.invoke(args=["feeds", "pull"])
        assert result.exit_code == 0, result.output
        assert CountingFeed.requests == 1
        assert "old-news" not in result.output
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_archived_newsletter_gets_no_issue(app, runner, smtp_server, two):
    weekly, old = two
    for newsletter in (weekly, old):
        add_readers(app, newsletter, 2, prefix=f"n{newsletter}-")
        add_stories(app, newsletter, 2)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "old-news" not in result.output
    assert sorted(smtp_server.recipients) == [
        f"n{weekly}-0@example.com",
        f"n{weekly}-1@example.com",
    ]
    named = runner.invoke(args=["digest", "send", "--newsletter", "old-news", "--force"])
    assert named.exit_code != 0 and "archived" in named.output
    dry = runner.invoke(args=["digest", "send", "--newsletter", "old-news", "--dry-run"])
    assert dry.exit_code != 0 and "archived" in dry.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Issue).where(
            Issue.newsletter_id == old)) == 0  # fmt: skip


def test_an_issue_whose_newsletter_is_archived_mid_send_stops(app, runner, smtp_server):
    weekly = add_newsletter(app, "the-weekly", "The Weekly")
    add_readers(app, weekly, 3)
    add_stories(app, weekly, 1)
    with app.app_context():  # an interrupted run left the issue sending, with nobody sent yet
        compose.prepare_issue(db.session.get(Newsletter, weekly), utcnow())
        assert db.session.scalar(select(Issue.status)) == IssueStatus.SENDING
    _archive(app, weekly)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert smtp_server.recipients == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
