"""In Chromium: sign up, then confirm with no second click, or with one when script is off."""

import time

import pytest

from tests.support.mail import DevMailbox, link_in
from tests.support.reader import add_demo_newsletters, statuses

pytestmark = pytest.mark.browser

READER = "browser@example.com"


def _confirm_link(app) -> str:
    mailbox = DevMailbox(app)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # mail leaves just after the response closes
        if mailbox.messages(to=READER):
            return app.base_url + link_in(mailbox.last(to=READER), "/confirm/")
        time.sleep(0.05)
    raise AssertionError("no confirmation email arrived")


def _sign_up_in_the_browser(browser, app) -> None:
    page = browser.new_page()
    page.goto(app.base_url + "/")
    page.get_by_label("The Weekly").check()
    page.get_by_label("Climate Report").check()
    page.get_by_label("Email address").fill(READER)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    page.get_by_role("link", name="Explore more newsletters").wait_for()
    page.close()


def test_the_confirm_page_confirms_without_a_second_click(browser, live_server):
    add_demo_newsletters(live_server)
    _sign_up_in_the_browser(browser, live_server)
    assert statuses(live_server, READER) == {"the-weekly": "pending", "climate-report": "pending"}

    page = browser.new_page()
    page.goto(_confirm_link(live_server))
    page.get_by_role("heading", name="You're subscribed!").wait_for()
    assert statuses(live_server, READER) == {"the-weekly": "active", "climate-report": "active"}
    page.close()


def test_without_script_the_confirm_page_waits_for_the_button(browser, live_server):
    add_demo_newsletters(live_server)
    _sign_up_in_the_browser(browser, live_server)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(_confirm_link(live_server))
    button = page.get_by_role("button", name="Confirm my subscription")
    button.wait_for()
    assert statuses(live_server, READER) == {"the-weekly": "pending", "climate-report": "pending"}
    button.click()
    page.get_by_role("heading", name="You're subscribed!").wait_for()
    assert statuses(live_server, READER) == {"the-weekly": "active", "climate-report": "active"}
    context.close()
