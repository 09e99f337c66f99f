"""Apply one bounce, complaint or provider event: the rules, each in one transaction.

Every report, from the bounce mailbox or a provider's webhook, comes here as a
:class:`BounceEvent` and is stored once: the pair (source, event_key) is
unique, so a replayed webhook or a mailbox polled twice changes nothing the
second time. The rules:

- a hard bounce suppresses the address (reason ``bounce``) and marks the
  delivery bounced;
- soft bounces are counted per address over ``BOUNCE_SOFT_WINDOW_DAYS`` (a
  window, not all time); the ``BOUNCE_SOFT_LIMIT``-th inside it suppresses;
- a complaint unsubscribes the reader from every newsletter and suppresses
  the address (reason ``complaint``).

The report, the suppression, the delivery, the reader's history and the audit
entry are written together, or not at all.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    DeliveryStatus,
    EventKind,
    SuppressionReason,
    utcnow,
)
from newsletters.services.console.audit import Actor, record
from newsletters.services.core.transactions import atomic
from newsletters.services.deliverability.matching import Match, match_report
from newsletters.services.integrations import webhook_events
from newsletters.services.mail import suppressions
from newsletters.services.readers.history import Origin, record_event
from newsletters.services.readers.preferences import leave

ACTIONABLE = (BounceKind.HARD, BounceKind.SOFT, BounceKind.COMPLAINT)


@dataclass(frozen=True)
class BounceEvent:
    """One report of what happened to a message after it left."""

    source: str  # "mailbox", or the provider: ses, postmark, mailgun, sendgrid, generic
    event_key: str  # unique within the source: what makes a replay harmless
    kind: BounceKind
    email: str | None = None  # the recipient as reported
    tokens: tuple[str, ...] = ()  # VERP tokens found anywhere in the report
    message_ids: tuple[str, ...] = ()  # the original's Message-ID
    status: str = ""  # "5.1.1", a provider's code, or the ARF feedback type
    detail: str = ""
    raw: str | None = None
    occurred_at: datetime | None = None
    # A provider's signed webhook: its recipient address alone may name the reader.
    trusted_email: bool = False


@dataclass(frozen=True)
class Applied:
    """What applying an event did."""

    outcome: str  # suppressed, counted, unsubscribed, unmatched, ignored, kept, replayed
    replayed: bool = False
    report_id: int | None = None
    subscriber_id: int | None = None


def already_seen(source: str, event_key: str) -> bool:
    """True when this event was stored before: applying it again would change nothing."""
    return _existing(source, event_key) is not None


def _existing(source: str, event_key: str) -> BounceReport | None:
    return db.session.scalar(
        select(BounceReport).where(
            BounceReport.source == source, BounceReport.event_key == event_key[:255]
        )
    )


def _replayed(report: BounceReport) -> Applied:
    return Applied("replayed", True, report.id, report.subscriber_id)


@atomic
def record_unhandled(
    source: str, event_key: str, kind: BounceKind, raw: str | None, detail: str = ""
) -> Applied:
    """Keep a report that asks for nothing (an auto-reply, a delay notice, a person's note)."""
    if (existing := _existing(source, event_key)) is not None:
        return _replayed(existing)
    outcome = "kept" if kind == BounceKind.UNKNOWN else "ignored"
    report = _store(BounceEvent(source, event_key, kind, raw=raw, detail=detail), Match(), outcome)
    return Applied(outcome, report_id=report.id)


@atomic
def apply(event: BounceEvent, now: datetime | None = None) -> Applied:
    """Store the event and apply its rule, once; a second call with the same key is a no-op."""
    if (existing := _existing(event.source, event.event_key)) is not None:
        return _replayed(existing)
    if event.kind not in ACTIONABLE:
        return record_unhandled(event.source, event.event_key, event.kind, event.raw, event.detail)
    now = now or utcnow()
    match = match_report(event.tokens, event.message_ids, event.email, event.trusted_email)
    if match.address is None:
        report = _store(event, match, "unmatched", now)
        return Applied("unmatched", report_id=report.id)
    report = _store(event, match, "counted", now)
    report.outcome = RULES[event.kind](event, match, report, now)
    _write_down(event, match, report)
    return Applied(report.outcome, report_id=report.id, subscriber_id=report.subscriber_id)


def _store(event: BounceEvent, match: Match, outcome: str, now: datetime | None = None):
    address = match.address or (event.email.strip().lower() if event.email else None)
    report = BounceReport(
        source=event.source,
        event_key=event.event_key[:255],
        kind=event.kind,
        outcome=outcome,
        email=address,
        email_hash=suppressions.address_hash(address) if address and match.address else None,
        domain=address.rpartition("@")[2][:255] if address and "@" in address else None,
        subscriber_id=match.subscriber.id if match.subscriber else None,
        newsletter_id=match.issue.newsletter_id if match.issue else None,
        issue_id=match.issue.id if match.issue else None,
        delivery_id=match.delivery.id if match.delivery else None,
        status=event.status[:32],
        detail=event.detail[:2000],
        raw=event.raw,
        received_at=now or utcnow(),
    )
    db.session.add(report)
    db.session.flush()
    return report


def _hard(event: BounceEvent, match: Match, report: BounceReport, now: datetime) -> str:
    suppressions.suppress(match.address, SuppressionReason.BOUNCED, _why(event))
    if match.delivery is not None and match.delivery.status == DeliveryStatus.SENT:
        match.delivery.status = DeliveryStatus.BOUNCED
        match.delivery.last_error = _why(event)
    return "suppressed"


def soft_bounces_in_window(email_hash: str, now: datetime) -> int:
    """Soft bounces of one address received in the window that ends ``now`` (edges included)."""
    since = now - timedelta(days=current_app.config["BOUNCE_SOFT_WINDOW_DAYS"])
    return db.session.scalar(
        select(func.count(BounceReport.id)).where(
            BounceReport.email_hash == email_hash,
            BounceReport.kind == BounceKind.SOFT,
            BounceReport.received_at >= since,
            BounceReport.received_at <= now,
        )
    )


def _soft(event: BounceEvent, match: Match, report: BounceReport, now: datetime) -> str:
    count = soft_bounces_in_window(report.email_hash, now)
    limit, days = (
        current_app.config["BOUNCE_SOFT_LIMIT"],
        current_app.config["BOUNCE_SOFT_WINDOW_DAYS"],
    )
    if count < limit:
        return "counted"
    suppressions.suppress(
        match.address,
        SuppressionReason.BOUNCED,
        f"{count} soft bounces in {days} days; last: {_why(event)}",
    )
    return "suppressed"


def _complaint(event: BounceEvent, match: Match, report: BounceReport, now: datetime) -> str:
    if match.subscriber is not None:
        leave(match.subscriber, None, _origin(event))
    suppressions.suppress(match.address, SuppressionReason.COMPLAINED, _why(event))
    return "unsubscribed"


RULES = {BounceKind.HARD: _hard, BounceKind.SOFT: _soft, BounceKind.COMPLAINT: _complaint}


def _why(event: BounceEvent) -> str:
    return f"{event.source} {event.kind}: {' '.join(filter(None, [event.status, event.detail]))}"


def _origin(event: BounceEvent) -> Origin:
    return Origin(source=f"report:{event.source}")


def _write_down(event: BounceEvent, match: Match, report: BounceReport) -> None:
    """The reader's history and the audit log, in the same transaction as the change."""
    detail = {
        "report": report.id,
        "kind": str(event.kind),
        "status": report.status,
        "outcome": report.outcome,
        "found_by": match.via,
        "issue": str(match.issue.uuid) if match.issue else None,
    }
    if match.subscriber is not None:
        kind = EventKind.COMPLAINED if event.kind == BounceKind.COMPLAINT else EventKind.BOUNCED
        newsletters = [match.issue.newsletter] if match.issue else []
        record_event(match.subscriber, kind, newsletters, _origin(event), detail=detail)
    webhook_events.delivery_reported(
        event.kind == BounceKind.COMPLAINT,
        match.address,
        {
            "kind": str(event.kind),
            "status": report.status,
            "reason": report.detail,
            "outcome": report.outcome,
            "source": event.source,
        },
        match.issue,
        str(match.subscriber.uuid) if match.subscriber else None,
    )
    if report.outcome != "counted":
        target = (
            str(match.subscriber.uuid)
            if match.subscriber
            else suppressions.address_hash(match.address)
        )
        record(
            Actor(admin_id=None, email=f"{event.source} report"),
            f"deliverability.{event.kind}",
            "subscriber" if match.subscriber else "address",
            target,
            detail,
        )
