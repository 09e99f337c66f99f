"""Issues that went out, newest first, with what became of their deliveries: for the
publisher's own dashboards (the JSON API).

An issue has gone out once it was rendered for sending: it is ``sending``, ``paused``,
``sent``, or ``cancelled`` part way. Its counts:

- **recipients**: every reader the issue was addressed to (one delivery each);
- **sent**: handed to the mail server (``sent``, or ``bounced`` by a report since);
- **failed**: not delivered yet after an error (retried until the attempts run out);
- **bounced**: refused for good, by the server at once or by a later report;
- **complained**: messages a reader marked as spam (a complaint report names them);
- **opens**, **machine_opens**: fetches of the open pixel by people, and by machines
  (image proxies, privacy protection, scanners), when the issue counted opens; else null;
- **clicks**, **machine_clicks**: the same for its story links, when it counted clicks.

Pages are keyed by (rendered time, id), so a page costs the same however deep it is
and an issue that starts sending meanwhile shifts nothing.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import DeliveryStatus, Issue, IssueLink, IssueStatus
from newsletters.services.catalogue import newsletter_by_slug
from newsletters.services.issues import delivery_tally

GONE_OUT = (IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT, IssueStatus.CANCELLED)
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
LIMIT = re.compile(r"[0-9]{1,3}")
# A cursor names the last issue of a page: microseconds since the epoch, and its id.
CURSOR = re.compile(r"([0-9]{1,17})\.([0-9]{1,10})")
MAX_ID = 2**31 - 1
COUNTS = ("recipients", "sent", "failed", "bounced", "complained")
# Null when the issue did not count them (TRACK_OPENS, TRACK_CLICKS were off as it went out).
ENGAGEMENT = ("opens", "machine_opens", "clicks", "machine_clicks")


@dataclass
class SentPage:
    """One page of issues with their counts, and the cursor of the next page (None: last)."""

    issues: list[tuple[Issue, dict[str, int]]] = field(default_factory=list)
    next_cursor: str | None = None


def checked_limit(text: str | None) -> int:
    """A page size from the query string: 1 to 100, 20 when absent."""
    if text is None:
        return DEFAULT_LIMIT
    if not LIMIT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}.", field="limit")
    return int(text)


def _cursor(issue: Issue) -> str:
    micros = int(issue.rendered_at.timestamp()) * 1_000_000 + issue.rendered_at.microsecond
    return f"{micros}.{issue.id}"


def _after(text: str) -> tuple[datetime, int]:
    """The (rendered time, id) a cursor names; :class:`InvalidInput` for anything else."""
    match = CURSOR.fullmatch(text)
    if not match or int(match[2]) > MAX_ID:
        raise InvalidInput("cursor must be a next_cursor this API gave.", field="cursor")
    seconds, micros = divmod(int(match[1]), 1_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidInput("cursor must be a next_cursor this API gave.", field="cursor") from exc
    return moment, int(match[2])


def _counts(issue_ids: list[int]) -> dict[int, dict[str, int]]:
    """The counts of each issue, pruned deliveries included: a few grouped queries, whatever
    the number of deliveries."""
    found = {}
    for issue_id, tally in delivery_tally.tallies(issue_ids).items():
        found[issue_id] = {
            "recipients": sum(counted.deliveries for counted in tally.values()),
            "sent": tally[DeliveryStatus.SENT].handed_over
            + tally[DeliveryStatus.BOUNCED].handed_over,
            "failed": tally[DeliveryStatus.FAILED].deliveries,
            "bounced": tally[DeliveryStatus.BOUNCED].deliveries,
            "complained": sum(counted.complained for counted in tally.values()),
        }
    return found


def _engagement(issues: list[Issue]) -> dict[int, dict[str, int | None]]:
    """Each issue's opens and clicks, people and machines apart; None where it did not count."""
    clicks = {
        issue_id: (people, machines)
        for issue_id, people, machines in db.session.execute(
            select(
                IssueLink.issue_id,
                func.coalesce(func.sum(IssueLink.clicks), 0),
                func.coalesce(func.sum(IssueLink.machine_clicks), 0),
            )
            .where(IssueLink.issue_id.in_([issue.id for issue in issues]))
            .group_by(IssueLink.issue_id)
        )
    }
    found = {}
    for issue in issues:
        people, machines = clicks.get(issue.id, (0, 0))
        found[issue.id] = {
            "opens": issue.opens if issue.track_opens else None,
            "machine_opens": issue.machine_opens if issue.track_opens else None,
            "clicks": people if issue.track_clicks else None,
            "machine_clicks": machines if issue.track_clicks else None,
        }
    return found


def sent_issues(
    limit: int = DEFAULT_LIMIT, cursor: str | None = None, newsletter: str | None = None
) -> SentPage:
    """A page of the issues that went out, newest first, of one newsletter (its slug;
    :class:`NotFound` if there is none) or of all, after ``cursor`` (a page's next_cursor)."""
    query = select(Issue).where(Issue.status.in_(GONE_OUT), Issue.rendered_at.is_not(None))
    if newsletter is not None:
        query = query.where(Issue.newsletter_id == newsletter_by_slug(newsletter).id)
    if cursor is not None:
        moment, issue_id = _after(cursor)
        query = query.where(
            (Issue.rendered_at < moment) | ((Issue.rendered_at == moment) & (Issue.id < issue_id))
        )
    rows = list(
        db.session.scalars(
            query.order_by(Issue.rendered_at.desc(), Issue.id.desc()).limit(limit + 1)
        )
    )
    issues = rows[:limit]
    counts = _counts([issue.id for issue in issues])
    for issue_id, engagement in _engagement(issues).items():
        counts[issue_id].update(engagement)
    more = len(rows) > limit
    return SentPage(
        [(issue, counts[issue.id]) for issue in issues], _cursor(issues[-1]) if more else None
    )
