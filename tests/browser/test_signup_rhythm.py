"""Choosing how often at signup, in a real Chromium: on the newsletters page and in the
embed box a reader picks "Daily" for a newsletter that offers it, signs up, confirms,
and gets it daily; the pages pass axe and fit a phone. A retried or failed save keeps
the rhythm picked."""

from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber, Subscription, SubscriptionStatus
from newsletters.services.mail.links import confirm_url
from tests.support.browser import DESKTOP, PHONE, screenshot, serious_violations
from tests.support.readers import add_newsletter

pytestmark = pytest.mark.browser

BOX = "/embed/signup?newsletters=morning-brief,the-weekly,the-long-read"
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


NEWSLETTERS = [  # slug, name, description, rhythms (the first is the default), send weekday
    (
        "morning-brief",
        "Morning Brief",
        "The five stories you need before your first coffee.",
        "weekly,daily",
        0,
    ),
    (
        "the-long-read",
        "The Long Read",
        "One deeply reported story, with time to read it.",
        "monthly,weekly",
        5,
    ),
    ("the-weekly", "The Weekly", "The week's most important stories, explained.", "weekly", 4),
]


@pytest.fixture
def site(live_server):
    for slug, name, description, frequencies, weekday in NEWSLETTERS:
        newsletter_id = add_newsletter(live_server, slug, name, frequencies=frequencies)
        with live_server.app_context():
            newsletter = db.session.get(Newsletter, newsletter_id)
            newsletter.description, newsletter.send_weekday = description, weekday
            db.session.commit()
    return live_server


def _rhythm(app, email: str) -> tuple:
    with app.app_context():
        subscription = db.session.scalar(
            select(Subscription)
            .join(Subscriber)
            .join(Newsletter)
            .where(Subscriber.email == email, Newsletter.slug == "morning-brief")
        )
        return (subscription.status, subscription.frequency) if subscription else None


def _confirm(app, page, email: str) -> None:
    """Open the reader's confirm link; its page confirms at once."""
    with app.app_context(), app.test_request_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
        path = urlsplit(confirm_url(subscriber)).path
    page.goto(app.base_url + path)
    page.get_by_role("heading", name="You're subscribed!").wait_for()


def _looks_right(page, name: str, viewport: dict) -> None:
    """axe finds nothing serious, nothing scrolls sideways, and the page is kept to look at."""
    assert serious_violations(page) == [], name
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{name} scrolls sideways"
    screenshot(page, name)


@pytest.mark.parametrize("width", VIEWPORTS)
def test_a_reader_picks_daily_on_the_newsletters_page(site, browser, width):
    email = f"page-{width}@example.com"
    context = browser.new_context(viewport=VIEWPORTS[width])
    page = context.new_page()
    page.goto(site.base_url + "/")
    how_often = page.get_by_label("How often: Morning Brief")
    assert how_often.input_value() == "weekly"  # the newsletter's first rhythm
    assert page.get_by_label("How often").count() == 2  # The Weekly has nothing to choose
    how_often.select_option(label="Daily")
    assert not page.locator("#nl-morning-brief").is_checked()  # choosing is not ticking
    page.locator("#nl-morning-brief").check()
    page.get_by_label("Email address").fill(email)
    _looks_right(page, f"signup-rhythm-page-{width}", VIEWPORTS[width])
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    assert _rhythm(site, email) == (SubscriptionStatus.PENDING, "daily")
    _confirm(site, page, email)
    assert _rhythm(site, email) == (SubscriptionStatus.ACTIVE, "daily")
    context.close()


@pytest.mark.parametrize("width", VIEWPORTS)
def test_a_reader_picks_daily_in_the_box_and_keeps_it_through_a_failed_save(site, browser, width):
    email = f"box-{width}@example.com"
    context = browser.new_context(viewport=VIEWPORTS[width])
    page = context.new_page()
    page.route("**/subscribe", lambda route: route.abort("connectionreset"))
    page.goto(site.base_url + BOX)
    page.get_by_label("How often: Morning Brief").select_option(label="Daily")
    page.get_by_label("Email address").fill(email)
    _looks_right(page, f"signup-rhythm-box-{width}", VIEWPORTS[width])
    page.get_by_role("button", name="Sign up").click()

    # Every try failed: the message to support lists the newsletters with their rhythms.
    support = page.locator("[data-failure] [data-support-link]")
    support.wait_for()
    body = unquote(support.get_attribute("href"))
    assert "- Morning Brief (Daily)\n- The Weekly\n- The Long Read (Monthly)" in body
    assert page.get_by_label("How often: Morning Brief").input_value() == "daily"
    screenshot(page, f"signup-rhythm-box-failed-{width}")

    page.unroute("**/subscribe")
    page.get_by_role("button", name="Try again").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    assert _rhythm(site, email) == (SubscriptionStatus.PENDING, "daily")
    _confirm(site, page, email)
    assert _rhythm(site, email) == (SubscriptionStatus.ACTIVE, "daily")
    context.close()
