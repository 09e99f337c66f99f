"""Issues sent to many readers and the reports that came back, inserted in bulk, for the rates."""

from datetime import datetime, timedelta
from html.parser import HTMLParser
from itertools import count
from uuid import uuid4

from sqlalchemy import insert, select

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    Subscriber,
    SubscriberStatus,
    utcnow,
)

CHUNK = 5000
OUTCOMES = {BounceKind.HARD: "suppressed", BounceKind.SOFT: "counted"}
OUTCOMES[BounceKind.COMPLAINT] = "unsubscribed"
_keys = count(1)


def add_issue(
    app,
    newsletter_id: int,
    sent_at: datetime,
    subject: str = "This week",
    *,
    completed_at: datetime | None = None,
) -> int:
    """A sent issue whose week ended at ``sent_at``, finished then (or at ``completed_at``);
    returns its id."""
    with app.app_context():
        issue = Issue(
            newsletter_id=newsletter_id,
            period_start=sent_at - timedelta(days=7),
            period_end=sent_at,
            status=IssueStatus.SENT,
            subject=subject,
            rendered_at=sent_at,
            materialized_at=sent_at,
            completed_at=completed_at or sent_at,
        )
        db.session.add(issue)
        db.session.commit()
        return issue.id


def add_sent(
    app,
    issue_id: int,
    domain: str,
    number: int,
    sent_at: datetime,
    *,
    status: DeliveryStatus = DeliveryStatus.SENT,
) -> list[int]:
    """``number`` new readers at ``domain``, each with a delivery of the issue sent at ``sent_at``;
    returns the delivery ids."""
    prefix = uuid4().hex[:8]
    now = utcnow()
    ids: list[int] = []
    with app.app_context():
        for start in range(0, number, CHUNK):
            emails = [f"r{prefix}-{n}@{domain}" for n in range(start, min(start + CHUNK, number))]
            db.session.execute(
                insert(Subscriber),
                [
                    {
                        "uuid": uuid4(),
                        "email": email,
                        "status": SubscriberStatus.CONFIRMED,
                        "created_at": now,
                        "updated_at": now,
                        "confirmed_at": now,
                    }
                    for email in emails
                ],
            )
            readers = db.session.scalars(
                select(Subscriber.id).where(Subscriber.email.in_(emails)).order_by(Subscriber.id)
            ).all()
            db.session.execute(
                insert(Delivery),
                [
                    {
                        "issue_id": issue_id,
                        "subscriber_id": reader,
                        "status": status,
                        "attempts": 1,
                        "sent_at": sent_at,
                    }
                    for reader in readers
                ],
            )
            ids += db.session.scalars(
                select(Delivery.id)
                .where(Delivery.issue_id == issue_id, Delivery.subscriber_id.in_(readers))
                .order_by(Delivery.id)
            ).all()
            db.session.commit()
    return ids


def add_reports(
    app,
    delivery_ids: list[int],
    kind: BounceKind,
    received_at: datetime | None = None,
    *,
    source: str = "generic",
) -> None:
    """One stored report of ``kind`` for each delivery, as the rules would have stored it."""
    when = received_at or utcnow()
    if not delivery_ids:
        return
    with app.app_context():
        rows = db.session.execute(
            select(
                Delivery.id, Delivery.issue_id, Issue.newsletter_id, Subscriber.id, Subscriber.email
            )
            .join(Issue, Issue.id == Delivery.issue_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.id.in_(delivery_ids))
        ).all()
        db.session.execute(
            insert(BounceReport),
            [
                {
                    "source": source,
                    "event_key": f"test-{next(_keys)}-{uuid4().hex[:6]}",
                    "kind": kind,
                    "outcome": OUTCOMES[kind],
                    "email": email,
                    "domain": email.rpartition("@")[2],
                    "subscriber_id": reader,
                    "newsletter_id": newsletter_id,
                    "issue_id": issue_id,
                    "delivery_id": delivery_id,
                    "status": "5.1.1" if kind == BounceKind.HARD else "",
                    "detail": "",
                    "received_at": when,
                }
                for delivery_id, issue_id, newsletter_id, reader, email in rows
            ],
        )
        db.session.commit()


def add_loose_reports(app, number: int, received_at: datetime, kind=BounceKind.UNKNOWN) -> None:
    """``number`` reports tied to no message (for pruning), received at ``received_at``."""
    with app.app_context():
        for start in range(0, number, CHUNK):
            db.session.execute(
                insert(BounceReport),
                [
                    {
                        "source": "mailbox",
                        "event_key": f"loose-{next(_keys)}-{uuid4().hex[:6]}",
                        "kind": kind,
                        "outcome": "kept",
                        "status": "",
                        "detail": "",
                        "received_at": received_at,
                    }
                    for _ in range(start, min(start + CHUNK, number))
                ],
            )
            db.session.commit()


class _TableReader(HTMLParser):
    """The text of every cell of one table, row by row, and its caption, as a screen reader
    gets it: drawings marked aria-hidden are left out."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.depth = table_id, False, 0
        self.rows: list[list[str]] = []
        self.caption, self.cell = "", None
        self.in_caption = False
        self.hidden: list[str] = []  # the open tags of an aria-hidden drawing

    def handle_starttag(self, tag, attrs):
        if self.hidden or dict(attrs).get("aria-hidden") == "true":
            self.hidden.append(tag)
        elif tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = []
        elif self.inside and tag == "caption":
            self.in_caption = True

    def handle_endtag(self, tag):
        if self.hidden:
            self.hidden.pop()
            return
        if not self.inside:
            return
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "caption":
            self.in_caption = False
        elif tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.hidden:
            return
        if self.cell is not None:
            self.cell.append(data)
        elif self.in_caption:
            self.caption += data


def table_rows(html: str, table_id: str) -> tuple[str, list[list[str]]]:
    """The caption and the rows (header row first) of the table with this id on a page."""
    reader = _TableReader(table_id)
    reader.feed(html)
    return " ".join(reader.caption.split()), reader.rows
