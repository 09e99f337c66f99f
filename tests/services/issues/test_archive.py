"""The archive's rules: which newsletters have one, which issues are in it, and the copy of
an issue the web may show."""

from datetime import timedelta
from uuid import UUID, uuid4
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update

from newsletters.errors import InvalidInput, InvalidToken, NotFound
from newsletters.extensions import db
from newsletters.models import Issue, IssueStatus, Newsletter, Story, Subscriber, utcnow
from newsletters.services.core.tokens import Purpose, make_token
from newsletters.services.issues import archive, atom, compose
from newsletters.services.issues.web_copy import web_copy
from newsletters.services.mail.links import (
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    VIEW_PLACEHOLDER,
)
from tests.support.readers import add_newsletter

EMAIL = """<!doctype html><html><head><title>Subject</title><style>p{color:red}</style></head>
<body><div class="wrapper" style="padding:0"><div class="container">
<div class="masthead">The Daily Ledger</div>
<div class="content">
<p class="muted view-in-browser"><a href="__NL_VIEW_URL__">View in browser</a></p>
<div class="issue-head"><p class="kicker">1 – 7 June 2026</p><h1>The Weekly</h1></div>
<p class="intro" style="font-style:italic">A week of <b>weather</b> &amp; water.</p>
<div class="story story--lead" id="main" onclick="alert(1)">
<a href="https://news.example.com/1"><img class="story__image"
 src="https://img.example.com/1.jpg" alt="" width="496" onerror="alert(2)"></a>
<h2 class="story__title"><a href="https://news.example.com/1">Rivers &lt;rise&gt;</a></h2>
<p class="story__summary">Towns prepare.<script>alert(3)</script></p>
<p><a href="javascript:alert(4)">Click</a> <a href="data:text/html,x">Data</a>
<img src="data:image/png;base64,AAAA" alt="pixel">
<img src="http://tracker.example.com/p.gif" alt="t"></p>
<iframe src="https://evil.example.com/"></iframe><form action="/x"><input name="q"></form>
<svg><script>alert(5)</script></svg>
</div>
<h2 class="story__title"><a href="HTTPS://news.example.com/2" title="Second">Bridge vote</a></h2>
</div>
<div class="footer"><p>You're receiving The Weekly.
<a href="__NL_PREFERENCES_URL__">Manage preferences</a>
· <a href="__NL_UNSUBSCRIBE_URL__">Unsubscribe</a></p><p>1 Press Row</p></div>
</div></div></body></html>"""


# --- the copy the web may show -------------------------------------------------------------


def test_the_web_copy_keeps_the_issue_and_nothing_that_could_run_or_track_a_reader():
    copy = web_copy(EMAIL)
    html = copy.html
    assert "Rivers &lt;rise&gt;" in html and "Towns prepare." in html
    assert "A week of <b>weather</b> &amp; water." in html
    assert (
        '<img class="story__image" src="https://img.example.com/1.jpg" alt="" width="496">' in html
    )
    unsafe = "<script alert( onclick onerror style= <style <iframe <form <input <svg javascript:"
    for gone in [*unsafe.split(), "data:", 'id="main"', "<title"]:
        assert gone not in html, gone
    assert 'href="HTTPS://news.example.com/2" title="Second" rel="noopener"' in html
    assert 'src="http://tracker.example.com/p.gif"' not in html  # images over https only


def test_the_web_copy_leaves_out_the_mails_own_parts_and_the_readers_links():
    html = web_copy(EMAIL).html
    for gone in ["The Daily Ledger", "View in browser", "1 – 7 June 2026", "Manage preferences",
                 "Unsubscribe", "1 Press Row", "__NL_"]:  # fmt: skip
        assert gone not in html, gone
    # The page has its own <h1>: the issue's headings move down a level.
    assert "<h1" not in html and '<h3 class="story__title">' in html and "<h2" not in html


def test_a_readers_own_copy_keeps_the_footer_with_their_links_filled_in():
    mine = EMAIL.replace(PREFERENCES_PLACEHOLDER, "https://n.example/preferences/tok1").replace(
        UNSUBSCRIBE_PLACEHOLDER, "https://n.example/unsubscribe/tok2"
    )
    html = web_copy(mine, keep_footer=True).html
    assert 'href="https://n.example/preferences/tok1"' in html
    assert 'href="https://n.example/unsubscribe/tok2"' in html
    assert "View in browser" not in html and "The Daily Ledger" not in html
    # A placeholder never filled in leads nowhere, rather than to a broken address.
    assert 'href="__NL' not in web_copy(EMAIL, keep_footer=True).html


def test_a_picture_that_only_repeats_the_headline_link_is_hidden_from_screen_readers():
    html = web_copy(EMAIL).html
    assert (
        '<a href="https://news.example.com/1" rel="noopener" aria-hidden="true" tabindex="-1">'
        '<img class="story__image"'
    ) in html


def test_the_summary_is_the_intro_or_else_the_headlines():
    assert web_copy(EMAIL).summary == "A week of weather & water."
    without_intro = EMAIL.replace('class="intro"', 'class="lede"')
    assert web_copy(without_intro).summary == "In this issue: Rivers <rise>; Bridge vote"
    long = web_copy(EMAIL.replace("water.", "water. " + "And more words " * 40)).summary
    assert len(long) <= 200 and long.endswith("…")


def test_html_without_the_emails_layout_is_still_copied_safely():
    copy = web_copy('<p>Hello <a href="https://x.example/">there</a><script>x()</script></p>')
    assert copy.html == '<p>Hello <a href="https://x.example/" rel="noopener">there</a></p>'
    assert copy.summary == "Hello there"


# --- which newsletters and issues are in the archive ---------------------------------------


@pytest.fixture
def weekly(app):
    return add_newsletter(app)


def _issue(app, newsletter_id, status=IssueStatus.SENT, weeks_ago=0, html=EMAIL) -> str:
    with app.app_context():
        now = utcnow() - timedelta(weeks=weeks_ago)
        issue = Issue(
            uuid=uuid4(),
            newsletter_id=newsletter_id,
            period_start=now - timedelta(days=7),
            period_end=now,
            status=status,
            subject=f"Issue {weeks_ago}",
            html_body=html,
            text_body="",
            story_ids=[],
            rendered_at=now if status in archive.GONE_OUT else None,
        )
        db.session.add(issue)
        db.session.commit()
        return str(issue.uuid)


def _set(app, **values):
    with app.app_context():
        db.session.execute(update(Newsletter).values(**values))
        db.session.commit()


@pytest.mark.parametrize(
    ("public", "on", "retired", "has_one"),
    [
        (True, True, False, True),
        (True, True, True, True),  # a retired newsletter keeps its archive
        (True, False, False, False),
        (False, True, False, False),  # private: never, whatever the setting says
        (False, False, False, False),
    ],
)
def test_which_newsletters_have_an_archive(app, weekly, public, on, retired, has_one):
    _set(app, is_public=public, web_archive=on, is_archived=retired)
    with app.app_context():
        newsletter = db.session.get(Newsletter, weekly)
        assert archive.has_archive(newsletter) is has_one
        assert [s.newsletter.slug for s in archive.shelves()] == (["the-weekly"] if has_one else [])
        if has_one:
            assert archive.archive_of("the-weekly") == newsletter
        else:
            with pytest.raises(NotFound):
                archive.archive_of("the-weekly")


def test_only_issues_that_went_out_are_in_the_archive(app, weekly):
    sent = _issue(app, weekly, IssueStatus.SENT, weeks_ago=1)
    sending = _issue(app, weekly, IssueStatus.SENDING, weeks_ago=0)
    draft = _issue(app, weekly, IssueStatus.DRAFT, weeks_ago=-1)
    empty = _issue(app, weekly, IssueStatus.EMPTY, weeks_ago=2)
    other = _issue(app, add_newsletter(app, slug="other", name="Other"), weeks_ago=3)
    with app.app_context():
        newsletter = db.session.get(Newsletter, weekly)
        page = archive.issues_page(newsletter, 1)
        # Being sent counts: "View in browser" works while the rest of the list is sent.
        assert [str(i.uuid) for i in page.issues] == [sending, sent]
        assert (page.total, page.pages) == (2, 1)
        assert archive.archived_issue(newsletter, sending).status == IssueStatus.SENDING
        for missing in [draft, empty, other, "not-a-uuid", str(uuid4())]:
            with pytest.raises(NotFound):
                archive.archived_issue(newsletter, missing)
        [shelf] = [s for s in archive.shelves() if s.newsletter.id == weekly]
        assert (str(shelf.latest.uuid), shelf.count) == (sending, 2)
        newer, older = archive.neighbours(archive.archived_issue(newsletter, sent))
        assert (str(newer.uuid), older) == (sending, None)


@pytest.mark.parametrize(
    ("value", "number"), [(None, 1), ("", 1), ("1", 1), ("2", 2), ("999999", 999999)]
)
def test_page_numbers(value, number):
    assert archive.page_number(value) == number


@pytest.mark.parametrize("value", ["0", "-1", "01", "x", "1.0", "1 ", "1000000", "١"])
def test_bad_page_numbers_are_refused(value):
    with pytest.raises(InvalidInput):
        archive.page_number(value)


def test_a_page_past_the_last_is_not_found_but_the_first_always_exists(app, weekly):
    with app.app_context():
        newsletter = db.session.get(Newsletter, weekly)
        assert archive.issues_page(newsletter, 1).issues == []
        with pytest.raises(NotFound):
            archive.issues_page(newsletter, 2)


# --- "View in browser" ---------------------------------------------------------------------


def test_the_view_link_is_the_archive_page_or_each_readers_own(app, weekly):
    uuid = _issue(app, weekly)
    with app.app_context():
        newsletter = db.session.get(Newsletter, weekly)
        issue = db.session.scalar(select(Issue).where(Issue.uuid == UUID(uuid)))
        assert archive.view_link(newsletter, issue) == (
            f"http://newsletters.test/archive/the-weekly/{uuid}"
        )
        newsletter.web_archive = False
        assert archive.view_link(newsletter, issue) == VIEW_PLACEHOLDER
        newsletter.web_archive, newsletter.is_public = True, False
        assert archive.view_link(newsletter, issue) == VIEW_PLACEHOLDER


def test_a_rendered_issue_holds_its_view_link_in_both_parts(app, weekly):
    with app.app_context():
        newsletter = db.session.get(Newsletter, weekly)
        now = utcnow()
        issue = Issue(uuid=uuid4(), newsletter=newsletter, period_start=now, period_end=now)
        story = Story(title="A story", url="https://news.example.com/a", summary="")
        url = archive.view_link(newsletter, issue)
        email = compose.render_issue(newsletter, issue, [story], view_url=url)
        assert f"View in browser: {url}" in email.text
        assert f'href="{url}"' in email.html
        without = compose.render_issue(newsletter, issue, [story])
        assert "View in browser" not in without.text + without.html


def test_the_public_copy_never_links_to_a_page_that_takes_a_readers_token(app, weekly):
    own = (
        '<div class="content"><p><a href="http://newsletters.test/unsubscribe/abc.def.ghi">'
        'Leave</a> <a href="http://newsletters.test/view/abc">Mine</a> '
        '<a href="https://elsewhere.example/unsubscribe/x">Theirs</a></p></div>'
    )
    uuid = _issue(app, weekly, html=own)
    with app.app_context():
        issue = archive.archived_issue(db.session.get(Newsletter, weekly), uuid)
        html = archive.public_copy(issue).html
    signup = "http://newsletters.test/archive/the-weekly#subscribe"
    assert html.count(f'href="{signup}"') == 2
    assert "abc" not in html
    assert 'href="https://elsewhere.example/unsubscribe/x"' in html  # another site's page


# --- the feed ------------------------------------------------------------------------------


def test_the_feed_is_well_formed_even_when_an_issue_holds_characters_xml_cannot(app, weekly):
    _issue(app, weekly, html=EMAIL.replace("Bridge vote", "Bridge\x0b vote\x01"))
    with app.app_context():
        newsletter = db.session.get(Newsletter, weekly)
        newsletter.description = "Weekly\x08 news"
        document = atom.feed_document(newsletter, archive.latest_issues(newsletter))
    feed = ElementTree.fromstring(document)
    ns = "{http://www.w3.org/2005/Atom}"
    assert feed.findtext(f"{ns}subtitle") == "Weekly news"
    assert "Bridge vote" in feed.find(f"{ns}entry/{ns}content").text


# --- a reader's own copy -------------------------------------------------------------------


def test_a_view_link_signed_by_us_but_naming_nothing_readable_is_refused(app, weekly):
    sent = _issue(app, weekly)
    draft = _issue(app, weekly, IssueStatus.DRAFT, weeks_ago=-1)
    with app.app_context():
        reader = Subscriber(uuid=uuid4(), email="reader@example.com")
        db.session.add(reader)
        db.session.commit()
        me = str(reader.uuid)
        assert archive.reader_copy(make_token(Purpose.VIEW, {"s": me, "i": sent})).issue
        for payload in [
            {"s": me, "i": draft},  # never went out
            {"s": me, "i": str(uuid4())},  # no such issue
            {"s": str(uuid4()), "i": sent},  # no such reader (erased)
            {"s": me, "i": "not-a-uuid"},
            {"s": me},
            ["a", "list"],
            "text",
        ]:
            with pytest.raises(InvalidToken):
                archive.reader_copy(make_token(Purpose.VIEW, payload))
