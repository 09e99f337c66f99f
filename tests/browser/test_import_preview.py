"""The import preview in Chromium: a Mailchimp export, its mapping adjusted, at two widths."""

from pathlib import Path

import pytest

from tests.support.browser import (
    PHONE,
    screenshot,
    serious_violations,
    sign_in_to_console,
)

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def test_a_mailchimp_export_is_previewed_mapped_and_imported(console):
    app, page = console
    sign_in_to_console(page, app.base_url)
    page.get_by_role("link", name="Import", exact=True).click()
    assert serious_violations(page) == []
    page.get_by_label("CSV file").set_input_files(str(FIXTURES / "mailchimp_subscribed.csv"))
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("heading", name="Ready to import").wait_for(timeout=20_000)
    assert page.get_by_text("Mailchimp audience export").first.is_visible()
    assert page.get_by_role("cell", name="not a valid email address").is_visible()
    assert page.get_by_role("cell", name="no newsletter chosen for it").first.is_visible()

    # Map the Weekly tag, and send untagged members to AI Digest; check again.
    page.get_by_label("weekly", exact=True).select_option("the-weekly")
    page.get_by_label("AI Digest", exact=True).check()
    page.get_by_role("button", name="Check again with this mapping").click()
    page.get_by_role("heading", name="Ready to import").wait_for(timeout=20_000)
    assert page.get_by_role("button", name="Import 3 rows").is_visible()
    assert page.get_by_role("cell", name="repeats an earlier row").is_visible()
    assert serious_violations(page) == []
    screenshot(page, "admin-import-preview-desktop")
    page.set_viewport_size(PHONE)
    assert serious_violations(page) == []
    screenshot(page, "admin-import-preview-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the preview scrolls sideways on a phone ({width}px)"

    page.get_by_role("button", name="Import 3 rows").click()
    page.get_by_role("heading", name="Imported").wait_for(timeout=20_000)
    assert page.get_by_text("3 rows imported").is_visible()
