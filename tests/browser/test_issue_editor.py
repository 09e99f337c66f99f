"""The issue editor in Chromium: reorder and leave out stories and see the preview follow,
switch the preview to a phone and to plain text, mail a test, schedule and unschedule,
then send to 60 readers through a slow SMTP server and watch the progress move without
a reload, pause (nothing more leaves), resume, and find each reader got exactly one copy.
The page passes axe at desktop and phone width and is screenshotted in each state."""

import os
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.support.admin import create_admin
from tests.support.browser import serious_violations, sign_in_to_console
from tests.support.issue_desk import add_desk
from tests.support.mail import SMTPRecorder

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).parents[2] / "screenshots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
READERS = 60
STORIES = [
    ("Rivers are running higher than at any time in a decade",
     "Towns downstream are preparing for the highest water since 2014, and the forecasts say "
     "the worst is still to come this weekend."),
    ("The council votes to rebuild the old harbour bridge",
     "After six years of argument the plan passed by a single vote. Here is what changes for "
     "the people who cross it every day."),
    ("Inside the bakery that never closes",
     "Three shifts, two ovens and one recipe that has not changed since 1962."),
    ("What the new school timetable means for your family",
     "Earlier starts, longer lunches and an end to Friday afternoon lessons."),
]  # fmt: skip
FIRST, SECOND, THIRD, FOURTH = (title for title, _ in STORIES)
TESTERS = ["desk@publisher.example", "editor@publisher.example"]


@pytest.fixture
def sink():
    """A slow SMTP server: a quarter of a second per message, so a send takes a while."""
    recorder = SMTPRecorder(delay=0.25)
    recorder.start()
    yield recorder
    recorder.stop()


@pytest.fixture
def settings(settings, sink):
    settings.update(sink.settings())
    settings["DIGEST_BATCH_SIZE"] = 10
    settings["TIMEZONE"] = "Europe/Berlin"
    return settings


@pytest.fixture
def page(live_server, browser):
    create_admin(live_server, "owner@publisher.example")
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    sign_in_to_console(page, live_server.base_url)
    yield page
    context.close()


def _shoot(page, name: str, *, axe: bool = True) -> None:
    """Screenshots at desktop and phone width, each checked with axe and for sideways scroll."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)
        if axe:
            assert serious_violations(page) == [], f"{name} at {label}"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name} scrolls sideways at {label}"
        # A frame is painted once it has been on screen; then the whole page is taken.
        page.locator("iframe[name=issue-preview]").scroll_into_view_if_needed()
        page.frame(name="issue-preview").wait_for_load_state()
        page.wait_for_timeout(200)
        page.screenshot(path=SCREENSHOTS / f"issue-editor-{name}-{label}.png", full_page=True)
        # A long page's frame can come out blank in a full-page shot: the preview itself too.
        page.screenshot(path=SCREENSHOTS / f"issue-editor-{name}-{label}-preview.png")
    page.set_viewport_size(DESKTOP)


def _preview(page):
    return page.frame_locator("iframe[name=issue-preview]")


def _received(sink, readers) -> list[str]:
    return [to for to in sink.recipients if to in readers]


def test_an_editor_arranges_previews_tests_schedules_and_sends_an_issue(live_server, page, sink):
    app = live_server
    readers = set(add_desk(app, readers=READERS, stories=STORIES))
    page.get_by_role("link", name="Issues", exact=True).click()
    page.get_by_role("button", name="Edit the next issue of The Weekly").click()
    page.get_by_role("heading", name="The Weekly").wait_for()
    expect(page.locator("[data-badge]")).to_have_text("Draft")
    expect(page.locator("[data-readers]")).to_have_text(f"{READERS} readers")

    # Reorder: the third story up, past the second. The page saves and comes back.
    page.get_by_role("button", name=f"Move “{THIRD}” up").click()
    expect(page.get_by_role("status")).to_contain_text(f"moved “{THIRD}” up")
    expect(page.locator(".story-item__title")).to_have_text([FIRST, THIRD, SECOND, FOURTH])

    # Leave one out and type a subject: the preview follows without a save.
    page.get_by_label(f"Include “{SECOND}”").uncheck()
    page.get_by_label("Subject", exact=True).fill("Floods, a bridge and a bakery")
    expect(_preview(page).locator(".story__title")).to_have_text([FIRST, THIRD, FOURTH])
    expect(_preview(page).locator(".preview-subject")).to_have_text("Floods, a bridge and a bakery")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()

    page.get_by_role("tab", name="Phone").click()
    expect(page.get_by_role("tab", name="Phone")).to_have_attribute("aria-selected", "true")
    expect(_preview(page).locator(".story__title")).to_have_text([FIRST, THIRD, FOURTH])
    # The frame's own width, read from the page (the frame may be loading a new render).
    expect(page.locator("iframe[name=issue-preview]")).to_have_js_property("clientWidth", 390)
    page.get_by_role("tab", name="Plain text").click()
    text = _preview(page).locator("pre")
    expect(text).to_contain_text(THIRD)
    assert text.inner_text().index(FIRST) < text.inner_text().index(THIRD)
    assert SECOND not in text.inner_text()
    page.get_by_role("tab", name="Wide").click()
    expect(_preview(page).locator(".story__title")).to_have_text([FIRST, THIRD, FOURTH])
    # As Spanish readers will get it: the frame in Spanish, the editor's words as typed.
    page.get_by_label("Language").select_option(label="Spanish")
    expect(_preview(page).locator(".story__more").first).to_have_text("Leer la noticia →")
    expect(_preview(page).locator(".preview-subject")).to_have_text("Floods, a bridge and a bakery")
    _shoot(page, "spanish")
    page.get_by_label("Language").select_option(label="English")
    expect(_preview(page).locator(".story__more").first).to_have_text("Read the story →")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label(f"Include “{SECOND}”")).not_to_be_checked()
    _shoot(page, "draft")

    # A test to two addresses, and to nobody else.
    page.get_by_label("Send a test to").fill(f"{TESTERS[0]},\n{TESTERS[1]}")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("status")).to_have_text(
        f"A test is on its way to {TESTERS[0]}, {TESTERS[1]}."
    )
    deadline = time.monotonic() + 10
    while len(sink.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(sink.recipients) == sorted(TESTERS)
    assert all(m["Subject"] == "[Test] Floods, a bridge and a bakery" for m in sink.messages)

    # Schedule on the newsletters' clock, then give it back to its usual time.
    day = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=8)).date()
    page.get_by_label("Send on (Europe/Berlin time)").fill(f"{day:%Y-%m-%d}T08:00")
    page.get_by_role("button", name="Schedule", exact=True).click()
    when = f"{day:%A} {day.day} {day:%B %Y}, 08:00 (Europe/Berlin)"
    expect(page.locator("[data-badge]")).to_have_text(f"Scheduled for {when}")
    page.get_by_role("button", name="Unschedule").click()
    expect(page.locator("[data-badge]")).to_have_text("Draft")

    # Enter in a one-line field saves, as a form does; it moves no story.
    page.get_by_label("Preheader").fill("Plus: what the new timetable means for you")
    page.get_by_label("Preheader").press("Enter")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("Preheader")).to_have_value(
        "Plus: what the new timetable means for you"
    )
    expect(page.locator(".story-item__title")).to_have_text([FIRST, THIRD, SECOND, FOURTH])

    # Send now, after a second look; then the progress moves with no reload.
    page.get_by_text("Send now…").click()
    page.get_by_role("button", name=f"Send to {READERS} readers now").click()
    expect(page.locator("[data-badge]")).to_have_text("Sending")
    page.evaluate("window.stillThisPage = true")
    bar = page.locator("progress")
    start = int(bar.get_attribute("value"))
    page.wait_for_function(
        "([start, total]) => {"
        "  const value = document.querySelector('progress').value;"
        "  return value > start && value < total;"
        "}",
        arg=[start, READERS],
        timeout=20_000,
    )
    assert page.evaluate("window.stillThisPage") is True
    assert "Sending:" in page.locator("[data-field=label]").inner_text()
    _shoot(page, "sending", axe=False)  # quickly: it is still sending

    # Pause: within a moment nothing more leaves.
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("[data-badge]")).to_have_text("Paused")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_hidden()
    time.sleep(1.5)  # senders look at the issue's status once a second
    paused_at = len(_received(sink, readers))
    time.sleep(2)
    assert len(_received(sink, readers)) == paused_at < READERS
    assert "Paused:" in page.locator("[data-field=label]").inner_text()
    _shoot(page, "paused")

    # Resume, and the page follows the issue to the end by itself.
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("[data-badge]")).to_have_text("Sending")
    page.evaluate("window.stillThisPage = true")
    expect(page.locator("[data-badge]")).to_have_text("Sent", timeout=60_000)
    assert page.evaluate("window.stillThisPage") is True
    expect(page.locator("[data-field=label]")).to_have_text(
        f"Sent to {READERS} of {READERS} readers"
    )
    expect(page.get_by_role("button", name="Pause")).to_be_hidden()
    expect(page.get_by_role("button", name="Resume")).to_be_hidden()
    assert Counter(_received(sink, readers)) == Counter(readers)  # each reader exactly once
    _shoot(page, "sent")
