"""An editor sees, and can test, an issue in each language the site offers, as readers who
read that language get it."""

import re
from uuid import UUID

from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import Issue, IssueTranslation, utcnow
from newsletters.services.issues import control
from tests.support.issue_desk import editor_form, post


def _body(response) -> str:
    return response.get_data(as_text=True)


def test_the_preview_shows_the_issue_in_the_language_chosen(app, owner, key):
    page = _body(owner.get(f"/admin/issues/{key}"))
    choice = re.search(r'<select name="language" form="issue-form"[^>]*>(.*?)</select>', page, re.S)
    assert choice, "no language choice beside the preview"
    assert re.findall(r'<option value="(\w+)">([^<]+)</option>', choice[1]) == [
        ("en", "English"), ("es", "Spanish"), ("de", "German")
    ]  # fmt: skip

    spanish = _body(owner.get(f"/admin/issues/{key}/preview?language=es"))
    assert '<html lang="es">' in spanish and "Leer la noticia →" in spanish
    assert "Read the story" not in spanish
    german = owner.post(
        f"/admin/issues/{key}/preview",
        data={**editor_form(owner, key), "language": "de", "format": "text"},
    )
    assert "Zum Artikel: " in _body(german) and "Read the story" not in _body(german)
    # A language the site does not offer shows what its readers get: the default.
    for asked in ("fr", "", "<script>"):
        shown = owner.get(f"/admin/issues/{key}/preview", query_string={"language": asked})
        assert shown.status_code == 200 and "Read the story →" in _body(shown), asked


def test_a_test_goes_out_in_the_language_chosen(app, owner, key, mailbox):
    sent = post(
        owner, f"/admin/issues/{key}/test", addresses="desk@publisher.example", language="es"
    )
    assert sent.status_code == 302
    message = mailbox.last(to="desk@publisher.example")
    assert re.fullmatch(r"\[Test\] The Weekly: \d{1,2} de [a-z]+ de \d{4}", message["Subject"])
    assert "Leer la noticia" in str(message)


def test_a_sent_issue_is_previewed_in_each_language_exactly_as_it_went_out(app, owner, key):
    with app.app_context():
        control.send_now(key, utcnow())
        issue_id = db.session.scalar(select(Issue.id).where(Issue.uuid == UUID(key)))
        # Mark what was stored, to see that the preview shows it rather than a new rendering.
        db.session.execute(
            update(IssueTranslation)
            .where(IssueTranslation.issue_id == issue_id, IssueTranslation.language == "de")
            .values(html_body="<p>Gespeichert: Zum Artikel</p>")
        )
        db.session.commit()
    german = _body(owner.get(f"/admin/issues/{key}/preview?language=de"))
    assert "Gespeichert: Zum Artikel" in german
    spanish = _body(owner.get(f"/admin/issues/{key}/preview?language=es"))
    assert "Leer la noticia →" in spanish and "Gespeichert" not in spanish


def test_the_command_line_previews_the_next_issue_in_a_language(app, runner, readers, tmp_path):
    out = tmp_path / "next.html"
    result = runner.invoke(
        args=["digest", "preview", "the-weekly", "--language", "de", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert '<html lang="de">' in out.read_text() and "Zum Artikel →" in out.read_text()
    assert "Zum Artikel: " in out.with_suffix(".txt").read_text()
    refused = runner.invoke(args=["digest", "preview", "the-weekly", "--language", "fr"])
    assert refused.exit_code == 2 and "choose one of en, es, de" in refused.output
