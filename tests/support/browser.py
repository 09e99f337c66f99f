"""What the Chromium tests share: signing in to the console, and axe's verdict on a page."""

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

from tests.support.admin import PASSWORD

OWNER = "owner@publisher.example"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def screenshot(page, name: str) -> None:
    """The whole page, as screenshots/<name>.png, to be looked at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def serious_violations(page) -> list[str]:
    """axe's serious and critical findings on the page, one line each: none is a pass."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} ({[n['target'] for n in v['nodes']]})"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def sign_in_to_console(page, base_url: str, email: str = OWNER) -> None:
    """Sign in as an admin (made with ``create_admin``) through the console's own form."""
    page.goto(base_url + "/admin/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
