"""Counting a click or an open: one addition to a total, and nothing else written.

The statements are ``UPDATE ... SET clicks = clicks + 1``: the database adds, so any
number of requests at once are all counted, with no read-modify-write to lose one.
Nothing about the request (address, user agent, time) is stored; it is looked at once,
to tell a machine from a person (:mod:`.machines`), and forgotten.
"""

from datetime import datetime

from sqlalchemy import select, update

from newsletters.errors import InvalidToken
from newsletters.extensions import db
from newsletters.models import Issue, IssueLink
from newsletters.services.issues import tracking
from newsletters.services.issues.machines import Fetch, is_machine_click, is_machine_open


def click_target(token: str) -> tuple[int, str, datetime | None]:
    """The link row a click token names: (row id, story URL, when the issue started).

    :class:`InvalidToken` for a token that does not verify, or names no link we sent.
    """
    issue_uuid, position = tracking.read_click_token(token)
    row = db.session.execute(
        select(IssueLink.id, IssueLink.url, Issue.rendered_at)
        .join(Issue, Issue.id == IssueLink.issue_id)
        .where(Issue.uuid == issue_uuid, IssueLink.position == position)
    ).first()
    if row is None:
        raise InvalidToken()
    return row.id, row.url, row.rendered_at


def count_click(link_id: int, fetch: Fetch) -> bool:
    """Add one click to the link (a machine's apart); True when it was a machine's."""
    machine = is_machine_click(fetch)
    _add_one(IssueLink, link_id, IssueLink.machine_clicks if machine else IssueLink.clicks)
    return machine


def open_target(token: str) -> tuple[int, datetime | None]:
    """The issue an open token names, if it counts opens: (issue id, when it started).

    :class:`InvalidToken` for a token that does not verify, or an issue without a pixel.
    """
    issue_uuid = tracking.read_open_token(token)
    row = db.session.execute(
        select(Issue.id, Issue.rendered_at).where(Issue.uuid == issue_uuid, Issue.track_opens)
    ).first()
    if row is None:
        raise InvalidToken()
    return row.id, row.rendered_at


def count_open(issue_id: int, fetch: Fetch) -> bool:
    """Add one open to the issue (a machine's apart); True when it was a machine's."""
    machine = is_machine_open(fetch)
    _add_one(Issue, issue_id, Issue.machine_opens if machine else Issue.opens)
    return machine


def _add_one(model, row_id: int, column) -> None:
    """One more in a counter, added by the database: concurrent requests never lose one."""
    db.session.execute(
        update(model)
        .where(model.id == row_id)
        .values({column.key: column + 1})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
