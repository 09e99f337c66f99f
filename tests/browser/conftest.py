"""The console as the browser tests start from it: the demo newsletters, an owner, and
a desktop-sized page (signed out)."""

import pytest

from tests.support.admin import create_admin
from tests.support.browser import DESKTOP, OWNER
from tests.support.reader import add_demo_newsletters


@pytest.fixture
def console(live_server, browser):
    add_demo_newsletters(live_server)
    live_server.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    create_admin(live_server, OWNER)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    yield live_server, page
    context.close()
