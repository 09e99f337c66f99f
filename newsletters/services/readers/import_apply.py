"""Applying a batch of another system's members: a few statements per batch, never per row.

Subscribed members become active readers whose consent record is the export's
own (opt-in and confirm times and IPs, source ``import:<format>``); members that
had left or bounced there become suppressions here. Newsletters a reader left
here are refused before this runs (``imports``), and an active subscription is
left as it is, so a batch applied twice changes nothing the second time.
"""

from datetime import datetime
from uuid import uuid4

from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import (
    Event,
    EventKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
)
from newsletters.services.core import sql
from newsletters.services.mail import suppressions
from newsletters.services.readers.import_formats import State

SUPPRESSION_FOR = {
    State.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBED,
    State.CLEANED: SuppressionReason.BOUNCED,
    State.COMPLAINED: SuppressionReason.COMPLAINED,
}


def source_for(format_name: str) -> str:
    """What an imported reader's subscriptions and history say they came from."""
    return f"import:{format_name}"


def suppress_departed(rows, format_name: str) -> int:
    """Suppress the members the export says left, bounced or complained; how many."""
    count = 0
    for state, reason in SUPPRESSION_FOR.items():
        addresses = [r.email for r in rows if r.member.state == state]
        detail = f"{state.value} in the {format_name} export"
        suppressions.suppress_many(addresses, reason, detail)
        count += len(addresses)
    return count


def _subscriber_ids(addresses: list[str]) -> dict[str, int]:
    if not addresses:
        return {}
    # A statement run with a list of parameters (executemany) compiles once and is cached;
    # a VALUES list built for each batch would be compiled anew every time.
    db.session.connection().execute(
        sql.insert(Subscriber.__table__).on_conflict_do_nothing(index_elements=["email"]),
        [{"uuid": uuid4(), "email": a, "status": SubscriberStatus.PENDING} for a in addresses],
    )
    return dict(
        db.session.execute(
            select(Subscriber.email, Subscriber.id).where(Subscriber.email.in_(addresses))
        ).all()
    )


def subscribe_members(rows, format_name: str, job_label: str, now: datetime) -> int:
    """Make each subscribed member active on their newsletters, with the export's consent.

    Returns how many rows added a newsletter; each such reader gets one history entry.
    """
    ids = _subscriber_ids(sorted({r.email for r in rows}))
    if not ids:
        return 0
    current = {
        (subscriber_id, newsletter_id): status
        for subscriber_id, newsletter_id, status in db.session.execute(
            select(Subscription.subscriber_id, Subscription.newsletter_id, Subscription.status)
            .where(Subscription.subscriber_id.in_(list(ids.values())))
        )
    }  # fmt: skip
    source = source_for(format_name)
    values = []
    for row in rows:
        subscriber_id = ids[row.email]
        for newsletter in row.newsletters:
            standing = current.get((subscriber_id, newsletter.id))
            if standing not in (None, SubscriptionStatus.PENDING):
                continue  # active here already, or left: never touched
            current[(subscriber_id, newsletter.id)] = SubscriptionStatus.ACTIVE
            values.append(
                {
                    "subscriber_id": subscriber_id,
                    "newsletter_id": newsletter.id,
                    "status": SubscriptionStatus.ACTIVE,
                    "requested_at": now,
                    "confirmed_at": now,
                    "source": source,
                    "consent_version": source,
                }
            )
    if not values:
        return 0
    activated = _activate(values, now)
    events = [
        _consent_event(row, ids[row.email], added, format_name, job_label, now)
        for row in rows
        if (added := [n for n in row.newsletters if (ids[row.email], n.id) in activated])
    ]
    if not events:
        return 0
    confirmed = [event["subscriber_id"] for event in events]
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_(confirmed), Subscriber.status == SubscriberStatus.PENDING)
        .values(status=SubscriberStatus.CONFIRMED, confirmed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.connection().execute(sql.insert(Event.__table__), events)
    return len(events)


def _activate(values: list[dict], now: datetime) -> set[tuple[int, int]]:
    """Insert the subscriptions, or activate those still pending; the (subscriber,
    newsletter) pairs this statement wrote.

    Only these get a consent entry. Another run applying the same batch at the same
    time (an import resumed twice) waits on the rows this one locks, then finds them
    active and writes nothing: its statement returns none of them, so the reader's
    history gets one entry, never two.
    """
    statement = sql.insert(Subscription.__table__)
    table = Subscription.__table__
    written = db.session.connection().execute(
        statement.on_conflict_do_update(
            index_elements=["subscriber_id", "newsletter_id"],
            set_={
                **sql.as_offered(
                    statement, "status", "requested_at", "confirmed_at", "source", "consent_version"
                ),
                "updated_at": now,
            },
            where=table.c.status == SubscriptionStatus.PENDING,
        ).returning(table.c.subscriber_id, table.c.newsletter_id),
        values,
    )
    return {(subscriber_id, newsletter_id) for subscriber_id, newsletter_id in written}


def _consent_event(row, subscriber_id: int, added, format_name, job_label, now) -> dict:
    """The history entry of a member who joined: the export's own record of their consent."""
    consent, source = row.member.consent, source_for(format_name)
    return {
        "subscriber_id": subscriber_id,
        "kind": EventKind.IMPORTED,
        "newsletters": [n.slug for n in added],
        "created_at": now,
        "ip": (consent.get("confirm_ip") or consent.get("optin_ip") or "")[:45] or None,
        "user_agent": job_label[:512],
        "source": source,
        "consent_version": source,
        "detail": {"format": format_name, "tags": row.member.tags, **consent},
    }
