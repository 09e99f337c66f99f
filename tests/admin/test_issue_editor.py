"""The issue editor: an issue's words, stories and order saved from one form, a preview that
shows unsaved changes and writes nothing, stories added by their link, and tests mailed to
a few addresses. A refused save keeps what the editor typed."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.dev.routes import EMAIL_PREVIEW_CSP
from newsletters.extensions import db
from newsletters.models import Issue, Story, utcnow
from newsletters.services.issues import control
from tests.support.issue_desk import (
    TITLES,
    audit_actions,
    editor_form,
    issue_row,
    open_issue,
    post,
    story_ids,
)
from tests.support.web import answer, serving

FIRST, SECOND, THIRD = TITLES
ARTICLE = b"""<!doctype html><html><head><title>Ignored when og:title is there</title>
<meta property="og:title" content="Tram line 4 reopens after two years">
<meta property="og:description" content="The works are done, a month early &amp; on budget.">
<meta property="og:image" content="https://images.example.com/tram.jpg">
</head><body><p>The article.</p></body></html>"""


@pytest.fixture
def settings(settings):
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the article server is on loopback
    settings["TIMEZONE"] = "Europe/Berlin"
    return settings


def _body(response) -> str:
    return response.get_data(as_text=True)


def _order(text: str, *titles: str) -> list[str]:
    """The titles found in ``text`` (an editor page's story list), in the order they appear."""
    if '<ol class="story-list' in text:
        text = text.split('<ol class="story-list', 1)[1].split("</ol>", 1)[0]
    found = [(text.find(html.escape(t, quote=False)), t) for t in titles]
    return [t for at, t in sorted(found) if at >= 0]


def test_the_next_issue_opens_from_the_issues_list_in_its_editor(app, owner, readers):
    listing = _body(owner.get("/admin/issues"))
    assert 'action="/admin/issues/next/the-weekly"' in listing
    assert "Edit the next issue" in listing
    key = open_issue(owner)
    assert open_issue(owner) == key  # the same draft, not a second one
    page = owner.get(f"/admin/issues/{key}")
    text = _body(page)
    assert page.status_code == 200
    assert "<h1>The Weekly" in text and "Draft" in text and "3 readers" in text
    assert re.search(r"\d+ – \d+ \w+ 20\d\d", text)  # the period, like 21 – 27 November 2026
    assert _order(text, THIRD, FIRST, SECOND) == [FIRST, SECOND, THIRD]
    assert 'placeholder="{name}: {date}"' in text  # the newsletter's subject template
    assert "The line inboxes show after the subject" in text
    assert f'href="/admin/issues/{key}"' in _body(owner.get("/admin/issues"))
    assert audit_actions(app)[:1] == [("issue.open", "owner@publisher.example")]


def test_saving_changes_the_words_order_and_choice_and_the_preview_shows_them(app, owner, key):
    ids = story_ids(app, key)
    form = editor_form(owner, key)
    form.update(
        subject="Floods, a bridge and {name}",
        preheader="Plus: the bakery that never sleeps",
        intro="Good morning.\nA wet week.",
        story=[ids[THIRD], ids[SECOND], ids[FIRST]],
        include=[ids[THIRD], ids[FIRST]],
    )
    saved = owner.post(f"/admin/issues/{key}", data=form)
    assert saved.status_code == 302 and saved.location.endswith(f"/admin/issues/{key}")
    assert "Saved." in _body(owner.get(saved.location))
    row = issue_row(app, key)
    assert (row["subject"], row["preheader"]) == (form["subject"], form["preheader"])
    assert row["intro"] == "Good morning.\nA wet week."

    preview = owner.get(f"/admin/issues/{key}/preview")
    assert preview.headers["Content-Security-Policy"] == EMAIL_PREVIEW_CSP
    shown = _body(preview)
    assert "Floods, a bridge and The Weekly" in shown
    assert "Plus: the bakery that never sleeps" in shown and "A wet week." in shown
    assert _order(shown, FIRST, SECOND, THIRD) == [THIRD, FIRST]
    text = _body(owner.get(f"/admin/issues/{key}/preview?format=text"))
    assert _order(text, FIRST, SECOND, THIRD) == [THIRD, FIRST]
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert _order(page, FIRST, SECOND, THIRD) == [THIRD, SECOND, FIRST]  # excluded, in place
    assert f'name="include" value="{ids[SECOND]}" checked' not in page
    assert ("issue.save", "owner@publisher.example") in audit_actions(app)


def test_the_preview_of_unsaved_changes_writes_nothing(app, owner, key):
    ids = story_ids(app, key)
    before = issue_row(app, key)
    form = editor_form(owner, key)
    form.update(subject="Not saved yet", include=[ids[SECOND], ids[THIRD]])
    preview = owner.post(f"/admin/issues/{key}/preview", data=form)
    assert preview.status_code == 200
    assert preview.headers["Content-Security-Policy"] == EMAIL_PREVIEW_CSP
    assert "Not saved yet" in _body(preview) and html.escape(FIRST) not in _body(preview)
    text = owner.post(f"/admin/issues/{key}/preview", data={**form, "format": "text"})
    assert "<pre>" in _body(text) and "Not saved yet" in _body(text)
    refused = owner.post(f"/admin/issues/{key}/preview", data={**form, "subject": "{oops"})
    assert refused.status_code == 400 and "unmatched" in _body(refused)
    assert issue_row(app, key) == before
    assert "Not saved yet" not in _body(owner.get(f"/admin/issues/{key}/preview"))
    assert [a for a, _ in audit_actions(app)] == ["issue.open"]


def test_move_up_and_down_save_the_form_and_move_the_story(app, owner, key):
    ids = story_ids(app, key)
    form = editor_form(owner, key)
    moved = owner.post(
        f"/admin/issues/{key}", data={**form, "subject": "Typed first", "move": f"up:{ids[THIRD]}"}
    )
    assert moved.status_code == 302 and moved.location.endswith(f"#story-{ids[THIRD]}")
    assert f"moved “{THIRD}” up" in _body(owner.get(moved.location))
    assert issue_row(app, key)["subject"] == "Typed first"
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert _order(page, FIRST, SECOND, THIRD) == [FIRST, THIRD, SECOND]
    form = editor_form(owner, key)
    owner.post(f"/admin/issues/{key}", data={**form, "move": f"down:{ids[FIRST]}"})
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert _order(page, FIRST, SECOND, THIRD) == [THIRD, FIRST, SECOND]
    assert _order(_body(owner.get(f"/admin/issues/{key}/preview")), *TITLES) == [
        THIRD,
        FIRST,
        SECOND,
    ]


def test_a_refused_save_keeps_what_the_editor_typed(app, owner, key):
    ids = story_ids(app, key)
    before = issue_row(app, key)
    form = editor_form(owner, key)
    form.update(
        subject="{name} says {hello",
        intro="Three paragraphs I wrote\nand do not want to lose.",
        story=[ids[SECOND], ids[FIRST], ids[THIRD]],
        include=[ids[SECOND], ids[THIRD]],
    )
    refused = owner.post(f"/admin/issues/{key}", data=form)
    page = _body(refused)
    assert refused.status_code == 400
    assert 'value="{name} says {hello"' in page and "and do not want to lose." in page
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="subject"', page)
    assert "The subject has an unmatched { or }." in page and "Nothing was saved." in page
    assert _order(page, *TITLES) == [SECOND, FIRST, THIRD]  # as posted
    assert f'value="{ids[FIRST]}" checked' not in page
    assert issue_row(app, key) == before
    long = owner.post(f"/admin/issues/{key}", data={**form, "subject": "", "preheader": "x" * 251})
    assert long.status_code == 400 and "at most 250 characters" in _body(long)
    assert issue_row(app, key) == before


def test_a_story_is_added_by_its_link_from_the_page_it_points_to(app, owner, key):
    with serving({"/article": answer(200, ARTICLE, {"Content-Type": "text/html"})}) as site:
        added = post(owner, f"/admin/issues/{key}/stories", url=site.url("/article"))
    assert added.status_code == 302, _body(added)
    with app.app_context():
        story = db.session.scalar(select(Story).where(Story.url == site.url("/article")))
        assert story.title == "Tram line 4 reopens after two years"
        assert story.summary == "The works are done, a month early & on budget."
        assert story.image_url == "https://images.example.com/tram.jpg"
    assert added.location.endswith(f"#story-{story.uuid}")
    page = _body(owner.get(added.location))
    assert "Added “Tram line 4 reopens after two years”" in page and "filed by hand" in page
    preview = _body(owner.get(f"/admin/issues/{key}/preview"))
    assert _order(preview, FIRST, "Tram line 4 reopens") == [FIRST, "Tram line 4 reopens"]
    assert 'src="https://images.example.com/tram.jpg"' not in preview  # only the lead has one


def test_a_link_that_cannot_be_read_is_refused_and_nothing_is_written(app, owner, key):
    before = issue_row(app, key)
    with serving({"/untitled": answer(200, b"<html><body>hi</body></html>")}) as site:
        untitled = post(owner, f"/admin/issues/{key}/stories", url=site.url("/untitled"))
        gone = site.url("/gone")
    unreachable = post(owner, f"/admin/issues/{key}/stories", url=gone)  # the server has stopped
    assert untitled.status_code == 400 and "has no title" in _body(untitled)
    assert unreachable.status_code == 400
    assert "We could not read that page" in _body(unreachable)
    assert f'value="{gone}"' in _body(unreachable)  # the link stays in its field
    empty = post(owner, f"/admin/issues/{key}/stories", url="")
    assert empty.status_code == 400
    assert issue_row(app, key) == before


def test_a_test_goes_to_exactly_the_addresses_given_and_to_no_reader(app, owner, key, mailbox):
    readers = mailbox.messages()
    sent = post(
        owner, f"/admin/issues/{key}/test", addresses="desk@publisher.example,\nme@x.example"
    )
    assert sent.status_code == 302 and sent.location.endswith("#test")
    page = _body(owner.get(sent.location))
    assert "A test is on its way to desk@publisher.example, me@x.example." in page
    tests = mailbox.messages()[len(readers) :]
    assert sorted(m["To"] for m in tests) == ["desk@publisher.example", "me@x.example"]
    assert all(m["Subject"].startswith("[Test] The Weekly") for m in tests)
    refused = post(owner, f"/admin/issues/{key}/test", addresses="desk@publisher.example, nope")
    assert refused.status_code == 400 and "nope" not in mailbox.messages()[-1]["To"]
    assert len(mailbox.messages()) == len(readers) + 2
    assert ("issue.test", "owner@publisher.example") in audit_actions(app)


def test_a_test_from_the_form_carries_the_unsaved_words(app, owner, key, mailbox):
    form = editor_form(owner, key)
    form.update(subject="Fresh from the form", addresses="desk@publisher.example")
    assert owner.post(f"/admin/issues/{key}/test", data=form).status_code == 302
    assert mailbox.last(to="desk@publisher.example")["Subject"] == "[Test] Fresh from the form"
    assert issue_row(app, key)["subject"] == "Fresh from the form"


def test_an_issue_that_has_started_sending_cannot_be_edited(app, owner, key):
    with app.app_context():
        control.send_now(key, utcnow())  # cron, or another editor, started it
    before = issue_row(app, key)
    ids = story_ids(app, key)
    form = editor_form(owner, key)
    assert form["story"] == []  # read-only: no fields to change
    form.update(subject="Too late", intro="My careful words", story=list(ids.values()))
    for path in ("", "/stories", "/schedule", "/send"):
        response = owner.post(f"/admin/issues/{key}{path}", data={**form, "url": "https://a.b/c"})
        page = _body(response)
        assert response.status_code == 409, path
        assert "it can no longer be edited" in page or "This issue is sending" in page
        assert 'name="subject"' not in page
    assert "My careful words" in page  # shown to copy, not lost
    moved = owner.post(f"/admin/issues/{key}", data={**form, "move": f"up:{ids[SECOND]}"})
    assert moved.status_code == 409
    assert issue_row(app, key) == before


def test_an_editor_may_edit_test_and_schedule(app, editor, readers, mailbox):
    key = open_issue(editor)
    form = editor_form(editor, key)
    assert editor.post(f"/admin/issues/{key}", data={**form, "subject": "By the desk"}).status_code
    assert post(editor, f"/admin/issues/{key}/test", addresses="e@x.example").status_code == 302
    day = f"{utcnow() + timedelta(days=10):%Y-%m-%dT08:00}"
    assert post(editor, f"/admin/issues/{key}/schedule", send_at=day).status_code == 302
    assert issue_row(app, key)["subject"] == "By the desk"
    assert {who for _, who in audit_actions(app)} == {"editor@publisher.example"}
    assert [a for a, _ in audit_actions(app)] == [
        "issue.open",
        "issue.save",
        "issue.test",
        "issue.schedule",
    ]


def test_the_next_issue_of_an_unknown_or_archived_newsletter_is_refused(app, owner, readers):
    assert post(owner, "/admin/issues/next/no-such-letter").status_code == 404
    with app.app_context():
        from newsletters.services import catalogue, newsletter_settings

        newsletter_settings.set_archived(str(catalogue.newsletter_by_slug("the-weekly").uuid), True)
    refused = post(owner, "/admin/issues/next/the-weekly")
    assert refused.status_code == 400 and "archived" in _body(refused)
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Issue)) == 0
