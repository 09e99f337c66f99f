"""The console's opens and clicks: an issue's totals and links, and the dashboard's line."""

from uuid import UUID

import pytest

from tests.support.browser import PHONE, screenshot, serious_violations, sign_in_to_console
from tests.support.counting import (
    GMAIL_PROXY,
    counting_links,
    request,
    send_issue,
    totals,
    with_counting,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings, smtp_server):
    return with_counting(settings, smtp_server)


def test_the_issue_page_and_the_dashboard_show_totals_only(console, smtp_server):
    app, page = console
    slug = "counted-weekly"
    messages = send_issue(app, smtp_server, readers=3, slug=slug)
    clicks, [pixel] = counting_links(messages[0])
    for _ in range(2):
        request(app, pixel)
    request(app, pixel, agent=GMAIL_PROXY)
    request(app, clicks[0])
    request(app, clicks[0], method="HEAD")  # a link scanner
    request(app, clicks[2])
    issue = totals(app, slug)

    sign_in_to_console(page, app.base_url)
    chart = page.get_by_role("img", name="Opens and clicks by people")
    chart.wait_for()
    assert "2 opens and 2 clicks" in chart.get_attribute("aria-label")
    assert page.locator("svg.chart circle.point--opens").count() == 1
    assert serious_violations(page) == []
    screenshot(page, "counting-dashboard-desktop")

    page.goto(f"{app.base_url}/admin/issues/{UUID(hex=issue['issue'])}")
    panel = page.locator("#counts")
    panel.wait_for()
    numbers = {
        name: panel.locator(f'dd[data-count="{name}"]').inner_text()
        for name in ("opens", "machine_opens", "clicks", "machine_clicks")
    }
    assert numbers == {"opens": "2", "machine_opens": "1", "clicks": "2", "machine_clicks": "1"}
    rows = panel.locator("tbody tr")
    assert rows.count() == 3
    assert issue["links"][0][1] in rows.nth(0).inner_text()
    assert "@example.com" not in panel.inner_text()  # never a reader
    assert serious_violations(page) == []
    screenshot(page, "counting-issue-desktop")

    page.set_viewport_size(PHONE)
    assert serious_violations(page) == []
    screenshot(page, "counting-issue-phone")
    page.goto(f"{app.base_url}/admin/")
    chart.wait_for()
    screenshot(page, "counting-dashboard-phone")
