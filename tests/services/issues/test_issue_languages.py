"""Each reader gets an issue's frame in their own language: the headings, "Read the story",
the footer and the dates, rendered once per language, with the editor's words as written."""

import re

import pytest
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import IssueTranslation, Subscriber
from tests.support.mail import html_of, text_of
from tests.support.readers import add_newsletter, add_readers, add_stories

# What the frame says in each shipped language (text part, HTML part).
FRAME = {
    "en": (
        ["Read the story: ", "Unsubscribe from The Weekly: ", "Manage preferences: ",
         "You're receiving The Weekly because you subscribed to it."],
        ["Read the story →", "Unsubscribe from The Weekly</a>"],
    ),
    "es": (
        ["Leer la noticia: ", "Darse de baja de The Weekly: ", "Gestionar preferencias: ",
         "Recibes The Weekly porque te suscribiste."],
        ["Leer la noticia →", "Darse de baja de The Weekly</a>"],
    ),
    "de": (
        ["Zum Artikel: ", "The Weekly abbestellen: ", "Einstellungen verwalten: ",
         "Sie erhalten The Weekly, weil Sie es abonniert haben."],
        ["Zum Artikel →", "The Weekly abbestellen</a>"],
    ),
}  # fmt: skip
# The period's last day, as each language writes a date.
DATE = {
    "en": r"\d{1,2} [A-Z][a-z]+ \d{4}",
    "es": r"\d{1,2} de [a-záéíóú]+ de \d{4}",
    "de": r"\d{1,2}\. [A-ZÄÖÜ][a-zäöü]+ \d{4}",
}
LINK = re.compile(r"https?://\S+?/(?:unsubscribe|preferences|view)/[^\s\"'<>]+")


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def _readers_with_languages(app, weekly, languages: dict[str, str | None]) -> None:
    addresses = add_readers(app, weekly, len(languages))
    with app.app_context():
        for address, language in zip(addresses, languages.values(), strict=True):
            db.session.execute(
                update(Subscriber).where(Subscriber.email == address).values(locale=language)
            )
        db.session.commit()


def _by_reader(smtp_server) -> dict[str, object]:
    got = {}
    for message in smtp_server.messages:
        assert message["To"] not in got, f"{message['To']} got the issue twice"
        got[message["To"]] = message
    return got


def test_each_reader_gets_the_frame_in_their_saved_language(app, runner, smtp_server, weekly):
    # reader0..reader4: no saved language, English, Spanish, German, and one we do not offer.
    languages = {"0": None, "1": "en", "2": "es", "3": "de", "4": "fr"}
    _readers_with_languages(app, weekly, languages)
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    got = _by_reader(smtp_server)
    assert len(got) == 5
    expected = {"reader0": "en", "reader1": "en", "reader2": "es", "reader3": "de",
                "reader4": "en"}  # fmt: skip
    for reader, language in expected.items():
        message = got[f"{reader}@example.com"]
        text, html = text_of(message), html_of(message)
        words, html_words = FRAME[language]
        for phrase in words:
            assert phrase in text, (reader, phrase, text)
        for phrase in html_words:
            assert phrase in html, (reader, phrase)
        for other in FRAME.keys() - {language}:
            assert FRAME[other][0][0] not in text, (reader, other)
        assert f'<html lang="{language}">' in html
        assert message["Content-Language"] == language
        assert re.fullmatch(rf"The Weekly: {DATE[language]}", message["Subject"]), message[
            "Subject"
        ]
        # The stories are the editor's, as written, in every language.
        assert all(f"Story number {n}" in text for n in range(3))

    # English readers, whatever they saved, get the same message but for their own links.
    english = {LINK.sub("LINK", text_of(got[f"reader{n}@example.com"])) for n in (0, 1, 4)}
    assert len(english) == 1
    with app.app_context():
        saved = db.session.execute(
            select(IssueTranslation.language, func.count()).group_by(IssueTranslation.language)
        ).all()
    assert dict(saved) == {"es": 1, "de": 1}  # rendered once per language, not per reader


def test_an_issue_with_no_stories_says_so_in_the_readers_language(app, runner, smtp_server):
    newsletter = add_newsletter(app, send_when_empty=True)
    _readers_with_languages(app, newsletter, {"0": "es", "1": None})
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    got = _by_reader(smtp_server)
    assert "Esta vez no hay noticias nuevas. Volveremos pronto con más." in text_of(
        got["reader0@example.com"]
    )
    assert "There are no new stories this time. We'll be back with more soon." in text_of(
        got["reader1@example.com"]
    )


def test_a_language_the_site_stops_offering_falls_back_to_the_default(
    app, runner, smtp_server, weekly
):
    app.config["LANGUAGES"] = "en,es"
    _readers_with_languages(app, weekly, {"0": "de", "1": "es"})
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    got = _by_reader(smtp_server)
    assert "Read the story: " in text_of(got["reader0@example.com"])
    assert "Leer la noticia: " in text_of(got["reader1@example.com"])
    with app.app_context():
        assert set(db.session.scalars(select(IssueTranslation.language))) == {"es"}


VIEW = re.compile(r"(?:View in browser|Ver en el navegador|Im Browser ansehen): (\S+)")


def _web_page(client, message) -> str:
    link = VIEW.search(text_of(message))[1]
    response = client.get(link.removeprefix("http://newsletters.test"))
    assert response.status_code == 200, link
    return response.get_data(as_text=True)


def test_view_in_browser_opens_the_archive_in_the_readers_language(
    app, runner, client, smtp_server, weekly
):
    _readers_with_languages(app, weekly, {"0": "es", "1": None})
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    got = _by_reader(smtp_server)
    spanish = _web_page(client, got["reader0@example.com"])
    assert '<html lang="es">' in spanish and "Leer la noticia →" in spanish
    english = _web_page(client, got["reader1@example.com"])
    assert '<html lang="en">' in english and "Read the story →" in english
    assert "Leer la noticia" not in english


def test_a_readers_own_copy_is_in_their_language(app, runner, client, smtp_server):
    newsletter = add_newsletter(app, web_archive=False)
    add_stories(app, newsletter, 2)
    _readers_with_languages(app, newsletter, {"0": "de", "1": None})
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    got = _by_reader(smtp_server)
    german = _web_page(client, got["reader0@example.com"])
    assert '<html lang="de">' in german and "Zum Artikel →" in german
    assert "Read the story →" in _web_page(client, got["reader1@example.com"])
