"""The newsletter form's branding in Chromium: pick a colour, save, and see the sample issue."""

from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter
from tests.support.admin import create_admin
from tests.support.browser import serious_violations, sign_in_to_console
from tests.support.reader import add_demo_newsletters

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
# A 1x1 PNG, answered for the logo's host so that no request leaves the machine.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f2b1d20000000049454e44ae426082"
)


def test_an_editor_brands_a_newsletter_and_sees_the_sample(live_server, browser):
    app = live_server
    add_demo_newsletters(app)
    create_admin(app, "owner@publisher.example")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    logos = []

    def serve_logo(route):
        logos.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PIXEL)

    context.route("https://cdn.example.com/**", serve_logo)
    page = context.new_page()
    sign_in_to_console(page, app.base_url)
    with app.app_context():
        key = db.session.scalar(select(Newsletter.uuid).filter_by(slug="the-weekly"))

    page.goto(f"{app.base_url}/admin/newsletters/{key}/edit")
    page.get_by_label("Logo URL").fill("https://cdn.example.com/weekly.png")
    page.get_by_label("Accent colour").fill("#1e6b3a")
    page.get_by_label("Footer text").fill("Published by Example Media.\nReply to reach us.")
    page.get_by_label("Publish sent issues in the public archive").uncheck()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("The Weekly is saved.").wait_for()

    page.goto(f"{app.base_url}/admin/newsletters/{key}/edit")
    sample = page.frame_locator(".brand-sample iframe")
    logo = sample.get_by_role("img", name="The Weekly")
    logo.wait_for()
    assert logos == ["https://cdn.example.com/weekly.png"]
    assert logo.evaluate("img => img.naturalWidth") == 1  # the picture, loaded
    kicker = sample.locator(".kicker")
    assert kicker.evaluate("e => getComputedStyle(e).color") == "rgb(30, 107, 58)"
    assert sample.get_by_text("Reply to reach us.").is_visible()
    assert not page.get_by_label("Publish sent issues in the public archive").is_checked()
    assert serious_violations(page) == []
    SCREENSHOTS.mkdir(exist_ok=True)
    page.locator(".brand-sample iframe").scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "admin-newsletter-branding-desktop.png", full_page=True)
    context.close()
