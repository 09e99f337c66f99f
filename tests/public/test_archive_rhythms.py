"""A newsletter sent in several rhythms: its archive names each issue's rhythm, shows one
rhythm's issues on request, and has a feed per rhythm whose plain one is the first's."""

import re
from xml.etree import ElementTree

import pytest

from tests.support.archive import SITE, add_past_issues, send_issue

ATOM = "{http://www.w3.org/2005/Atom}"
ROW = re.compile(
    r'class="issue-row__date">(?:<span class="issue-row__rhythm">([^<]+)</span> · )?<time'
    r'[^>]*>[^<]+</time></p>\s*<h3 class="issue-row__title"><a href="[^"]+">([^<]+)</a>'
)


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


@pytest.fixture
def paper(app, runner, smtp_server):
    """The Paper, weekly first and daily too: its weekly issue really sent, with two daily
    issues and one more weekly issue before it."""
    sent = send_issue(
        app, runner, smtp_server, "the-paper", "The Paper", frequencies="weekly,daily"
    )
    add_past_issues(app, sent.slug, 1)  # a week before the one sent
    add_past_issues(app, sent.slug, 2, frequency="daily")  # two and three weeks before it
    return sent


def _rows(client, path: str, **query) -> list[tuple[str, str]]:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.status_code
    return ROW.findall(response.get_data(as_text=True))


def _entries(client, path: str, **query) -> tuple[ElementTree.Element, list[str]]:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.status_code
    feed = ElementTree.fromstring(response.get_data())
    return feed, [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")]


def test_each_issue_in_the_archive_says_its_rhythm_and_a_reader_can_pick_one(client, paper):
    everything = _rows(client, "/archive/the-paper")
    assert everything == [
        ("Weekly", paper.subject),
        ("Weekly", "Week 1"),
        ("Daily", "Daily 1"),
        ("Daily", "Daily 2"),
    ]
    page = client.get("/archive/the-paper").get_data(as_text=True)
    assert 'href="/archive/the-paper?frequency=daily">Daily</a>' in page
    assert '<a href="/archive/the-paper" aria-current="page">All rhythms</a>' in page

    assert _rows(client, "/archive/the-paper", frequency="daily") == [
        ("Daily", "Daily 1"),
        ("Daily", "Daily 2"),
    ]
    daily = client.get("/archive/the-paper?frequency=daily").get_data(as_text=True)
    assert 'href="/archive/the-paper?frequency=daily" aria-current="page">Daily</a>' in daily
    assert f'<link rel="canonical" href="{SITE}/archive/the-paper?frequency=daily">' in daily
    assert f'href="{SITE}/archive/the-paper/feed.xml?frequency=daily"' in daily
    assert [title for _, title in _rows(client, "/archive/the-paper", frequency="weekly")] == [
        paper.subject,
        "Week 1",
    ]


def test_the_rhythms_are_named_in_the_readers_language(client, paper):
    rows = _rows(client, "/archive/the-paper", lang="es")
    assert [rhythm for rhythm, _ in rows] == ["Semanal", "Semanal", "Diario", "Diario"]
    assert "Todas las frecuencias" in client.get("/archive/the-paper?lang=es").get_data(
        as_text=True
    )
    rows = _rows(client, "/archive/the-paper", lang="de", frequency="daily")
    assert [rhythm for rhythm, _ in rows] == ["Täglich", "Täglich"]


@pytest.mark.parametrize("value", ["hourly", "Daily", "daily ", "1", "daily,weekly"])
def test_an_unknown_rhythm_is_a_clear_400(client, paper, value):
    for path in ("/archive/the-paper", "/archive/the-paper/feed.xml"):
        response = client.get(path, query_string={"frequency": value})
        assert response.status_code == 400, (path, value, response.status_code)


def test_the_plain_feed_carries_the_first_rhythm_and_each_rhythm_has_its_own(client, paper):
    feed, titles = _entries(client, "/archive/the-paper/feed.xml")
    assert titles == [paper.subject, "Week 1"]  # no story twice in one feed reader
    assert feed.findtext(f"{ATOM}title") == "The Paper"

    daily, titles = _entries(client, "/archive/the-paper/feed.xml", frequency="daily")
    assert titles == ["Daily 1", "Daily 2"]
    assert daily.findtext(f"{ATOM}title") == "The Paper · Daily"
    assert daily.findtext(f"{ATOM}id") != feed.findtext(f"{ATOM}id")
    assert daily.findtext(f"{ATOM}id").startswith("urn:uuid:")
    self_link = daily.find(f"{ATOM}link[@rel='self']").get("href")
    assert self_link == f"{SITE}/archive/the-paper/feed.xml?frequency=daily"

    weekly, titles = _entries(client, "/archive/the-paper/feed.xml", frequency="weekly")
    assert titles == [paper.subject, "Week 1"]
    assert weekly.findtext(f"{ATOM}id") == feed.findtext(f"{ATOM}id")


def test_a_newsletter_with_one_rhythm_names_none(app, client, paper, runner, smtp_server):
    send_issue(app, runner, smtp_server)  # The Weekly: weekly only
    add_past_issues(app, "the-weekly", 1)
    rows = _rows(client, "/archive/the-weekly")
    assert [rhythm for rhythm, _ in rows] == ["", ""]
    page = client.get("/archive/the-weekly").get_data(as_text=True)
    assert "All rhythms" not in page
    _, titles = _entries(client, "/archive/the-weekly/feed.xml")
    assert len(titles) == 2


def test_an_issue_page_names_its_rhythm_when_the_archive_has_several(
    app, client, paper, runner, smtp_server
):
    page = client.get(f"/archive/the-paper/{paper.issue_uuid}?lang=es").get_data(as_text=True)
    assert re.search(r'<span class="issue__rhythm">Semanal</span> · Enviado', page), page
    single = send_issue(app, runner, smtp_server)  # The Weekly: weekly only
    page = client.get(f"/archive/the-weekly/{single.issue_uuid}").get_data(as_text=True)
    assert "issue__rhythm" not in page
