"""Fixtures the deliverability tests share."""

import pytest

from tests.support.readers import add_newsletter, add_readers


@pytest.fixture
def reader(app) -> str:
    """One confirmed reader of a new newsletter: whom a provider's report names."""
    return add_readers(app, add_newsletter(app), 1)[0]
