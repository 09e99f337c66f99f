"""Each admin action does what it says, changes nothing else, and lands in the audit log."""

import json
import re

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import (
    AuditLog,
    Delivery,
    DeliveryStatus,
    Issue,
    Newsletter,
    OutboxMessage,
    Story,
    Subscriber,
    Suppression,
)
from newsletters.services.mail import suppressions
from tests.support.admin import action_token
from tests.support.mail import link_in
from tests.support.reader import add_demo_newsletters, sign_up, statuses, submit_form
from tests.support.readers import add_readers, add_stories

READER = "reader@example.com"


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _audit(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (a.action, a.admin_email)
            for a in db.session.scalars(
                select(AuditLog).where(AuditLog.action != "admin.login").order_by(AuditLog.id)
            )
        ]


def _post(client, path, **data):
    return client.post(path, data={"csrf_token": action_token(client), **data})


def _uuid(app, model, **where):
    with app.app_context():
        return str(db.session.scalar(select(model.uuid).filter_by(**where)))


def _confirmed(app, client, mailbox, *slugs) -> str:
    reader = app.test_client()
    sign_up(reader, READER, *slugs)
    submit_form(reader, link_in(mailbox.last(to=READER), "/confirm/"))
    return _uuid(app, Subscriber, email=READER)


def test_newsletters_are_created_edited_and_archived(app, owner):
    form = {
        "name": "Science Weekly",
        "slug": "science-weekly",
        "description": "Discoveries.",
        "cadence": "weekly",
        "send_day": "thu",
        "send_hour": "9",
        "public": "y",
        "feed_url": "https://news.example.com/science.rss",
        "from_name": "Science desk",
        "subject_template": "{name} · {date}",
        "intro": "Hello scientists.",
    }
    created = _post(owner, "/admin/newsletters/new", **form)
    assert created.status_code == 302
    key = _uuid(app, Newsletter, slug="science-weekly")
    with app.app_context():
        n = db.session.scalar(select(Newsletter).filter_by(slug="science-weekly"))
        assert (n.send_weekday, n.send_hour, n.from_name, n.subject_template, n.intro) == (
            3,
            9,
            "Science desk",
            "{name} · {date}",
            "Hello scientists.",
        )
    taken = _post(owner, "/admin/newsletters/new", **{**form, "name": "Again"})
    assert taken.status_code == 400 and "already exists" in taken.get_data(as_text=True)
    bad = _post(owner, f"/admin/newsletters/{key}/edit", **{**form, "subject_template": "{oops}"})
    assert bad.status_code == 400 and "{name}, {date} and {site}" in bad.get_data(as_text=True)
    _post(owner, f"/admin/newsletters/{key}/edit", **{**form, "slug": "science", "public": ""})
    with app.app_context():
        n = db.session.scalar(select(Newsletter).filter_by(uuid=n.uuid))
        assert (n.slug, n.is_public) == ("science", False)
    _post(owner, f"/admin/newsletters/{key}/archive")
    with app.app_context():
        assert db.session.scalar(select(Newsletter.is_archived).filter_by(slug="science"))
    assert [a for a, _ in _audit(app)] == [
        "newsletter.create",
        "newsletter.update",
        "newsletter.archive",
    ]


def test_subscribers_are_searched_filtered_and_paged(app, owner, mailbox):
    with app.app_context():
        weekly_id = db.session.scalar(select(Newsletter.id).filter_by(slug="the-weekly"))
    add_readers(app, weekly_id, 120, prefix="reader")  # reader0 ... reader119, in id order
    sign_up(app.test_client(), "zed@example.org", "ai-digest")
    first = owner.get("/admin/subscribers").get_data(as_text=True)
    assert first.count('href="/admin/subscribers/') == 50
    after = re.search(r"after=(\d+)", first)[1]
    second = owner.get(f"/admin/subscribers?after={after}").get_data(as_text=True)
    assert ">reader50@example.com<" in second and ">reader49@example.com<" not in second
    back = re.search(r"before=(\d+)", second)[1]
    previous = owner.get(f"/admin/subscribers?before={back}").get_data(as_text=True)
    assert ">reader0@example.com<" in previous and ">reader50@example.com<" not in previous
    found = owner.get("/admin/subscribers?q=reader11").get_data(as_text=True)
    assert found.count('href="/admin/subscribers/') == 11  # reader11, reader110 ... reader119
    only_ai = owner.get("/admin/subscribers?newsletter=ai-digest&status=pending").get_data(
        as_text=True
    )
    assert "zed@example.org" in only_ai and "reader0@" not in only_ai
    nothing = owner.get("/admin/subscribers?newsletter=ai-digest&status=active")
    assert "No reader matches." in nothing.get_data(as_text=True)


def test_a_readers_page_shows_their_newsletters_and_consent_history(app, owner, mailbox):
    key = _confirmed(app, owner, mailbox, "the-weekly", "ai-digest")
    page = owner.get(f"/admin/subscribers/{key}").get_data(as_text=True)
    assert READER in page and "The Weekly" in page and "AI Digest" in page
    assert "signup requested" in page and "confirmed" in page
    assert app.config["CONSENT_TEXT_VERSION"] in page


def test_unsubscribe_from_one_or_all(app, owner, mailbox):
    key = _confirmed(app, owner, mailbox, "the-weekly", "ai-digest")
    _post(owner, f"/admin/subscribers/{key}/unsubscribe", newsletter="the-weekly")
    assert statuses(app, READER) == {"the-weekly": "unsubscribed", "ai-digest": "active"}
    _post(owner, f"/admin/subscribers/{key}/unsubscribe")
    assert statuses(app, READER) == {"the-weekly": "unsubscribed", "ai-digest": "unsubscribed"}
    assert [a for a, _ in _audit(app)] == ["subscriber.unsubscribe"] * 2


def test_resend_confirmation(app, owner, mailbox):
    sign_up(app.test_client(), READER, "the-weekly")
    key = _uuid(app, Subscriber, email=READER)
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    response = _post(owner, f"/admin/subscribers/{key}/resend-confirmation")
    assert "on its way" in owner.get(response.location).get_data(as_text=True)
    confirmations = [m for m in mailbox.messages(to=READER) if "Confirm" in m["Subject"]]
    assert len(confirmations) == 2
    assert _audit(app) == [("subscriber.resend_confirmation", "owner@publisher.example")]


def test_export_one_readers_data_as_json(app, owner, mailbox):
    key = _confirmed(app, owner, mailbox, "the-weekly")
    response = _post(owner, f"/admin/subscribers/{key}/export.json")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data())
    assert data["email"] == READER and data["subscriptions"][0]["newsletter"] == "the-weekly"
    assert {e["what"] for e in data["history"]} >= {"signup_requested", "confirmed"}
    assert _audit(app) == [("subscriber.export", "owner@publisher.example")]


def test_erase_removes_the_reader_kills_their_links_and_suppresses_the_hash(
    app, owner, client, mailbox
):
    key = _confirmed(app, owner, mailbox, "the-weekly")
    preferences = link_in(mailbox.last(to=READER), "/preferences/")
    unsubscribe = link_in(mailbox.last(to=READER), "/unsubscribe/")
    response = _post(owner, f"/admin/subscribers/{key}/erase")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.to_address == READER)
            )
            == 0
        )
        [kept] = db.session.scalars(select(Suppression)).all()
        assert kept.email is None and kept.email_hash == suppressions.address_hash(READER)
        audit_row = db.session.scalar(select(AuditLog).where(AuditLog.action == "subscriber.erase"))
        assert READER not in json.dumps(audit_row.detail) and audit_row.target == key
    reader = app.test_client()
    assert reader.get(preferences).status_code == 400
    assert reader.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 400


def test_an_erased_reader_who_signs_up_again_gets_a_confirmation(app, owner, mailbox):
    key = _confirmed(app, owner, mailbox, "the-weekly")
    _post(owner, f"/admin/subscribers/{key}/erase")
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    before = len(mailbox.messages(to=READER))
    sign_up(app.test_client(), READER, "ai-digest")
    assert len(mailbox.messages(to=READER)) == before + 1
    assert statuses(app, READER) == {"ai-digest": "pending"}


def test_stories_are_added_edited_and_removed(app, owner):
    form = {
        "newsletter": "the-weekly",
        "title": "Bridges",
        "url": "https://news.example.com/b",
        "summary": "A summary.",
        "published_at": "2026-11-20T08:00",
    }
    assert _post(owner, "/admin/stories/new", **form).status_code == 302
    key = _uuid(app, Story, guid="https://news.example.com/b")
    bad = _post(owner, f"/admin/stories/{key}/edit", **{**form, "url": "ftp://x"})
    assert bad.status_code == 400 and "http or https" in bad.get_data(as_text=True)
    _post(owner, f"/admin/stories/{key}/edit", **{**form, "title": "Better bridges"})
    with app.app_context():
        assert db.session.scalar(select(Story.title)) == "Better bridges"
    assert "Better bridges" in owner.get("/admin/stories?newsletter=the-weekly").get_data(
        as_text=True
    )
    _post(owner, f"/admin/stories/{key}/delete")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Story)) == 0
    assert [a for a, _ in _audit(app)] == ["story.create", "story.update", "story.delete"]


def test_editors_run_stories_and_issues(app, editor):
    form = {"newsletter": "ai-digest", "title": "Models", "url": "https://news.example.com/m"}
    assert _post(editor, "/admin/stories/new", **form).status_code == 302
    assert _audit(app) == [("story.create", "editor@publisher.example")]


def test_issues_preview_test_send_cancel_and_resend(app, owner, mailbox):
    with app.app_context():
        weekly = db.session.scalar(select(Newsletter.id).filter_by(slug="the-weekly"))
    add_stories(app, weekly, 3, period="current")
    preview = owner.get("/admin/issues/the-weekly/preview")
    assert preview.status_code == 200 and "Story number" in preview.get_data(as_text=True)
    _post(owner, "/admin/issues/the-weekly/test", address="editor@publisher.example")
    test = mailbox.last(to="editor@publisher.example")
    assert test["Subject"].startswith("[Test] The Weekly")

    add_readers(app, weekly, 3)
    app.config["MAIL_SERVER"] = "127.0.0.1"
    app.config["MAIL_PORT"] = 9  # nobody listens: every delivery fails
    from newsletters.extensions import mail

    mail.init_app(app)
    assert app.test_cli_runner().invoke(args=["digest", "send", "--force"]).exit_code == 1
    key = _uuid(app, Issue, newsletter_id=weekly)
    with app.app_context():
        db.session.execute(db.update(Delivery).values(status=DeliveryStatus.FAILED))
        db.session.commit()
    assert "3" in owner.get("/admin/issues").get_data(as_text=True)
    cancelled = _post(owner, f"/admin/issues/{key}/cancel-failures")
    assert cancelled.status_code == 302, cancelled.get_data(as_text=True)[:3000]
    with app.app_context():
        assert set(db.session.scalars(select(Delivery.status))) == {DeliveryStatus.CANCELLED}
        assert db.session.scalar(select(Issue.status)).value == "sent"  # the only issue
    _post(owner, f"/admin/issues/{key}/resend-failures")
    with app.app_context():
        assert set(db.session.scalars(select(Delivery.status))) == {DeliveryStatus.PENDING}
        assert db.session.scalar(select(Issue.status)).value == "sending"
    assert [a for a, _ in _audit(app)] == [
        "issue.test",
        "issue.cancel_failures",
        "issue.resend_failures",
    ]


def test_suppressions_are_listed_added_and_removed(app, owner):
    added = _post(owner, "/admin/suppressions", email="Angry@Example.com", note="asked by phone")
    assert added.status_code == 302
    page = owner.get("/admin/suppressions").get_data(as_text=True)
    assert "angry@example.com" in page and "asked by phone" in page
    again = _post(owner, "/admin/suppressions", email="angry@example.com", note="twice")
    assert again.status_code == 400 and "already suppressed" in again.get_data(as_text=True)
    with app.app_context():
        suppression_id = db.session.scalar(select(Suppression.id))
    _post(owner, f"/admin/suppressions/{suppression_id}/remove")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0
    assert [a for a, _ in _audit(app)] == ["suppression.add", "suppression.remove"]


def test_owners_add_administrators(app, owner):
    response = _post(
        owner,
        "/admin/team",
        email="new@publisher.example",
        password="a long enough password",
        role="editor",
    )
    assert response.status_code == 302
    assert "new@publisher.example" in owner.get("/admin/team").get_data(as_text=True)
    short = _post(
        owner, "/admin/team", email="x@publisher.example", password="short", role="editor"
    )
    assert short.status_code == 400
    assert _audit(app) == [("admin.create", "owner@publisher.example")]


def test_the_audit_log_page_lists_what_happened(app, owner):
    _post(owner, "/admin/suppressions", email="someone@example.com", note="manual")
    page = owner.get("/admin/audit").get_data(as_text=True)
    assert "suppression.add" in page and "owner@publisher.example" in page


def test_the_dashboard_shows_counts_rates_and_the_chart(app, owner, mailbox):
    _confirmed(app, owner, mailbox, "the-weekly")
    sign_up(app.test_client(), "pending@example.com", "the-weekly")
    page = owner.get("/admin/").get_data(as_text=True)
    assert re.search(r"The Weekly</th>\s*<td class=\"num\">1</td><td class=\"num\">1</td>", page)
    assert "50%" in page  # two signups, one confirmation
    assert page.count('<polyline class="series') == 3
    assert 'role="img"' in page and "2 signups, 1 confirmations, 0 unsubscribes" in page
