"""The admin console in Chromium: sign in, create a newsletter, import a CSV, read the chart."""

import pytest

from tests.support.browser import (
    DESKTOP,
    PHONE,
    screenshot,
    serious_violations,
    sign_in_to_console,
)
from tests.support.reader import sign_up

pytestmark = pytest.mark.browser


def test_sign_in_create_a_newsletter_import_and_read_the_chart(console, tmp_path):
    app, page = console
    client = app.test_client()
    for n in range(3):
        sign_up(client, f"reader{n}@example.com", "the-weekly")
    sign_in_to_console(page, app.base_url)

    # The chart: three series over 90 days, described for screen readers.
    chart = page.get_by_role("img", name="Daily activity over the last 90 days")
    chart.wait_for()
    assert page.locator("svg.chart polyline").count() == 3
    assert "3 signups" in chart.get_attribute("aria-label")
    assert serious_violations(page) == []
    screenshot(page, "admin-dashboard-desktop")

    # A new newsletter.
    page.get_by_role("link", name="Newsletters", exact=True).click()
    page.get_by_role("link", name="New newsletter").click()
    page.get_by_label("Name", exact=True).fill("Science Weekly")
    page.get_by_label("Slug").fill("science-weekly")
    page.get_by_label("Description").fill("Discoveries, explained.")
    page.get_by_label("Send on").select_option("thu")
    page.get_by_role("button", name="Create newsletter").click()
    page.get_by_text("Science Weekly is ready.").wait_for()
    assert page.get_by_role("row", name="Science Weekly").is_visible()

    # An import, checked in the background, previewed, then applied.
    csv_file = tmp_path / "readers.csv"
    csv_file.write_text(
        "email,newsletters\nnew1@example.com,science-weekly\nbroken,science-weekly\n"
        "new2@example.com,science-weekly;the-weekly\n"
    )
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("heading", name="Ready to import").wait_for(timeout=20_000)
    assert page.get_by_role("cell", name="not a valid email address").is_visible()
    page.get_by_role("button", name="Import 2 rows").click()
    page.get_by_role("heading", name="Imported").wait_for(timeout=20_000)

    # The imported reader, and their history.
    page.get_by_role("link", name="Subscribers", exact=True).click()
    page.get_by_label("Address starts with").fill("new2")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="new2@example.com").click()
    page.get_by_role("heading", name="new2@example.com").wait_for()
    assert page.get_by_role("cell", name="imported").first.is_visible()
    assert serious_violations(page) == []
    screenshot(page, "admin-subscriber-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "admin-subscriber-phone")
    page.goto(app.base_url + "/admin/subscribers")
    screenshot(page, "admin-subscribers-phone")
    page.set_viewport_size(DESKTOP)
    page.goto(app.base_url + "/admin/subscribers")
    screenshot(page, "admin-subscribers-desktop")
    page.goto(app.base_url + "/admin/")
    page.set_viewport_size(PHONE)
    screenshot(page, "admin-dashboard-phone")


def test_the_deliverability_page_reads_without_colour(console):
    from datetime import timedelta

    from newsletters.models import BounceKind, utcnow
    from tests.support.rates import add_issue, add_reports, add_sent

    app, page = console
    when = utcnow() - timedelta(days=3)
    issue = add_issue(app, 1, when, "Budget vote, the new bridge, and a week of rain")
    for domain, sent, complaints in (
        ("gmail.com", 2400, 9),
        ("yahoo.com", 1200, 1),
        ("a.example", 60, 1),
    ):
        ids = add_sent(app, issue, domain, sent, when)
        add_reports(app, ids[:complaints], BounceKind.COMPLAINT, when + timedelta(hours=2))
        add_reports(
            app, ids[complaints : complaints + 8], BounceKind.HARD, when + timedelta(hours=1)
        )
    sign_in_to_console(page, app.base_url)
    page.get_by_role("link", name="Deliverability", exact=True).click()
    page.get_by_role("heading", name="Deliverability", level=1).wait_for()
    for name in ("Issues", "Newsletters", "Recipient domains", "Latest reports"):
        assert page.get_by_role("heading", name=name, exact=True).is_visible()
    gmail = page.locator("#domain-rates").get_by_role("row", name="gmail.com")
    assert "0.38%" in gmail.inner_text() and "At or above 0.3%" in gmail.inner_text()
    assert page.get_by_role("alert").filter(has_text="Complaints at or above 0.3%").is_visible()
    assert serious_violations(page) == []
    screenshot(page, "admin-deliverability-desktop")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert serious_violations(page) == []
    screenshot(page, "admin-deliverability-phone")
