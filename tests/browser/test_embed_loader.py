"""The self-sizing signup box: one script tag on a publisher's article, in a real Chromium.

The app runs under a real WSGI server on 127.0.0.1. The publisher's pages come from a
second server, read as http://localhost:<port>: another site, so the box lives in a
cross-site iframe. The same server read as 127.0.0.1 plays a stranger (an ad frame, say).
The loader must keep its iframe exactly as tall as the box at any width, after a signup
and after a failure, and take a height only from its own iframe on the app's own site.
"""

import time

import pytest

from tests.support.browser import serious_violations
from tests.support.mail import free_port
from tests.support.reader import add_demo_newsletters, statuses
from tests.support.web import serving_folder

READER = "reader@example.com"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
SMALL_PHONE = {"width": 320, "height": 640}
FORGED = 5000
MESSAGE = "newsletters:embed-height"
BOX = "#box + iframe"  # the loader puts its iframe right after its script tag

browser_test = pytest.mark.browser


@pytest.fixture
def article_port() -> int:
    """The port of the publisher's site (known early: the app must allow it to frame the box)."""
    return free_port()


@pytest.fixture
def settings(settings, article_port):
    """The publisher's site may frame the box, and a person needs a second to sign up."""
    settings["EMBED_ALLOWED_ORIGINS"] = [f"http://localhost:{article_port}"]
    settings["SIGNUP_MIN_SECONDS"] = 1  # the form's script waits it out before posting
    return settings


@pytest.fixture
def site(live_server):
    """The app, live, with the four demo newsletters."""
    add_demo_newsletters(live_server)
    return live_server


def _article(title: str, body: str) -> str:
    """A publisher's article page with ``body`` between its paragraphs."""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: Georgia, serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem">
<main>
<h1>{title}</h1>
<p>Towns downstream are preparing for the highest water in a decade.</p>
{body}
<p id="after">More from the Ledger: the week's other stories.</p>
</main>
</body></html>"""


@pytest.fixture
def publisher(site, article_port, tmp_path):
    """A publisher's site on another origin; returns the address of one of its pages."""
    root = tmp_path / "publisher"
    root.mkdir()
    loader = f"{site.base_url}/embed/signup.js"
    (root / "article.html").write_text(
        _article(
            "Rivers are running higher",
            f'<script id="box" src="{loader}" data-newsletters="ai-digest,climate-report" async>'
            "</script>",
        ),
        encoding="utf-8",
    )
    (root / "crowded.html").write_text(
        _article(
            "Everything on one page",
            f"""<script id="one" src="{loader}" data-newsletters="the-weekly" async></script>
<script id="box" src="{loader}" async
        data-newsletters="the-weekly,ai-digest,climate-report,morning-briefing"
        data-title="Newsletters from the Ledger"></script>
<iframe id="plain" src="{site.base_url}/embed/signup?newsletters=ai-digest"
        title="Sign up for AI Digest" width="100%" height="430" style="border:0"></iframe>
<iframe id="stranger" src="http://127.0.0.1:{article_port}/stranger.html"
        title="Advertisement" width="300" height="60" style="border:0"></iframe>""",
        ),
        encoding="utf-8",
    )
    (root / "stranger.html").write_text(
        '<!doctype html><html lang="en"><title>Advertisement</title><p>Buy boots.</p></html>',
        encoding="utf-8",
    )
    with serving_folder(root, port=article_port):
        yield lambda name, host="localhost": f"http://{host}:{article_port}/{name}"


@pytest.fixture
def page(browser):
    """A fresh browser tab at desktop width."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    yield page
    context.close()


# --- measuring ----------------------------------------------------------------------------

FRAME_METRICS = """() => {
  const root = document.documentElement;
  return {
    content: document.body.scrollHeight,
    scrollHeight: root.scrollHeight,
    clientHeight: root.clientHeight,
    scrollWidth: root.scrollWidth,
    clientWidth: root.clientWidth,
    url: location.href,
  };
}"""


def _measure(page, selector: str) -> dict:
    """The iframe's height on the article, and the size of the document inside it."""
    iframe = page.locator(selector)
    height = iframe.evaluate("frame => frame.getBoundingClientRect().height")
    inside = iframe.element_handle().content_frame().evaluate(FRAME_METRICS)
    return {"iframe": height, **inside}


def _fitted(metrics: dict) -> bool:
    """As tall as the box, and nothing to scroll inside the frame."""
    return (
        abs(metrics["iframe"] - metrics["content"]) <= 2
        and metrics["scrollHeight"] <= metrics["clientHeight"]
        and metrics["scrollWidth"] <= metrics["clientWidth"]
    )


def _settled(page, selector: str) -> dict:
    """The measurements once the iframe fits, or the last ones after ten seconds."""
    deadline = time.monotonic() + 10
    metrics = _measure(page, selector)
    while not _fitted(metrics) and time.monotonic() < deadline:
        time.sleep(0.05)
        metrics = _measure(page, selector)
    return metrics


def _assert_fits(page, selector: str = BOX) -> dict:
    """Wait until the iframe is as tall as its content; then no blank space, no scrollbar."""
    # Where the reader sees it: Chromium puts off resizing a cross-site frame out of view.
    page.locator(selector).scroll_into_view_if_needed()
    metrics = _settled(page, selector)
    if _fitted(metrics):
        time.sleep(0.2)  # and it stays that way: no back-and-forth between frame and page
        metrics = _measure(page, selector)
    assert abs(metrics["iframe"] - metrics["content"]) <= 2, f"not as tall as the box: {metrics}"
    assert metrics["scrollHeight"] <= metrics["clientHeight"], f"cut off: {metrics}"
    assert metrics["scrollWidth"] <= metrics["clientWidth"], f"scrolls sideways: {metrics}"
    article_width = page.evaluate("document.documentElement.scrollWidth")
    assert article_width <= page.viewport_size["width"], "the article scrolls sideways"
    return metrics


def _box(page, selector: str = BOX):
    """The box inside the iframe, for the reader's clicks."""
    return page.frame_locator(selector)


def _open(page, url: str, selector: str = BOX):
    """Open an article and wait for its box to show."""
    page.goto(url)
    _box(page, selector).get_by_role("heading", name="Stay connected").wait_for()


# --- the script itself --------------------------------------------------------------------


def test_the_loader_is_served_as_cacheable_javascript(client):
    response = client.get("/embed/signup.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cache = response.cache_control
    assert cache.public and cache.max_age == 3600
    assert MESSAGE in response.get_data(as_text=True)


def test_every_page_of_the_box_reports_its_height_from_a_file_not_inline(app, client):
    add_demo_newsletters(app)
    page = client.get("/embed/signup?newsletters=ai-digest").get_data(as_text=True)
    assert '<script src="/static/js/embed-height.js" defer></script>' in page
    assert "<script>" not in page  # the policy allows scripts from the site's own files only
    script = client.get("/static/js/embed-height.js")
    assert script.status_code == 200 and MESSAGE in script.get_data(as_text=True)


# --- fitting ------------------------------------------------------------------------------


@browser_test
def test_the_box_fits_at_every_width_and_follows_a_resize(site, publisher, page):
    _open(page, publisher("article.html"))
    iframe = page.locator(BOX)
    assert iframe.get_attribute("src") == (
        f"{site.base_url}/embed/signup?newsletters=ai-digest,climate-report"
    )
    assert iframe.get_attribute("title") == "Sign up for our newsletters"
    assert iframe.get_attribute("scrolling") == "no"
    assert iframe.get_attribute("loading") == "eager"
    assert iframe.evaluate("f => getComputedStyle(f).borderTopWidth") == "0px"
    desktop = _assert_fits(page)
    # The article goes on right under the box: no gap between them.
    gap = page.evaluate(
        """() => document.querySelector('#after').getBoundingClientRect().top
                 - document.querySelector('#box + iframe').getBoundingClientRect().bottom"""
    )
    assert gap < 40
    page.set_viewport_size(PHONE)
    phone = _assert_fits(page)
    assert phone["iframe"] > desktop["iframe"]  # it really grew: the narrow box is taller
    page.set_viewport_size(SMALL_PHONE)
    _assert_fits(page)
    page.set_viewport_size(DESKTOP)
    assert abs(_assert_fits(page)["iframe"] - desktop["iframe"]) <= 2


@browser_test
def test_the_box_fits_when_first_opened_on_a_phone(publisher, browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    _open(page, publisher("article.html"))
    _assert_fits(page)
    context.close()


@browser_test
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_after_signing_up_the_box_fits_the_thank_you(site, publisher, page, viewport):
    page.set_viewport_size(viewport)
    _open(page, publisher("article.html"))
    form = _assert_fits(page)
    box = _box(page)
    box.get_by_label("Climate Report").uncheck()
    box.get_by_label("AI Digest").uncheck()
    box.get_by_label("AI Digest").check()
    box.get_by_label("Email address").fill(READER)
    box.get_by_role("button", name="Sign up").click()
    box.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    thanks = _assert_fits(page)
    # The thank-you is not as tall as the form, so the iframe really followed the change.
    assert abs(thanks["iframe"] - form["iframe"]) > 2
    assert statuses(site, READER) == {"ai-digest": "pending"}


@browser_test
def test_without_the_form_script_the_thank_you_page_fits_too(site, publisher, page):
    page.route("**/static/js/forms.js", lambda route: route.abort())
    page.set_viewport_size(PHONE)
    _open(page, publisher("article.html"))
    _assert_fits(page)
    box = _box(page)
    box.get_by_label("Climate Report").uncheck()
    box.get_by_label("Email address").fill(READER)
    time.sleep(1.1)  # a person takes longer than SIGNUP_MIN_SECONDS to fill a form
    box.get_by_role("button", name="Sign up").click()
    box.get_by_role("heading", name="Thank you for submitting your email!").wait_for()
    metrics = _assert_fits(page)
    assert metrics["url"].endswith("/subscribe")  # the box's own thank-you page
    assert statuses(site, READER) == {"ai-digest": "pending"}


@browser_test
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_when_saving_fails_the_box_grows_to_show_the_message(site, publisher, page, viewport):
    page.route(f"{site.base_url}/subscribe", lambda route: route.abort("connectionreset"))
    page.set_viewport_size(viewport)
    _open(page, publisher("article.html"))
    form = _assert_fits(page)
    box = _box(page)
    box.get_by_label("Email address").fill(READER)
    box.get_by_role("button", name="Sign up").click()
    box.locator("[data-failure]").wait_for(state="visible", timeout=30_000)
    failed = _assert_fits(page)
    assert failed["iframe"] > form["iframe"] + 40
    box.get_by_role("button", name="Try again").wait_for()


# --- several boxes, and heights from anywhere else ----------------------------------------


@browser_test
def test_several_boxes_on_one_page_each_fit_their_own(site, publisher, page):
    page.goto(publisher("crowded.html"))
    for selector in ("#one + iframe", BOX, "#plain"):
        _box(page, selector).get_by_role("heading", name="Stay connected").wait_for()
    one = _assert_fits(page, "#one + iframe")
    every = _assert_fits(page, BOX)
    assert every["iframe"] > one["iframe"] + 60  # four newsletters take more room than one
    assert page.locator(BOX).get_attribute("title") == "Newsletters from the Ledger"
    assert page.locator("iframe").count() == 4  # each script placed one box, once
    # The plain iframe still works as it always did, at the height its publisher chose.
    plain = page.locator("#plain")
    assert plain.evaluate("f => f.getBoundingClientRect().height") == 430
    _box(page, "#plain").get_by_role("button", name="Sign up").wait_for()
    page.set_viewport_size(PHONE)
    _assert_fits(page, "#one + iframe")
    _assert_fits(page, BOX)
    assert plain.evaluate("f => f.getBoundingClientRect().height") == 430


def _forge_from(page, sender, selector: str = BOX) -> None:
    """Post a forged height from ``sender`` (a page or a frame); the box must keep its own."""
    before = page.locator(selector).evaluate("f => f.getBoundingClientRect().height")
    # This listener comes after the loader's, so once it has heard the message, so has the
    # loader.
    page.evaluate(
        """forged => { window.forgeryArrived = new Promise(resolve => {
             addEventListener("message", event => {
               if (event.data && event.data.height === forged) resolve();
             });
           }); }""",
        FORGED,
    )
    sender.evaluate(
        "([type, height]) => window.parent.postMessage({type, height}, '*')", [MESSAGE, FORGED]
    )
    page.evaluate("() => window.forgeryArrived")
    after = page.locator(selector).evaluate("f => f.getBoundingClientRect().height")
    assert after == before != FORGED


@browser_test
def test_a_height_from_anyone_but_the_box_itself_is_ignored(site, publisher, page):
    page.goto(publisher("crowded.html"))
    for selector in ("#one + iframe", BOX, "#plain"):
        _box(page, selector).get_by_role("heading", name="Stay connected").wait_for()
    _assert_fits(page, BOX)

    def frame(selector):
        """The document inside one of the article's iframes."""
        return page.locator(selector).element_handle().content_frame()

    _forge_from(page, page)  # the article's own window
    stranger = frame("#stranger")
    assert stranger.url.startswith("http://127.0.0.1:")
    _forge_from(page, stranger)  # a frame from another site
    _forge_from(page, frame("#plain"))  # the app's own site, but not this box
    # Another box of ours on the same page: its own iframe may take that height, but only
    # until the box sees its frame is the wrong size and says its real height again.
    _forge_from(page, frame("#one + iframe"))
    _assert_fits(page, "#one + iframe")

    # The box's own frame, once it shows another site's page, is not the box any more.
    box = frame(BOX)
    with box.expect_navigation():
        box.evaluate("url => { location.href = url; }", publisher("stranger.html", "127.0.0.1"))
    assert box.url.startswith("http://127.0.0.1:") and not box.url.startswith(site.base_url)
    _forge_from(page, box)


# --- accessible ---------------------------------------------------------------------------


@browser_test
@pytest.mark.parametrize("viewport", [DESKTOP, SMALL_PHONE], ids=["desktop", "small-phone"])
def test_the_box_in_an_article_passes_axe(publisher, page, viewport):
    page.set_viewport_size(viewport)
    _open(page, publisher("article.html"))
    _assert_fits(page)
    box = page.locator(BOX).element_handle().content_frame()
    assert serious_violations(box) == []
    assert serious_violations(page) == []  # the iframe's name, and the article around it
