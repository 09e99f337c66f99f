"""Readers read us in their language: which one, on every page and in every email."""

import re
import threading
from datetime import date

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.locales import local_date, local_number
from newsletters.models import Subscriber
from tests.support.archive import send_issue
from tests.support.mail import DevMailbox, html_of, link_in, text_of
from tests.support.reader import add_demo_newsletters, csrf_token_in, submit_form

READER = "lector@example.com"


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    settings["CONFIRMATION_EMAIL_INTERVAL"] = 0
    return settings


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def language_of(response) -> tuple[str, str]:
    """The page's ``<html lang>`` and its Content-Language header."""
    page = response.get_data(as_text=True)
    start = page.index("<html lang=") + len('<html lang="')
    return page[start : page.index('"', start)], response.headers.get("Content-Language")


def sign_up_on(client, query: str, *slugs: str, email: str = READER, headers=None):
    """Sign up on the newsletters page as it is shown with ``query``."""
    page = client.get(f"/{query}", headers=headers).get_data(as_text=True)
    action = page.split('class="signup', 1)[1].split('action="', 1)[1].split('"', 1)[0]
    return client.post(
        action,
        data={
            "csrf_token": csrf_token_in(page),
            "email": email,
            "newsletters": list(slugs),
            "source": "form",
        },
        headers=headers,
    )


def saved_locale(app, email: str = READER) -> str | None:
    with app.app_context():
        return db.session.scalar(select(Subscriber.locale).where(Subscriber.email == email))


# --- which language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("?lang=es", "de-DE,de;q=0.9", "es"),  # ?lang beats the browser
        ("", "de-DE,de;q=0.9,en;q=0.5", "de"),  # the browser beats the default
        ("", "fr-FR,fr;q=0.9", "en"),  # a language we do not offer: the default
        ("", None, "en"),
        ("?lang=xx", "de", "de"),  # unsupported ?lang values fall through
        ("?lang=", "es", "es"),
        ("?lang=ES%3Cscript%3E", None, "en"),
        ("?lang=es_ES", "de", "de"),
        ("?lang=de&lang=es", None, "de"),  # the first value counts
    ],
)
def test_the_page_language_follows_lang_then_the_browser_then_the_default(
    client, query, accept, expected
):
    headers = {"Accept-Language": accept} if accept else {}
    response = client.get(f"/{query}", headers=headers)
    assert response.status_code == 200
    assert language_of(response) == (expected, expected)
    assert "Accept-Language" in response.headers["Vary"]
    words = {
        "en": "Explore more newsletters",
        "es": "Descubre más boletines",
        "de": "Weitere Newsletter entdecken",
    }
    assert f"<h1>{words[expected]}</h1>" in response.get_data(as_text=True)


def test_a_language_the_site_does_not_offer_is_ignored(make_app, settings):
    app = make_app({**settings, "LANGUAGES": "en,es"})
    client = app.test_client()
    assert language_of(client.get("/?lang=de", headers={"Accept-Language": "es"})) == ("es", "es")
    assert language_of(client.get("/?lang=de")) == ("en", "en")


def test_links_between_reader_pages_keep_the_chosen_language(client):
    page = client.get("/?lang=de").get_data(as_text=True)
    assert 'href="/archive?lang=de"' in page and 'href="/preferences?lang=de"' in page
    assert 'action="/subscribe?lang=de"' in page
    plain = client.get("/").get_data(as_text=True)
    assert 'href="/archive"' in plain and "?lang=" not in plain


def test_the_saved_language_beats_the_browser_and_lang_beats_both(app, client, smtp_server):
    sign_up_on(client, "?lang=de", "the-weekly")
    assert saved_locale(app) == "de"
    confirm = link_in(smtp_server.messages[-1], "/confirm/")

    spanish_browser = {"Accept-Language": "es"}
    assert language_of(client.get(confirm, headers=spanish_browser)) == ("de", "de")
    assert language_of(client.get(confirm + "?lang=es", headers=spanish_browser)) == ("es", "es")
    assert language_of(client.get(confirm + "?lang=xx", headers=spanish_browser)) == ("de", "de")
    # A link that names nobody leaves the page to the browser.
    assert language_of(client.get("/confirm/not-a-token", headers=spanish_browser)) == ("es", "es")


def test_a_signup_never_changes_a_saved_language(app, client):
    sign_up_on(client, "?lang=es", "the-weekly")
    sign_up_on(client, "?lang=de", "ai-digest")  # anyone may sign up any address
    assert saved_locale(app) == "es"


def test_a_signup_from_a_browser_in_german_saves_german(app, client):
    sign_up_on(client, "", "the-weekly", headers={"Accept-Language": "de-AT,de;q=0.9"})
    assert saved_locale(app) == "de"


def test_the_console_stays_in_english(client):
    response = client.get("/admin/login", headers={"Accept-Language": "es"})
    assert response.status_code == 200
    assert language_of(response)[0] == "en" and "Content-Language" not in response.headers
    api = client.get("/api/v1/issues?lang=de", headers={"Accept-Language": "es"})
    assert "Content-Language" not in api.headers


def test_the_language_of_one_request_never_leaks_into_another(app):
    wrong = []

    def reader(code: str, heading: str) -> None:
        client = app.test_client()
        for _ in range(15):
            page = client.get(f"/?lang={code}").get_data(as_text=True)
            if heading not in page or f'<html lang="{code}"' not in page:
                wrong.append(code)

    threads = [
        threading.Thread(target=reader, args=("es", "Descubre más boletines")),
        threading.Thread(target=reader, args=("de", "Weitere Newsletter entdecken")),
        threading.Thread(target=reader, args=("en", "Explore more newsletters")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    plain = app.test_client().get("/")
    assert language_of(plain) == ("en", "en")


# --- every reader page ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (
            "es",
            {
                "/": "Descubre más boletines",
                "embed": "Mantente al día",
                "thanks": "¡Gracias por enviarnos tu correo!",
                "confirm": "Confirmar mi suscripción",
                "confirmed": "¡Ya estás suscrito!",
                "preferences": "Tus boletines",
                "unsubscribe": "Darse de baja",
                "unsubscribed": "Te has dado de baja",
                "lost": "Gestiona tus suscripciones",
                "sent": "Revisa tu bandeja de entrada",
                "archive": "Archivo de boletines",
                "404": "Página no encontrada",
                "bad link": "Este enlace no funciona",
            },
        ),
        (
            "de",
            {
                "/": "Weitere Newsletter entdecken",
                "embed": "Bleiben Sie informiert",
                "thanks": "Vielen Dank für Ihre Anmeldung!",
                "confirm": "Abonnement bestätigen",
                "confirmed": "Sie sind angemeldet!",
                "preferences": "Ihre Newsletter",
                "unsubscribe": "Abbestellen",
                "unsubscribed": "Sie haben abbestellt",
                "lost": "Verwalten Sie Ihre Abonnements",
                "sent": "Sehen Sie in Ihrem Posteingang nach",
                "archive": "Newsletter-Archiv",
                "404": "Seite nicht gefunden",
                "bad link": "Dieser Link funktioniert nicht",
            },
        ),
    ],
)
def test_every_reader_page_speaks_the_language_and_says_so(client, smtp_server, code, words):
    lang = f"?lang={code}"
    pages = {
        "/": client.get(f"/{lang}"),
        "embed": client.get(f"/embed/signup?newsletters=the-weekly&lang={code}"),
        "thanks": sign_up_on(client, lang, "the-weekly"),
    }
    confirm = link_in(smtp_server.messages[-1], "/confirm/")
    pages["confirm"] = client.get(confirm)
    pages["confirmed"] = submit_form(client, confirm)
    welcome = smtp_server.messages[-1]
    preferences = link_in(welcome, "/preferences/")
    unsubscribe = link_in(welcome, "/unsubscribe/")
    pages["preferences"] = client.get(preferences)
    pages["unsubscribe"] = client.get(unsubscribe)
    pages["unsubscribed"] = submit_form(client, unsubscribe)
    pages["lost"] = client.get(f"/preferences{lang}")
    pages["sent"] = submit_form(client, f"/preferences{lang}", {"email": READER})
    pages["archive"] = client.get(f"/archive{lang}")
    pages["404"] = client.get(f"/no-such-page{lang}")
    pages["bad link"] = client.get(f"/preferences/forged-token{lang}")
    for name, response in pages.items():
        assert language_of(response) == (code, code), name
        assert words[name] in response.get_data(as_text=True), name


def test_the_confirm_page_tells_its_script_what_to_say(client, smtp_server):
    sign_up_on(client, "?lang=es", "the-weekly")
    page = client.get(link_in(smtp_server.messages[-1], "/confirm/")).get_data(as_text=True)
    assert 'data-say-confirming="Confirmando tu suscripción…"' in page
    form = client.get("/?lang=de").get_data(as_text=True)
    assert 'data-say-saving="Wird gespeichert…"' in form


def test_a_mistake_is_explained_in_the_readers_language(client):
    page = client.get("/?lang=es").get_data(as_text=True)
    form = {"csrf_token": csrf_token_in(page), "email": "not an address", "source": "form"}
    form["newsletters"] = "the-weekly"
    shown = client.post("/subscribe?lang=es", data=form)
    assert shown.status_code == 400
    assert "Escribe una dirección de correo válida" in shown.get_data(as_text=True)
    answer = client.post(
        "/subscribe?lang=de", data=form, headers={"Accept": "application/json"}
    ).get_json()
    assert answer["error"]["message"].startswith("Bitte geben Sie eine gültige E-Mail-Adresse")


def test_the_embed_loader_passes_the_boxs_language_on(client):
    loader = client.get("/embed/signup.js").get_data(as_text=True)
    assert 'getAttribute("data-lang")' in loader and '"&lang="' in loader


# --- emails ---------------------------------------------------------------------------------


def test_spanish_reader_gets_confirm_welcome_and_lost_link_in_spanish(client, smtp_server):
    sign_up_on(client, "?lang=es", "the-weekly", "ai-digest")
    confirmation = smtp_server.messages[-1]
    assert confirmation["Subject"] == "Confirma tu suscripción a AI Digest y The Weekly"
    body = text_of(confirmation)
    assert "Alguien, esperamos que tú, ha pedido recibir estos boletines" in body
    assert "Para confirmar, abre este enlace (funciona durante 7 días):" in body
    assert "¿Dudas? Escribe a help@newsletters.test." in body
    assert "Sí, suscríbeme" in html_of(confirmation)
    assert '<html lang="es">' in html_of(confirmation)

    # Confirmed from a browser that asks for German: the saved language still wins.
    confirm = link_in(confirmation, "/confirm/")
    page = client.get(confirm, headers={"Accept-Language": "de"}).get_data(as_text=True)
    client.post(confirm, data={"csrf_token": csrf_token_in(page)})
    welcome = smtp_server.messages[-1]
    assert welcome["Subject"] == "Te damos la bienvenida a AI Digest y The Weekly"
    assert "Gracias por confirmar. A partir de ahora recibirás:" in text_of(welcome)
    assert "Darse de baja:" in text_of(welcome)

    # The lost link, asked for on a German page, comes in the reader's own language.
    submit_form(client, "/preferences?lang=de", {"email": READER})
    lost = smtp_server.messages[-1]
    assert lost["Subject"] == "Tu enlace para gestionar tus boletines"
    assert "Aquí tienes el enlace que pediste." in text_of(lost)
    assert "Gestionar tus preferencias" in html_of(lost)


def test_german_reader_gets_every_email_in_german_in_the_dev_mailbox(make_app, settings):
    app = make_app({**settings, "MAIL_SERVER": ""})  # the development mailbox
    add_demo_newsletters(app)
    mailbox = DevMailbox(app)
    client = app.test_client()
    sign_up_on(client, "?lang=de", "the-weekly")
    confirmation = mailbox.last(to=READER)
    assert confirmation["Subject"] == "Bestätigen Sie Ihr Abonnement von The Weekly"
    assert "Jemand, hoffentlich Sie, möchte diesen Newsletter" in text_of(confirmation)
    assert "Ja, ich möchte ihn erhalten" in html_of(confirmation)
    submit_form(client, link_in(confirmation, "/confirm/"))
    welcome = mailbox.last(to=READER)
    assert welcome["Subject"] == "Willkommen bei The Weekly"
    assert "Danke für Ihre Bestätigung. Ab jetzt erhalten Sie:" in text_of(welcome)
    submit_form(client, "/preferences", {"email": READER})
    lost = mailbox.last(to=READER)
    assert lost["Subject"] == "Ihr Link zur Verwaltung Ihrer Newsletter"
    assert "Hier ist der Link, den Sie angefordert haben." in text_of(lost)


def test_english_emails_are_word_for_word_as_before(client, smtp_server):
    sign_up_on(client, "", "the-weekly", "ai-digest")
    confirmation = smtp_server.messages[-1]
    assert confirmation["Subject"] == "Confirm your subscription to AI Digest and The Weekly"
    assert "Someone, hopefully you, asked to receive these newsletters at this address:" in (
        text_of(confirmation)
    )
    assert "Questions? Write to help@newsletters.test." in text_of(confirmation)


# --- dates and numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "day", "number"),
    [
        ("en", "19 May 2026", "12,345"),
        ("es", "19 de mayo de 2026", "12.345"),
        ("de", "19. Mai 2026", "12.345"),
    ],
)
def test_dates_and_numbers_follow_the_page_language(app, code, day, number):
    with app.test_request_context(f"/?lang={code}"):
        assert local_date(date(2026, 5, 19)) == day
        assert local_number(12345) == number


def test_the_archive_writes_dates_and_counts_in_the_readers_language(
    app, runner, client, smtp_server
):
    send_issue(app, runner, smtp_server, slug="river-notes", name="River Notes")
    spanish = client.get("/archive?lang=es").get_data(as_text=True)
    assert re.search(r">\d{1,2} de [a-záéíóú]+ de \d{4}</time>", spanish), spanish
    assert "· 1 número</p>" in spanish
    german = client.get("/archive/river-notes?lang=de").get_data(as_text=True)
    assert re.search(r">\d{1,2}\. [A-ZÄÖÜ][a-zäöü]+ \d{4}</time>", german), german
    english = client.get("/archive").get_data(as_text=True)
    assert re.search(r">\d{1,2} [A-Z][a-z]+ \d{4}</time>", english)
    assert "· 1 issue</p>" in english
