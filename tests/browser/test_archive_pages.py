"""The archive in Chromium: it reads well at desktop and phone width, passes axe, and its
signup box works. Pictures come from the publisher's image server, as in production; the
browser answers those requests itself, so nothing leaves the machine."""

from pathlib import Path

import pytest

from tests.support.archive import add_past_issues, send_issue
from tests.support.browser import serious_violations
from tests.support.reader import statuses

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
READER = "archive.reader@example.com"

STORIES = [
    (
        "Rivers are running higher than at any time in a decade",
        "Towns downstream are preparing for the highest water since 2014, and the forecasts "
        "say the worst is still to come this weekend.",
    ),
    (
        "The council votes to rebuild the old harbour bridge",
        "After six years of argument the plan passed by a single vote. Here is what changes "
        "for the people who cross it every day.",
    ),
    (
        "Inside the bakery that never closes",
        "Three shifts, two ovens and one recipe that has not changed since 1962.",
    ),
    (
        "What the new school timetable means for your family",
        "Earlier starts, longer lunches and an end to Friday afternoon lessons.",
    ),
]
LEAD_PICTURE = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 992 520">
<defs>
<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
<stop offset="0" stop-color="#9cc3d5"/><stop offset="1" stop-color="#e8eef0"/>
</linearGradient></defs>
<rect width="992" height="520" fill="url(#sky)"/>
<path d="M0 330 L180 230 L320 300 L470 190 L640 290 L780 220 L992 310 V520 H0Z" fill="#5d7a6b"/>
<path d="M0 400 C200 360 380 440 560 400 S860 360 992 390 V520 H0Z" fill="#3f6f8f"/>
<path d="M0 440 C220 410 420 470 620 440 S880 420 992 430"
 stroke="#cfe3ee" stroke-width="6" fill="none"/>
</svg>"""
LOGO = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 220 48" width="220" height="48">
<rect x="0" y="6" width="36" height="36" rx="4" fill="#8a1c0b"/>
<g font-family="Georgia,serif" font-weight="700">
<text x="18" y="32" font-size="22" fill="#fff" text-anchor="middle">W</text>
<text x="46" y="33" font-size="24" fill="#1d1d1b">The Weekly</text></g>
</svg>"""


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    settings["SIGNUP_MIN_SECONDS"] = 1  # the script waits it out
    return settings


@pytest.fixture
def archive_site(live_server, smtp_server):
    runner = live_server.test_cli_runner()
    weekly = send_issue(
        live_server,
        runner,
        smtp_server,
        stories=STORIES,
        description="The week's most important stories, explained. Every Monday morning.",
        brand_logo_url="https://images.example.com/weekly-logo.svg",
        brand_accent="#8a1c0b",
        brand_footer="The Weekly is written by the news desk of The Daily Ledger.",
    )
    add_past_issues(live_server, weekly.slug, 24)
    send_issue(
        live_server,
        runner,
        smtp_server,
        "climate-report",
        "Climate Report",
        stories=STORIES[1:],
        description="Science, policy and people on the front line of a warming world.",
    )
    private = send_issue(
        live_server, runner, smtp_server, "insiders", "Insiders", is_public=False, stories=STORIES
    )
    return live_server, weekly, private


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.route(
        "https://images.example.com/**",
        lambda route: route.fulfill(
            status=200,
            content_type="image/svg+xml",
            body=LOGO if route.request.url.endswith("logo.svg") else LEAD_PICTURE,
        ),
    )
    yield page
    context.close()


def test_archive_pages_pass_axe_fit_the_screen_and_are_screenshotted(archive_site, page):
    app, weekly, private = archive_site
    base = app.base_url
    pages = {
        "archive": base + "/archive",
        "archive-newsletter": f"{base}/archive/{weekly.slug}",
        "archive-issue": f"{base}/archive/{weekly.slug}/{weekly.issue_uuid}",
        "archive-reader-copy": private.view_links()[0],
    }
    SCREENSHOTS.mkdir(exist_ok=True)
    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, url in pages.items():
            page.goto(url)
            page.wait_for_load_state("networkidle")
            assert serious_violations(page) == [], f"{name} at {viewport_name}"
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} scrolls sideways at {viewport_name}"
            broken = page.evaluate(
                "[...document.images].filter(i => !i.complete || !i.naturalWidth).length"
            )
            assert broken == 0, f"{name}: a picture did not load (CSP?) at {viewport_name}"
            page.screenshot(path=SCREENSHOTS / f"{name}-{viewport_name}.png", full_page=True)


def test_the_issue_page_runs_no_script_but_our_own_and_breaks_no_policy(archive_site, page):
    app, weekly, _ = archive_site
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{app.base_url}/archive/{weekly.slug}/{weekly.issue_uuid}")
    page.wait_for_load_state("networkidle")
    assert refused == []
    sources = page.evaluate("[...document.scripts].map(s => s.src)")
    assert sources == [f"{app.base_url}/static/js/forms.js"]
    # The page's colours came from the newsletter's accent, through its own stylesheet.
    stripe = page.evaluate("getComputedStyle(document.querySelector('.issue')).borderTopColor")
    assert stripe == "rgb(138, 28, 11)"


def test_signing_up_from_an_issue_page(archive_site, page):
    app, weekly, _ = archive_site
    page.goto(f"{app.base_url}/archive/{weekly.slug}/{weekly.issue_uuid}")
    box = page.locator("#subscribe")
    assert box.get_by_label("The Weekly").is_checked()
    box.get_by_label("Email address").fill(READER)
    box.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    assert statuses(app, READER) == {"the-weekly": "pending"}
