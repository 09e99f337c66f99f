"""flask feeds pull: RSS and Atom over real HTTP, one story per guid, broken feeds reported."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsletters.config import DEFAULTS
from newsletters.extensions import db
from newsletters.models import Newsletter, Story
from newsletters.services.core import outbound
from tests.support.admin import action_token
from tests.support.readers import add_newsletter
from tests.support.web import PUBLIC_IN_TESTS, answer, redirect, rss, serving, serving_folder

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"


@pytest.fixture
def settings(settings):
    """These feeds are served from 127.0.0.1, so this module's app may reach private addresses;
    the tests of the address rule switch it back to the default."""
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True
    return settings


@pytest.fixture
def feed_server():
    with serving_folder(FIXTURES) as port:
        yield f"http://127.0.0.1:{port}"


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


@pytest.fixture
def address_rule_on(app):
    """The address rule as production has it: private networks refused (the default)."""
    assert DEFAULTS["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] is False
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = False


def _story_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Story.id)))


def test_a_feed_on_this_machine_is_refused_and_becomes_no_story(app, runner, address_rule_on):
    with serving({"/internal.rss": answer(200, rss("Internal: admin password is hunter2"))}) as srv:
        add_newsletter(app, "the-weekly", "The Weekly", feed_url=srv.url("/internal.rss"))
        result = runner.invoke(args=["feeds", "pull"])
    assert result.exit_code == 1
    assert (
        "the-weekly: FAILED: the address of 127.0.0.1 is not a public internet address"
        in result.output
    )
    assert srv.seen == [] and _story_count(app) == 0


def test_a_feed_whose_name_resolves_to_this_machine_is_refused(
    app, runner, address_rule_on, monkeypatch
):
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    with serving({"/rss": answer(200, rss("Internal"))}) as srv:
        add_newsletter(
            app, "the-weekly", "The Weekly", feed_url=f"http://feeds.example.com:{srv.port}/rss"
        )
        result = runner.invoke(args=["feeds", "pull"])
    assert "FAILED: the address of feeds.example.com is not a public internet address" in (
        result.output
    )
    assert "127.0.0.1" not in result.output
    assert srv.seen == [] and _story_count(app) == 0


def test_a_feed_that_redirects_into_the_private_network_is_refused(
    app, runner, address_rule_on, monkeypatch
):
    rule = outbound.is_public_address
    monkeypatch.setattr(
        outbound, "is_allowed_address", lambda ip: ip == PUBLIC_IN_TESTS or rule(ip)
    )
    with serving({"/internal": answer(200, rss("Internal"))}) as internal:
        routes = {"/feed.rss": redirect(internal.url("/internal"))}
        with serving(routes, host=PUBLIC_IN_TESTS) as public:
            add_newsletter(app, "the-weekly", "The Weekly", feed_url=public.url("/feed.rss"))
            result = runner.invoke(args=["feeds", "pull"])
    assert "FAILED: the address of 127.0.0.1 is not a public internet address" in result.output
    assert len(public.seen) == 1 and internal.seen == [] and _story_count(app) == 0


def test_a_feed_whose_body_names_a_local_file_does_not_read_that_file(app, runner):
    local_feed = str(FIXTURES / "weekly.rss").encode()
    with serving({"/feed.rss": answer(200, local_feed)}) as srv:
        add_newsletter(app, "the-weekly", "The Weekly", feed_url=srv.url("/feed.rss"))
        result = runner.invoke(args=["feeds", "pull"])
    assert "the-weekly: FAILED: not a valid RSS or Atom feed" in result.output
    assert _story_count(app) == 0


def test_a_feed_too_large_is_refused_with_the_limit(app, runner):
    app.config["OUTBOUND_MAX_BYTES"] = 1000
    with serving({"/big.rss": answer(200, rss("x" * 2000))}) as srv:
        add_newsletter(app, "the-weekly", "The Weekly", feed_url=srv.url("/big.rss"))
        result = runner.invoke(args=["feeds", "pull"])
    assert "FAILED: the answer from 127.0.0.1 is over 1,000 bytes" in result.output
    assert _story_count(app) == 0


@pytest.mark.parametrize(
    ("feed_url", "reason"),
    [
        ("file:///etc/passwd", "only http:// and https:// URLs can be fetched"),
        ("gopher://127.0.0.1:70/_x", "only http:// and https:// URLs can be fetched"),
        ("https://editor:secret@news.example.com/feed.rss", "must not carry a user name"),
    ],
)
def test_the_console_refuses_a_feed_url_it_could_never_fetch(app, owner, feed_url, reason):
    form = {"name": "Science Weekly", "slug": "science-weekly", "cadence": "weekly",
            "send_day": "thu", "send_hour": "9", "feed_url": feed_url}  # fmt: skip
    page = owner.post("/admin/newsletters/new", data={"csrf_token": action_token(owner), **form})
    assert page.status_code == 400 and reason in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Newsletter.id))) == 0


def test_the_command_line_refuses_the_same_feed_urls(app, runner):
    for feed_url, reason in [
        ("ftp://news.example.com/feed.rss", "only http:// and https:// URLs can be fetched"),
        ("https://news.example.com/" + "a" * 2100, "at most 2048 characters"),
    ]:
        result = runner.invoke(
            args=["newsletter", "add", "science", "--name", "Science", "--feed-url", feed_url]
        )
        assert result.exit_code == 1 and reason in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Newsletter.id))) == 0
