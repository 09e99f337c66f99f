"""The signup box, the preference page and their failures, in a real Chromium.

The app runs under a real WSGI server; the host article is served by another
server on another site (localhost, not 127.0.0.1), so the box lives in a
cross-site iframe where the app's cookies are not sent. Faults are real: the
network request is dropped by the browser, or the database refuses the write.
"""

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import Event, EventKind, IdempotencyRecord
from tests.support.browser import serious_violations
from tests.support.faults import WriteFault, is_sqlite
from tests.support.mail import DevMailbox, free_port, link_in
from tests.support.reader import add_demo_newsletters, statuses
from tests.support.web import serving_folder

pytestmark = pytest.mark.browser

READER = "browser@example.com"
MESSAGE = (
    "It looks like something went wrong. We're having trouble saving your preferences. "
    "Try refreshing this page and updating them one more time. If you continue to get this "
    "message, reach out to us at help@newsletters.test with a list of newsletters you'd like "
    "to receive."
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def host_port() -> int:
    return free_port()


@pytest.fixture
def settings(restricted_role, database_url, host_port):
    restricted_role["EMBED_ALLOWED_ORIGINS"] = [f"http://localhost:{host_port}"]
    restricted_role["SIGNUP_MIN_SECONDS"] = 1  # the script waits it out; nothing is dropped
    restricted_role["SQLITE_BUSY_TIMEOUT_MS"] = 50
    restricted_role["PROPAGATE_EXCEPTIONS"] = False
    return restricted_role


@pytest.fixture
def site(live_server):
    add_demo_newsletters(live_server)
    return live_server


@pytest.fixture
def host_page(site, host_port, live_port, tmp_path):
    """A publisher's article on another site, with the box under it."""
    root = tmp_path / "publisher"
    root.mkdir()
    (root / "article.html").write_text(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rivers are running higher</title></head>
<body style="font-family: Georgia, serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem">
<h1 id="headline">Rivers are running higher</h1>
<p id="body">Towns downstream are preparing for the highest water in a decade.</p>
<iframe src="http://127.0.0.1:{live_port}/embed/signup?newsletters=ai-digest,climate-report"
        title="Sign up for our newsletters" width="100%" height="430"
        style="border:0" loading="lazy"></iframe>
</body></html>""",
        encoding="utf-8",
    )
    with serving_folder(root, port=host_port):
        yield f"http://localhost:{host_port}/article.html"


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    yield page
    context.close()


def _wait_for_mail(app, subject_part: str, to: str = READER):
    mailbox = DevMailbox(app)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # mail leaves just after the response closes
        for message in reversed(mailbox.messages(to=to)):
            if subject_part in message["Subject"]:
                return message
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} with {subject_part!r}")


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def _confirmed_reader_preferences(site, page, *slugs) -> str:
    """Sign up on the newsletters page, confirm from the email; return the preferences URL."""
    page.goto(site.base_url + "/")
    for slug in slugs:
        page.locator(f"#nl-{slug}").check()
    page.get_by_label("Email address").fill(READER)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    page.goto(site.base_url + link_in(_wait_for_mail(site, "Confirm"), "/confirm/"))
    page.get_by_role("heading", name="You're subscribed!").wait_for()
    return site.base_url + link_in(_wait_for_mail(site, "Welcome"), "/preferences/")


# --- the journey -------------------------------------------------------------------------


def test_signup_from_the_box_on_another_site_then_confirm_choose_and_leave(site, host_page, page):
    page.goto(host_page)
    box = page.frame_locator("iframe")
    box.get_by_role("heading", name="Stay connected").wait_for()
    box.get_by_label("Climate Report").uncheck()
    box.get_by_label("Email address").fill(READER)
    box.get_by_role("button", name="Sign up").click()
    box.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    explore = box.get_by_role("link", name="Explore more newsletters")
    assert explore.get_attribute("target") == "_blank"
    # The host page is untouched: same address, same article.
    assert page.url == host_page
    assert page.locator("#headline").inner_text() == "Rivers are running higher"
    assert statuses(site, READER) == {"ai-digest": "pending"}

    page.goto(site.base_url + link_in(_wait_for_mail(site, "Confirm"), "/confirm/"))
    page.get_by_role("heading", name="You're subscribed!").wait_for()
    assert statuses(site, READER) == {"ai-digest": "active"}

    welcome = _wait_for_mail(site, "Welcome")
    page.goto(site.base_url + link_in(welcome, "/preferences/"))
    page.get_by_label("Climate Report").check()
    page.get_by_label("AI Digest").uncheck()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_role("status").filter(has_text="Your preferences have been saved.").wait_for()
    assert statuses(site, READER) == {"ai-digest": "unsubscribed", "climate-report": "active"}
    page.reload()
    assert page.get_by_label("Climate Report").is_checked()
    assert not page.get_by_label("AI Digest").is_checked()

    # One-click unsubscribe, as a mail client does it: a bare POST, no cookie, no token.
    unsubscribe = welcome["List-Unsubscribe"].strip("<>")
    response = page.request.post(unsubscribe, form={"List-Unsubscribe": "One-Click"})
    assert response.status == 200
    assert set(statuses(site, READER).values()) == {"unsubscribed"}


# --- retrying -----------------------------------------------------------------------------


def test_dropped_requests_are_retried_with_the_same_key_and_saved_once(site, page):
    keys = []

    def drop_the_first_two(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) <= 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/subscribe", drop_the_first_two)
    page.goto(site.base_url + "/")
    page.locator("#nl-the-weekly").check()
    page.get_by_label("Email address").fill(READER)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    assert len(keys) == 3 and len(set(keys)) == 1 and keys[0]
    assert statuses(site, READER) == {"the-weekly": "pending"}
    with site.app_context():
        requests = db.session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == EventKind.SIGNUP_REQUESTED)
        )
        assert requests == 1


def test_a_save_that_hangs_times_out_and_is_retried(site, page):
    site.config["SAVE_TIMEOUT_SECONDS"] = 1
    seen = []

    def hang_the_first(route):
        seen.append(route.request.headers.get("idempotency-key"))
        if len(seen) > 1:
            route.continue_()
        # The first request is left unanswered: only the page's own timeout ends it.

    page.route("**/subscribe", hang_the_first)
    page.goto(site.base_url + "/")
    page.locator("#nl-ai-digest").check()
    page.get_by_label("Email address").fill(READER)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    assert len(seen) == 2 and seen[0] == seen[1]
    assert statuses(site, READER) == {"ai-digest": "pending"}


def test_when_every_try_fails_the_message_the_mailto_and_try_again(site, page, database_url):
    preferences = _confirmed_reader_preferences(site, page, "the-weekly")
    page.goto(preferences)
    page.get_by_label("AI Digest").check()
    page.get_by_label("Climate Report").check()
    page.get_by_label("The Weekly").uncheck()
    saving = []
    page.on("request", lambda r: saving.append(r) if r.method == "POST" else None)
    fault = WriteFault(database_url)
    fault.on()
    try:
        page.get_by_role("button", name="Save preferences").click()
        failure = page.locator("[data-failure]")
        failure.wait_for(state="visible", timeout=30_000)
        assert " ".join(page.locator("[data-failure-message]").inner_text().split()) == MESSAGE
        assert len(saving) == 3
        href = page.locator("[data-support-link]").get_attribute("href")
        assert href.startswith("mailto:help@newsletters.test?")
        body = parse_qs(urlsplit(href).query)["body"][0]
        assert "- AI Digest" in body and "- Climate Report" in body and "The Weekly" not in body
        # The reader's ticks are as they left them.
        assert page.get_by_label("AI Digest").is_checked()
        assert not page.get_by_label("The Weekly").is_checked()
        assert page.locator("[data-request-id]").inner_text().startswith("Reference: ")
        _screenshot(page, "error-state-desktop")
        page.set_viewport_size(PHONE)
        _screenshot(page, "error-state-phone")
        page.set_viewport_size(DESKTOP)
    finally:
        fault.off()
    page.get_by_role("button", name="Try again").click()
    page.get_by_role("status").filter(has_text="Your preferences have been saved.").wait_for()
    assert page.locator("[data-failure]").is_hidden()
    assert statuses(site, READER) == {
        "the-weekly": "unsubscribed",
        "ai-digest": "active",
        "climate-report": "active",
    }
    with site.app_context():
        stored = db.session.scalar(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.scope == "preferences")
        )
        assert stored == 1
        saves = db.session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.kind == EventKind.PREFERENCES_UPDATED)
        )
        assert saves == 1


def test_two_failures_then_the_automatic_retry_recovers(site, page, database_url):
    preferences = _confirmed_reader_preferences(site, page, "the-weekly")
    page.goto(preferences)
    page.get_by_label("Morning Briefing").check()
    fault = WriteFault(database_url)
    failures = []

    def on_response(response):
        if response.request.method == "POST" and response.status == 503:
            failures.append(response)
            if len(failures) == 2:
                fault.off()  # the fault clears between the second and the third try

    page.on("response", on_response)
    fault.on()
    try:
        page.get_by_role("button", name="Save preferences").click()
        page.get_by_role("status").filter(has_text="Saving").wait_for()
        page.get_by_role("status").filter(has_text="Your preferences have been saved.").wait_for(
            timeout=30_000
        )
    finally:
        if fault.lock is not None or not is_sqlite(database_url):
            fault.off()
    assert len(failures) == 2
    assert page.locator("[data-failure]").is_hidden()
    assert statuses(site, READER) == {"the-weekly": "active", "morning-briefing": "active"}


def test_without_script_the_server_shows_the_message_and_keeps_the_form(
    site, browser, database_url
):
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(site.base_url + "/")
    page.locator("#nl-climate-report").check()
    page.get_by_label("Email address").fill(READER)
    time.sleep(1.1)  # a person takes longer than SIGNUP_MIN_SECONDS to fill a form
    with WriteFault(database_url):
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.get_by_role("button", name="Sign up").click()
        assert answer.value.status == 503
        assert " ".join(page.locator("[data-failure-message]").inner_text().split()) == MESSAGE
        assert page.get_by_label("Email address").input_value() == READER
        assert page.locator("#nl-climate-report").is_checked()
    page.get_by_role("button", name="Try again").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    assert statuses(site, READER) == {"climate-report": "pending"}
    context.close()


# --- accessible, keyboard, phone ----------------------------------------------------------


def test_pages_pass_axe_at_desktop_and_phone_width(site, host_page, page):
    preferences = _confirmed_reader_preferences(site, page, "ai-digest")
    pages = {
        "newsletters-page": site.base_url + "/",
        "signup-box": site.base_url + "/embed/signup?newsletters=ai-digest,climate-report",
        "preference-page": preferences,
        "lost-link": site.base_url + "/preferences",
    }
    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, url in pages.items():
            page.goto(url)
            assert serious_violations(page) == [], f"{name} at {viewport_name}"
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} scrolls sideways at {viewport_name}"
            _screenshot(page, f"{name}-{viewport_name}")
        page.goto(host_page)
        page.frame_locator("iframe").get_by_role("heading", name="Stay connected").wait_for()
        _screenshot(page, f"box-in-article-{viewport_name}")


def test_the_failure_state_passes_axe(site, page, database_url):
    page.goto(site.base_url + "/")
    page.locator("#nl-ai-digest").check()
    page.get_by_label("Email address").fill(READER)
    with WriteFault(database_url):
        page.get_by_role("button", name="Sign up").click()
        page.locator("[data-failure]").wait_for(state="visible", timeout=30_000)
    assert serious_violations(page) == []


def test_everything_works_by_keyboard(site, page):
    page.goto(site.base_url + "/")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.locator("#nl-ai-digest").focus()
    page.keyboard.press("Space")
    assert page.locator("#nl-ai-digest").is_checked()
    page.get_by_label("Email address").focus()
    page.keyboard.type(READER)
    page.keyboard.press("Enter")
    done = page.get_by_role("heading", name="Thank you for submitting your email!")
    done.wait_for()
    # Focus moves to the confirmation, so a screen reader announces it.
    assert page.evaluate("document.activeElement.hasAttribute('data-success')")
    assert statuses(site, READER) == {"ai-digest": "pending"}
