import pytest


@pytest.fixture
def settings(settings):
    # The receivers run on this machine's loopback; production refuses such addresses.
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True
    settings["WEBHOOK_TIMEOUT_SECONDS"] = 2.0
    return settings


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
