"""The issue editor's rules: words, story choice and order, stories by URL, previews, tests."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletters.errors import InvalidInput, IssueStateConflict
from newsletters.extensions import db
from newsletters.models import (
    Delivery,
    Issue,
    IssueStatus,
    Newsletter,
    OutboxMessage,
    Story,
    utcnow,
)
from newsletters.services.issues import compose, control, editing, lineup, previews, runs
from tests.support.mail import html_of, text_of
from tests.support.readers import add_readers, add_stories
from tests.support.web import answer, serving

ARTICLE = b"""<!doctype html><html><head>
<title>Fallback title | The Paper</title>
<meta property="og:title" content="Bridges &amp; the river: a long read">
<meta property="og:description" content="How the city   crossed its river, in five bridges.">
<meta property="og:image" content="https://img.example.com/bridge.jpg">
<meta name="description" content="not this one">
</head><body><h1>Bridges</h1><meta property="og:title" content="not in the head"></body></html>"""


@pytest.fixture
def settings(settings):
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the article pages below are on loopback
    return settings


def _open(app) -> str:
    with app.app_context():
        return str(editing.open_next_issue("the-weekly", utcnow()).uuid)


def _stories(app, public_id: str) -> list[tuple[str, bool]]:
    """(title, included) in the issue's order, as the editor shows them."""
    with app.app_context():
        issue = db.session.scalar(select(Issue).where(Issue.uuid == _uuid(public_id)))
        found = lineup.candidates(issue.newsletter, issue, utcnow())
        return [(c.story.title, c.included) for c in found]


def _uuid(public_id: str):
    from uuid import UUID

    return UUID(public_id)


def _story_uuids(app, public_id: str) -> list[str]:
    with app.app_context():
        issue = db.session.scalar(select(Issue).where(Issue.uuid == _uuid(public_id)))
        return [str(c.story.uuid) for c in lineup.candidates(issue.newsletter, issue, utcnow())]


def test_the_next_issue_opens_as_a_draft_once_with_the_periods_stories_newest_first(app, weekly):
    first, again = _open(app), _open(app)
    assert first == again
    assert _stories(app, first) == [
        ("Story number 0", True),
        ("Story number 1", True),
        ("Story number 2", True),
    ]


def test_saved_words_order_and_exclusions_are_what_the_issue_renders(app, weekly):
    public_id = _open(app)
    s0, s1, s2 = _story_uuids(app, public_id)
    draft = editing.Draft(
        subject="{name}: bridges special",
        preheader="  Five bridges,\n one river  ",
        intro="This week is about bridges.",
        order=[s2, s0, s1],
        included={s2, s1},
    )
    with app.app_context():
        editing.save_draft(public_id, draft, utcnow())
    assert _stories(app, public_id) == [
        ("Story number 2", True),
        ("Story number 0", False),
        ("Story number 1", True),
    ]
    with app.app_context():
        issue = previews.preview_next("the-weekly", utcnow())[0]
        email = previews.render_preview(issue, utcnow())
        assert issue.preheader == "Five bridges, one river"
    assert email.subject == "The Weekly: bridges special"
    assert "Five bridges, one river" in email.html
    assert "This week is about bridges." in email.text
    text = email.text
    assert text.index("Story number 2") < text.index("Story number 1")
    assert "Story number 0" not in text and "Story number 0" not in email.html


def test_a_refused_save_changes_nothing(app, weekly):
    public_id = _open(app)
    s0, s1, s2 = _story_uuids(app, public_id)
    with app.app_context():
        editing.save_draft(public_id, editing.Draft(intro="Kept", order=[s0, s1, s2]), utcnow())
    for bad in (
        editing.Draft(subject="{name.__class__}", intro="Lost", order=[s2, s1, s0]),
        editing.Draft(preheader="x" * 251, intro="Lost", order=[s2, s1, s0]),
        editing.Draft(intro="y" * 5001, order=[s2, s1, s0]),
        editing.Draft(intro="bell \x07", order=[s2, s1, s0]),
    ):
        with app.app_context(), pytest.raises(InvalidInput):
            editing.save_draft(public_id, bad, utcnow())
    with app.app_context():
        issue = db.session.scalar(select(Issue))
        assert issue.intro_override == "Kept" and issue.subject_override is None
    assert [t for t, _ in _stories(app, public_id)] == [f"Story number {n}" for n in range(3)]


def test_stories_that_arrive_after_the_editor_arranged_the_issue_follow_the_arranged_ones(
    app, weekly
):
    public_id = _open(app)
    s0, s1, s2 = _story_uuids(app, public_id)
    with app.app_context():
        editing.save_draft(
            public_id, editing.Draft(order=[s2, s1, s0], included={s2, s0}), utcnow()
        )
    add_stories(app, weekly, 1)  # a late story in the same period
    titles = _stories(app, public_id)
    assert titles[:3] == [
        ("Story number 2", True),
        ("Story number 1", False),
        ("Story number 0", True),
    ]
    assert titles[3] == ("Story number 0", True)  # the newcomer, included by default


def test_moving_a_story_up_and_down_stops_at_the_ends(app, weekly):
    public_id = _open(app)
    s0, s1, s2 = _story_uuids(app, public_id)
    with app.app_context():
        editing.move_story(public_id, s2, -1, utcnow())
        editing.move_story(public_id, s0, -1, utcnow())  # already first: stays
    assert [t for t, _ in _stories(app, public_id)] == [
        "Story number 0",
        "Story number 2",
        "Story number 1",
    ]
    with app.app_context(), pytest.raises(InvalidInput):
        editing.move_story(public_id, "not-a-story", 1, utcnow())


def test_a_story_added_by_url_reads_its_page_and_goes_last_inside_the_issues_period(app, weekly):
    public_id = _open(app)
    with serving({"/bridges": answer(200, ARTICLE, {"Content-Type": "text/html"})}) as site:
        with app.app_context():
            story = editing.add_story_by_url(public_id, site.url("/bridges"), utcnow())
            assert story.title == "Bridges & the river: a long read"
            assert story.summary == "How the city crossed its river, in five bridges."
            assert story.image_url == "https://img.example.com/bridge.jpg"
            issue = db.session.scalar(select(Issue))
            assert issue.period_start <= story.published_at < issue.period_end
            period, story_id = compose.Period(issue.period_start, issue.period_end), story.id
            period, story_id = compose.Period(issue.period_start, issue.period_end), story.id
            # The same URL again is the same story, not a second one.
            again = editing.add_story_by_url(public_id, site.url("/bridges"), utcnow())
            assert again.id == story.id
            assert db.session.scalar(select(func.count()).select_from(Story)) == 4
    assert _stories(app, public_id)[-1] == ("Bridges & the river: a long read", True)
    # The issue after this one does not carry it again.
    with app.app_context():
        newsletter = db.session.scalar(select(Newsletter))
        after = compose.period_after(newsletter, period)
        following = compose.stories_between(newsletter, after.start, after.end)
        assert story_id not in [s.id for s in following]


def test_a_page_that_cannot_be_read_is_refused_and_nothing_is_filed(app, weekly):
    public_id = _open(app)
    routes = {
        "/gone": answer(404, b"no"),
        "/untitled": answer(200, b"<html><head></head><body>hi</body></html>"),
    }
    with serving(routes) as site:
        for path, words in (("/gone", "404"), ("/untitled", "no title")):
            with app.app_context(), pytest.raises(InvalidInput, match=words):
                editing.add_story_by_url(public_id, site.url(path), utcnow())
        with app.app_context():
            # With a title given, the page is not read at all.
            editing.add_story_by_url(public_id, site.url("/gone"), utcnow(), title="By hand")
        assert len([s for s in site.seen if s.path == "/gone"]) == 1
    refusals = [  # in the editor's words, beside the field they are about
        ("javascript:alert(1)", "x", "url", "not a web page's link"),
        ("  ", "", "url", "Enter the article's link"),
        ("https://x.example/" + "a" * 2048, "", "url", "too long: at most 2,048"),
        ("https://x.example/a", "t" * 301, "title", "at most 300 characters"),
    ]
    for url, title, field, words in refusals:
        with app.app_context(), pytest.raises(InvalidInput, match=words) as refused:
            editing.add_story_by_url(public_id, url, utcnow(), title=title)
        assert refused.value.field == field
    with app.app_context():
        titles = list(db.session.scalars(select(Story.title).where(Story.source == "admin")))
    assert titles == ["By hand"]


def test_a_draft_preview_shows_unsaved_changes_and_writes_nothing(app, weekly):
    public_id = _open(app)
    s0, s1, s2 = _story_uuids(app, public_id)
    with app.app_context():
        issue = db.session.scalar(select(Issue))
        email = previews.render_preview(
            issue, utcnow(), editing.Draft(intro="Only a preview", order=[s1], included=set())
        )
        db.session.commit()
    assert "Only a preview" in email.text and "Story number 1" not in email.text
    with app.app_context():
        issue = db.session.scalar(select(Issue))
        assert issue.intro_override is None and issue.story_order is None


def test_once_sending_has_begun_every_edit_is_refused_and_nothing_changes(app, weekly):
    public_id = _open(app)
    s0, _, _ = _story_uuids(app, public_id)
    with app.app_context():
        control.send_now(public_id, utcnow())
    edits = [
        lambda: editing.save_draft(public_id, editing.Draft(intro="late"), utcnow()),
        lambda: editing.move_story(public_id, s0, 1, utcnow()),
        lambda: editing.add_story_by_url(public_id, "https://x.example/a", utcnow(), title="t"),
    ]
    for edit in edits:
        with app.app_context(), pytest.raises(IssueStateConflict, match="started sending"):
            edit()
    with app.app_context():
        issue = db.session.scalar(select(Issue))
        assert issue.status == IssueStatus.SENDING and issue.intro_override is None
        assert db.session.scalar(select(func.count()).select_from(Story)) == 3


def test_a_test_goes_to_the_given_addresses_only_marked_as_a_test(app, weekly, mailbox):
    add_readers(app, weekly, 3)
    public_id = _open(app)
    with app.app_context():
        sent = previews.send_test(
            public_id, "Ed@Example.com, desk@example.com\ned@example.com", utcnow()
        )
    assert sent == ["ed@example.com", "desk@example.com"]  # one copy each
    messages = mailbox.messages()
    assert sorted(m["To"] for m in messages) == sorted(sent)
    for message in messages:
        assert message["Subject"].startswith("[Test] The Weekly")
        assert "Story number 0" in text_of(message)
        assert "/unsubscribe/" not in html_of(message)  # sample links, nobody's own
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert db.session.scalar(select(Issue.status)) == IssueStatus.DRAFT


def test_test_addresses_are_checked_before_anything_is_sent(app, weekly, mailbox):
    public_id = _open(app)
    many = " ".join(f"a{n}@example.com" for n in range(11))
    for text, words in (("", "at least one"), ("not-an-address", "valid"), (many, "at most 10")):
        with app.app_context(), pytest.raises(InvalidInput, match=words):
            previews.send_test(public_id, text, utcnow())
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_preheader_is_hidden_in_the_email_and_absent_from_the_archive(app, weekly, mailbox):
    add_readers(app, weekly, 1)
    public_id = _open(app)
    with app.app_context():
        editing.save_draft(public_id, editing.Draft(preheader="Inbox line only"), utcnow())
        control.send_now(public_id, utcnow())
        runs.send_issue(db.session.scalar(select(Issue)))
    html = html_of(mailbox.last("reader0@example.com"))
    assert 'class="preheader"' in html and "Inbox line only" in html
    assert "display:none" in html.replace(" ", "")
    page = app.test_client().get(f"/archive/the-weekly/{public_id}")
    assert page.status_code == 200 and "Inbox line only" not in page.get_data(as_text=True)


def test_a_story_deleted_while_the_editor_had_the_page_open_does_not_cost_the_words(app, weekly):
    public_id = _open(app)
    s0, s1, s2 = _story_uuids(app, public_id)
    with app.app_context():
        db.session.delete(db.session.scalar(select(Story).where(Story.title == "Story number 1")))
        db.session.commit()
        editing.save_draft(public_id, editing.Draft(intro="Saved", order=[s2, s1, s0]), utcnow())
        assert db.session.scalar(select(Issue.intro_override)) == "Saved"
    assert [t for t, _ in _stories(app, public_id)] == ["Story number 2", "Story number 0"]


def test_the_period_of_an_added_story_stays_inside_the_issue_even_near_its_end(app, weekly):
    with app.app_context():
        issue = editing.open_next_issue("the-weekly", utcnow())
        late = issue.period_end + timedelta(days=3)
        assert editing._placed_in_period(issue, late) == issue.period_end - timedelta(seconds=1)
        early = issue.period_start - timedelta(days=3)
        assert editing._placed_in_period(issue, early) == issue.period_start
