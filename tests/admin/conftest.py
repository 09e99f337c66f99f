"""The issue desk the editor's tests start from: The Weekly, three readers, and its
next issue opened in the editor by the signed-in owner."""

import pytest

from tests.support.issue_desk import add_desk, open_issue


@pytest.fixture
def readers(app) -> list[str]:
    return add_desk(app)


@pytest.fixture
def key(owner, readers) -> str:
    """The id of the issue open in the editor."""
    return open_issue(owner)
