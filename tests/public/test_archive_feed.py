"""A newsletter's archive as an Atom feed (RFC 4287), after a real issue went out by SMTP."""

import re
from xml.etree import ElementTree

import feedparser
import pytest

from tests.support.archive import SITE, add_past_issues, assert_no_reader_token, send_issue

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


@pytest.fixture
def sent(app, runner, smtp_server):
    return send_issue(app, runner, smtp_server)


def test_the_atom_feed_has_what_rfc_4287_requires_and_no_reader_token(app, client, sent):
    add_past_issues(app, sent.slug, 2)
    response = client.get(f"/archive/{sent.slug}/feed.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    body = response.get_data()
    feed = ElementTree.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id").startswith("urn:uuid:")
    assert feed.findtext(f"{ATOM}title") == "The Weekly"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", feed.findtext(f"{ATOM}updated"))
    assert feed.find(f"{ATOM}author/{ATOM}name").text == "The Daily Ledger"
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == f"{SITE}/archive/{sent.slug}/feed.xml"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [sent.subject, "Week 1", "Week 2"]
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert ids[0] == f"urn:uuid:{sent.issue_uuid}" and len(set(ids)) == 3
    for entry in entries:
        assert entry.findtext(f"{ATOM}updated") and entry.findtext(f"{ATOM}published")
        link = entry.find(f"{ATOM}link[@rel='alternate']").get("href")
        assert link.startswith(f"{SITE}/archive/{sent.slug}/")
        content = entry.find(f"{ATOM}content")
        assert content.get("type") == "html"
        assert "Story number 1" in content.text
    assert feed.findtext(f"{ATOM}updated") == entries[0].findtext(f"{ATOM}updated")
    assert_no_reader_token(body.decode(), sent)

    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.entries[0].link == f"{SITE}/archive/{sent.slug}/{sent.issue_uuid}"


def test_the_feed_answers_304_when_nothing_changed(client, sent):
    first = client.get(f"/archive/{sent.slug}/feed.xml")
    again = client.get(
        f"/archive/{sent.slug}/feed.xml", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
