"""The checks every import row passes, before the preview and again as it is applied.

A row is refused, with the reason, for a bad address, an unknown newsletter (or
none at all), a suppressed address, a repeat of an earlier row, a newsletter the
reader left, or what the other system says (a member deleted or disabled there).
"""

from dataclasses import dataclass, field

from sqlalchemy import select

from newsletters.errors import InvalidEmail
from newsletters.extensions import db
from newsletters.models import ImportJob, Newsletter, Subscriber, Subscription
from newsletters.services.core.addresses import normalize_email
from newsletters.services.mail import suppressions
from newsletters.services.readers import import_files as files
from newsletters.services.readers.import_formats import NEWSLETTERS, Member, State
from newsletters.services.readers.standing import HAS_LEFT

BAD_ADDRESS = "not a valid email address"


@dataclass
class Row:
    """One line of the file, as read and checked."""

    line: int
    member: Member
    email: str = ""
    error: str = ""
    newsletters: list[Newsletter] = field(default_factory=list)


def _wanted_slugs(member: Member, mapping: dict, own: bool) -> list[str]:
    if own:
        return member.slugs
    tags = mapping.get("tags", {})
    mapped = [tags[t.lower()] for t in member.tags if t.lower() in tags]
    return list(dict.fromkeys(mapped)) or list(mapping.get("newsletters", []))


def _read_row(row: Row, job: ImportJob, newsletters: dict[str, Newsletter]) -> None:
    """The row's address and newsletters, or what is wrong with them on their own."""
    member, own = row.member, job.format == NEWSLETTERS
    try:
        row.email = normalize_email(member.email)
    except InvalidEmail:
        row.email, row.error = member.email, BAD_ADDRESS
        return
    if member.state == State.SKIPPED:
        row.error = member.reason
    elif member.state == State.SUBSCRIBED:
        slugs = _wanted_slugs(member, job.mapping or {}, own)
        unknown = [s for s in slugs if s not in newsletters]
        if not slugs:
            row.error = "no newsletter given" if own else "no newsletter chosen for it"
        elif unknown:
            row.error = f"unknown newsletter: {', '.join(unknown)}"
        row.newsletters = [newsletters[s] for s in slugs if s in newsletters]


def check_batch(
    job: ImportJob, rows: list[Row], newsletters: dict, seen: files.SeenAddresses
) -> None:
    """Fill in each row's error, or its address and newsletters; one query per check.
    A row that could not be read at all comes with its error already."""
    for row in rows:
        if not row.error:
            _read_row(row, job, newsletters)
    valid = [r for r in rows if r.email and r.error != BAD_ADDRESS]
    first = seen.first_lines([(r.email, r.line) for r in valid])
    for row in valid:
        if not row.error and first.get(row.email, row.line) != row.line:
            row.error = "repeats an earlier row"
    joining = [r for r in rows if not r.error and r.member.state == State.SUBSCRIBED]
    blocked = suppressions.suppressed_among(r.email for r in joining)
    for row in joining:
        if row.email in blocked:
            row.error = "the address is suppressed"
    _flag_departures([r for r in joining if not r.error])


def _flag_departures(rows: list[Row]) -> None:
    """Report the rows that would put a reader back on a newsletter they left (``has_left``)."""
    if not rows:
        return
    left = db.session.execute(
        select(Subscriber.email, Newsletter.slug)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(Newsletter, Newsletter.id == Subscription.newsletter_id)
        .where(Subscriber.email.in_([r.email for r in rows]), HAS_LEFT)
    ).all()
    departed: dict[str, set[str]] = {}
    for email, slug in left:
        departed.setdefault(email, set()).add(slug)
    for row in rows:
        gone = sorted(departed.get(row.email, set()) & {n.slug for n in row.newsletters})
        if gone:
            row.error = f"unsubscribed earlier from: {', '.join(gone)}"
