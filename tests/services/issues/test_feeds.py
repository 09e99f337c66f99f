"""flask feeds pull: RSS and Atom over real HTTP, one story per guid, broken feeds reported."""

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Story
from tests.support.readers import add_newsletter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def feed_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=FIXTURES))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def feeds(app, feed_server):
    add_newsletter(app, "the-weekly", "The Weekly", feed_url=f"{feed_server}/weekly.rss")
    add_newsletter(app, "climate-report", "Climate Report", feed_url=f"{feed_server}/climate.atom")
    return feed_server


def _stories(app, slug: str) -> list[Story]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(Story)
                .join(Story.newsletter)
                .where(Story.newsletter.has(slug=slug))
                .order_by(Story.published_at)
            )
        )
        db.session.expunge_all()
        return found


def test_rss_and_atom_entries_become_stories(app, runner, feeds):
    result = runner.invoke(args=["feeds", "pull"])
    assert result.exit_code == 0, result.output
    assert "the-weekly: 2 new of 4 entries, 1 unusable" in result.output
    assert "climate-report: 2 new of 2 entries" in result.output

    bridge, schools = _stories(app, "the-weekly")
    assert bridge.guid == "ledger-1001" and bridge.source == "feed"
    assert bridge.summary == "After three years of debate, the council voted 7–2."
    assert bridge.image_url == "https://cdn.example.com/bridge.jpg"
    assert bridge.published_at.isoformat() == "2026-11-24T09:30:00+00:00"
    assert schools.image_url == "https://cdn.example.com/schools.png"

    heat, glaciers = _stories(app, "climate-report")
    assert glaciers.url == "https://news.example.com/climate/glaciers"
    assert glaciers.summary == "Measurements from 200 glaciers & what they show."
    assert heat.title == "Heat pumps & the winter"


def test_pulling_again_adds_nothing(app, runner, feeds):
    runner.invoke(args=["feeds", "pull"])
    again = runner.invoke(args=["feeds", "pull"])
    assert again.exit_code == 0
    # The fixture server honours If-Modified-Since, so unchanged feeds are not even parsed.
    assert "the-weekly: not modified" in again.output
    with app.app_context():
        db.session.execute(db.update(db.metadata.tables["newsletter"]).values(feed_modified=None))
        db.session.commit()
    third = runner.invoke(args=["feeds", "pull"])
    assert "the-weekly: 0 new of 4 entries" in third.output
    assert len(_stories(app, "the-weekly")) == 2


def test_a_broken_feed_is_reported_and_the_others_still_pulled(app, runner, feeds):
    add_newsletter(app, "ai-digest", "AI Digest", feed_url=f"{feeds}/broken.rss")
    add_newsletter(app, "gone", "Gone", feed_url=f"{feeds}/missing.rss")
    result = runner.invoke(args=["feeds", "pull"])
    assert result.exit_code == 1
    assert "ai-digest: FAILED: not a valid RSS or Atom feed" in result.output
    assert "gone: FAILED: the server answered 404" in result.output
    assert "the-weekly: 2 new" in result.output and "climate-report: 2 new" in result.output
    assert _stories(app, "ai-digest") == []


def test_one_newsletter_can_be_pulled_alone(app, runner, feeds):
    result = runner.invoke(args=["feeds", "pull", "--newsletter", "climate-report"])
    assert "climate-report: 2 new" in result.output and "the-weekly" not in result.output
