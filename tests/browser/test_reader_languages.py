"""In Chromium: a Spanish reader's journey, from a Spanish page to the Spanish preference page.

The browser asks for English throughout, so every Spanish word on the way comes from the
page's ?lang=es and then from the language the reader's signup saved.
"""

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter
from tests.support.browser import serious_violations
from tests.support.mail import DevMailbox, html_of, link_in, text_of
from tests.support.reader import add_demo_newsletters, statuses

pytestmark = pytest.mark.browser

READER = "lectora@example.com"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
SAVED = {"es": "Tus preferencias se han guardado.", "de": "Ihre Einstellungen wurden gespeichert."}
WIDTHS = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}


def _mail_to_reader(app, count: int):
    mailbox = DevMailbox(app)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # mail leaves just after the response closes
        messages = mailbox.messages(to=READER)
        if len(messages) >= count:
            return messages[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"email number {count} to {READER} never arrived")


def test_a_spanish_reader_signs_up_confirms_and_chooses_in_spanish(browser, live_server):
    add_demo_newsletters(live_server)
    context = browser.new_context(locale="en-US")  # an English browser
    page = context.new_page()

    page.goto(live_server.base_url + "/?lang=es")
    assert page.locator("html").get_attribute("lang") == "es"
    page.get_by_role("heading", name="Descubre más boletines").wait_for()
    page.get_by_label("The Weekly").check()
    page.get_by_label("Climate Report").check()
    page.get_by_label("Correo electrónico").fill(READER)
    page.get_by_role("button", name="Suscribirme").click()
    page.get_by_role("heading", name="¡Gracias por enviarnos tu correo!").wait_for()

    confirmation = _mail_to_reader(live_server, 1)
    assert confirmation["Subject"] == "Confirma tu suscripción a Climate Report y The Weekly"
    assert "Sí, suscríbeme" in html_of(confirmation)

    page.goto(live_server.base_url + link_in(confirmation, "/confirm/"))
    page.get_by_role("heading", name="¡Ya estás suscrito!").wait_for()
    assert statuses(live_server, READER) == {"the-weekly": "active", "climate-report": "active"}
    welcome = _mail_to_reader(live_server, 2)
    assert welcome["Subject"] == "Te damos la bienvenida a Climate Report y The Weekly"
    assert "Gracias por confirmar." in text_of(welcome)

    page.get_by_role("link", name="Gestionar tus preferencias").click()
    page.get_by_role("heading", name="Tus boletines").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    assert serious_violations(page) == []
    page.get_by_label("AI Digest").check()
    page.get_by_role("button", name="Guardar preferencias").click()
    page.get_by_text("Tus preferencias se han guardado.").wait_for()
    assert statuses(live_server, READER)["ai-digest"] == "active"
    context.close()


@pytest.mark.parametrize("code", ["es", "de"])
def test_screenshots_of_the_preference_page(browser, live_server, code):
    """The preference page in Spanish and German, wide and narrow, for a person to look at."""
    add_demo_newsletters(live_server)
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(live_server.base_url + f"/?lang={code}")
    page.locator("input[name=newsletters][value=the-weekly]").check()
    page.locator("input[name=newsletters][value=ai-digest]").check()
    page.locator("input[name=email]").fill(READER)
    page.locator("form.signup button[data-submit]").click()
    page.locator("[data-success]").wait_for()
    confirm = link_in(_mail_to_reader(live_server, 1), "/confirm/")
    page.goto(live_server.base_url + confirm)
    preferences = link_in(_mail_to_reader(live_server, 2), "/preferences/")
    with live_server.app_context():  # a newsletter with a choice of rhythm shows that choice
        weekly = db.session.scalar(select(Newsletter).where(Newsletter.slug == "the-weekly"))
        weekly.frequencies = "weekly,daily,monthly"
        db.session.commit()
    page.goto(live_server.base_url + preferences)
    page.select_option("select[name=frequency-the-weekly]", "daily")
    page.locator("button[data-submit]").click()
    page.locator("[data-status]").filter(has_text=SAVED[code]).wait_for()
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        page.goto(live_server.base_url + preferences)
        assert page.locator("html").get_attribute("lang") == code
        heading = {"es": "Tus boletines", "de": "Ihre Newsletter"}[code]
        page.get_by_role("heading", name=heading).wait_for()
        when = page.locator(".choice__when").inner_text()
        assert {"es": "hasta entonces, semanal", "de": "bis dahin wöchentlich"}[code] in when
        day = {
            "es": r"del [a-zé]+, \d{1,2} de [a-z]+;",
            "de": r"ab [A-Z][a-z]+, \d{1,2}\. [A-Z][a-zä]+;",
        }
        assert re.search(day[code], when), when
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the {code} page scrolls sideways at {width}px"
        page.screenshot(path=str(SCREENSHOTS / f"preferences-{code}-{width}.png"), full_page=True)
    context.close()
