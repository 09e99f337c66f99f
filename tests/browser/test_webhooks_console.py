"""The webhooks pages in Chromium, at desktop and phone widths: add an endpoint, read its
deliveries, replay one. No serious accessibility violations."""

import pytest

from newsletters.extensions import db
from newsletters.services.integrations import webhook_dispatch, webhook_events
from tests.support.browser import PHONE, screenshot, serious_violations, sign_in_to_console
from tests.support.webhooks import receiving

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings):
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the receiver is on loopback
    return settings


def _events_and_a_pass(app, answers):
    with app.app_context():
        for n, status in enumerate(answers):
            webhook_events.emit("subscriber.erased", {"subscriber": {"id": str(n), "email": "e"}})
            db.session.commit()
            yield status
            webhook_dispatch.dispatch()


def test_add_an_endpoint_read_its_deliveries_and_replay_one(console):
    app, page = console
    with receiving() as receiver:
        sign_in_to_console(page, app.base_url)
        page.get_by_role("link", name="Webhooks", exact=True).click()
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("Description").fill("CRM contacts")
        page.get_by_label("subscriber.erased").check()
        page.get_by_label("subscription.unsubscribed").check()
        page.get_by_role("button", name="Add endpoint").click()
        page.get_by_role("heading", name="Endpoint added").wait_for()
        receiver.secret = page.locator("[data-new-secret]").inner_text()
        assert receiver.secret.startswith("whsec_")
        assert serious_violations(page) == []
        screenshot(page, "admin-webhooks-desktop")

        for status in _events_and_a_pass(app, [200, 500]):
            receiver.answer = status
        page.goto(f"{app.base_url}/admin/webhooks")
        page.get_by_role("link", name=receiver.url).click()
        page.get_by_role("heading", name="Deliveries").wait_for()
        assert page.get_by_text("the endpoint answered 500").is_visible()
        assert serious_violations(page) == []
        screenshot(page, "admin-webhook-desktop")
        page.set_viewport_size(PHONE)
        screenshot(page, "admin-webhook-phone")
        assert serious_violations(page) == []
        page.goto(f"{app.base_url}/admin/webhooks")
        screenshot(page, "admin-webhooks-phone")

        page.get_by_role("link", name=receiver.url).click()
        receiver.answer = 200
        page.get_by_role("button", name="Replay").first.click()
        page.get_by_text("again (same webhook-id)").wait_for()
        with app.app_context():
            webhook_dispatch.dispatch()
        assert all(a.verified for a in receiver.arrivals)
        assert len(receiver.arrivals) == 3
