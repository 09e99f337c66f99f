"""Subscribers as CSV, streamed: a million rows in the memory of one batch.

The columns are those an import reads (``email,newsletters``, slugs joined by
``;``), plus what an audience team wants to see; an export can be imported
again as it is. Cells a spreadsheet would run as formulas are written with a
leading quote, which the import takes off again (``core/csvsafe``).
"""

import io
from collections.abc import Iterator

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber, Subscription, SubscriptionStatus
from newsletters.services.core import csvsafe
from newsletters.services.readers.audience import Filters, filtered

BATCH = 1000
COLUMNS = ["email", "newsletters", "status", "pending", "unsubscribed", "created_at"]


def _line(values: list) -> str:
    buffer = io.StringIO()
    csvsafe.writer(buffer).writerow(values)
    return buffer.getvalue()


def subscriber_csv(filters: Filters | None = None) -> Iterator[str]:
    """The header, then one line per reader, fetched a batch at a time by id."""
    yield _line(COLUMNS)
    query, key = filtered((filters or Filters()).check())
    after = 0
    while True:
        batch = list(
            db.session.execute(
                query.with_only_columns(
                    Subscriber.id, Subscriber.email, Subscriber.status, Subscriber.created_at
                )
                .where(key > after)
                .order_by(key)
                .limit(BATCH)
            )
        )
        if not batch:
            return
        lists = _newsletters(batch[0].id, batch[-1].id)
        for row in batch:
            standing = lists.get(row.id, {})
            yield _line(
                [
                    row.email,
                    ";".join(standing.get(SubscriptionStatus.ACTIVE, [])),
                    row.status.value,
                    ";".join(standing.get(SubscriptionStatus.PENDING, [])),
                    ";".join(standing.get(SubscriptionStatus.UNSUBSCRIBED, [])),
                    row.created_at.isoformat(),
                ]
            )
        after = batch[-1].id
        db.session.expire_all()


def _newsletters(first_id: int, last_id: int) -> dict[int, dict[SubscriptionStatus, list[str]]]:
    rows = db.session.execute(
        select(Subscription.subscriber_id, Subscription.status, Newsletter.slug)
        .join(Newsletter)
        .where(Subscription.subscriber_id.between(first_id, last_id))
        .order_by(Newsletter.slug)
    )
    found: dict[int, dict[SubscriptionStatus, list[str]]] = {}
    for subscriber_id, status, slug in rows:
        found.setdefault(subscriber_id, {}).setdefault(status, []).append(slug)
    return found
