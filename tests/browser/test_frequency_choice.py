"""Choosing how often, in a real Chromium: the list saves, the page says when the new
rhythm starts, and the page passes axe at desktop and phone width."""

from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Subscriber, Subscription
from newsletters.services.mail.links import preferences_url
from tests.support.browser import serious_violations
from tests.support.readers import add_active_readers, add_newsletter

pytestmark = pytest.mark.browser

READER = "rhythm@example.com"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def settings(settings):
    settings["TIMEZONE"] = "Europe/Berlin"
    return settings


@pytest.fixture
def preferences_page(live_server) -> str:
    add_newsletter(live_server, "the-paper", "The Paper", frequencies="weekly,daily,monthly")
    add_newsletter(live_server, "the-weekly", "The Weekly")
    add_active_readers(live_server, {READER: ["the-paper", "the-weekly"]})
    with live_server.app_context(), live_server.test_request_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == READER))
        return preferences_url(subscriber)


def test_a_reader_picks_daily_and_the_page_says_when_it_starts(
    live_server, preferences_page, browser
):
    for name, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(preferences_page)
        how_often = page.get_by_label("How often")
        assert how_often.count() == 1  # The Weekly offers one rhythm: nothing to choose
        if name == "desktop":
            how_often.select_option("daily")
            page.get_by_role("button", name="Save preferences").click()
            page.get_by_text("Your preferences have been saved.").wait_for()
            page.reload()
        page.get_by_text("Daily from").wait_for()
        assert page.get_by_label("How often").input_value() == "daily"
        assert "weekly until then." in page.locator(".choice__when").inner_text()
        assert serious_violations(page) == [], name
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page scrolls sideways at {name}"
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"preference-frequency-{name}.png", full_page=True)
        context.close()
    with live_server.app_context():
        subscription = db.session.scalar(
            select(Subscription).join(Subscriber).where(Subscription.next_frequency.is_not(None))
        )
        assert subscription.next_frequency == "daily"
