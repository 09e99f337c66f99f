"""A subject template is text with {name}, {date} and {site}: nothing that can make a
subject of megabytes or reach into objects. Whatever is stored, a subject stays short."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import Issue, Newsletter
from newsletters.services.mail.mime import MessageTemplate
from newsletters.services.mail.render import render_email
from tests.support.admin import action_token
from tests.support.readers import add_readers

BAD = ["{name:x>5000000}", "{name!r}", "{name.__class__}", "{name[0]}"]
RFC_5322_LINE = 998


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def _newsletter(app) -> Newsletter:
    with app.app_context():
        newsletter = db.session.scalar(select(Newsletter))
        db.session.expunge(newsletter)
        return newsletter


def _store(app, model, **values) -> None:
    """Write straight to the database, past every check, as old or tampered data would be."""
    with app.app_context():
        db.session.execute(update(model).values(**values))
        db.session.commit()


def _lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n")


@pytest.mark.parametrize("template", BAD)
def test_the_admin_form_refuses_a_template_with_more_than_plain_fields(app, owner, template):
    form = {
        "csrf_token": action_token(owner),
        "name": "Science Weekly",
        "slug": "science-weekly",
        "cadence": "weekly",
        "send_day": "thu",
        "send_hour": "9",
        "subject_template": template,
    }
    created = owner.post("/admin/newsletters/new", data=form)
    assert created.status_code == 400
    assert "as they are" in created.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Newsletter)) == 0


@pytest.mark.parametrize("template", BAD)
def test_the_admin_form_refuses_it_when_editing_too(app, owner, weekly, template):
    newsletter = _newsletter(app)
    form = {
        "csrf_token": action_token(owner),
        "name": newsletter.name,
        "slug": newsletter.slug,
        "cadence": "weekly",
        "send_day": "mon",
        "send_hour": "8",
        "subject_template": template,
    }
    edited = owner.post(f"/admin/newsletters/{newsletter.uuid}/edit", data=form)
    assert edited.status_code == 400
    assert _newsletter(app).subject_template == ""


@pytest.mark.parametrize("template", BAD)
def test_digest_edit_refuses_it(app, runner, weekly, template):
    result = runner.invoke(args=["digest", "edit", "the-weekly", "--subject", template])
    assert result.exit_code == 1
    assert "as they are" in result.output
    with app.app_context():
        assert db.session.scalar(select(Issue.subject_override)) is None


@pytest.mark.parametrize("template", BAD)
def test_a_stored_bad_template_sends_the_default_subject(
    app, runner, smtp_server, weekly, template
):
    add_readers(app, weekly, 1)
    _store(app, Newsletter, subject_template=template)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    subject = smtp_server.messages[-1]["Subject"]
    assert subject.startswith("The Weekly: ") and len(subject) < 40


def test_a_stored_bad_issue_override_sends_the_default_subject(app, runner, smtp_server, weekly):
    add_readers(app, weekly, 1)
    assert runner.invoke(args=["digest", "edit", "the-weekly", "--intro", "Hi"]).exit_code == 0
    _store(app, Issue, subject_override="{name:x>5000000}")
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    assert smtp_server.messages[-1]["Subject"].startswith("The Weekly: ")


def test_a_long_rendering_is_cut_and_every_header_line_fits(app, runner, smtp_server, weekly):
    """A valid template can still render long: a long name, many times over."""
    add_readers(app, weekly, 1)
    _store(app, Newsletter, name="N" * 120, subject_template="{name}" * 33)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    subject = smtp_server.messages[-1]["Subject"]
    assert subject.startswith("N" * 100) and subject.endswith("…")
    assert len(subject) <= Issue.subject.type.length <= RFC_5322_LINE  # PostgreSQL's limit too
    assert all(len(line) <= RFC_5322_LINE for line in _lines(smtp_server.raw_messages[-1]))
    with app.app_context():
        assert db.session.scalar(select(Issue.subject)) == subject


def test_the_header_is_cut_whatever_subject_reaches_it(app):
    with app.app_context():
        for subject in ["x" * 5_000_000, "é" * 5000, "word " * 2000]:
            raw = MessageTemplate(
                subject=subject, text="t", html="<p>h</p>", date=datetime.now(UTC)
            ).render("reader@example.com", "<1@newsletters.test>")
            assert all(len(line) <= RFC_5322_LINE for line in _lines(raw))
            email = render_email("preferences_link", subject, preferences_url="x")
            assert len(email.subject) <= RFC_5322_LINE


def test_valid_templates_still_fill_in_their_fields(app, runner, smtp_server, weekly):
    add_readers(app, weekly, 1)
    _store(app, Newsletter, subject_template="{site} | {name} | {{weekly}}")
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    assert smtp_server.messages[-1]["Subject"] == "The Daily Ledger | The Weekly | {weekly}"
