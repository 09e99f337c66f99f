"""Posting events to their endpoints: claim one due delivery, sign it, send it, record it.

At least once: a delivery is claimed (``pending`` to ``sending``, one conditional
UPDATE) before it is posted and its outcome is written right after, so concurrent
dispatchers never post the same delivery at the same time, and one that dies
mid-request leaves a claim that goes stale after the request's own deadline and is
taken again. The receiver de-duplicates by ``webhook-id``, which never changes.

A 2xx answer is delivered. Anything else (another status, a redirect, which is not
followed, a refused address, no connection, silence) is a failed try, retried after
a growing pause, the last at ``retry_until`` (WEBHOOK_RETRY_HOURS after the event).
A 410 disables the endpoint at once; so do ``WEBHOOK_DISABLE_AFTER_DAYS`` of failures
without a success, and the admins are told.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, or_, select, update

from newsletters.extensions import db
from newsletters.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    utcnow,
)
from newsletters.services.core import outbound
from newsletters.services.core.transactions import atomic
from newsletters.services.integrations import webhook_endpoints, webhook_signing

log = logging.getLogger(__name__)

USER_AGENT = "newsletters-webhooks/1.0 (+Standard Webhooks)"
# The pause before each retry: the n-th failure waits RETRY_PAUSES[n - 1], the rest the last.
RETRY_PAUSES = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
# A claim older than the request's deadline plus this belongs to a dispatcher that died.
CLAIM_GRACE = timedelta(seconds=10)
PRUNE_BATCH = 500


@dataclass
class DispatchReport:
    """What one dispatch pass did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    pruned: int = 0

    def summary(self) -> str:
        """One line for a log or a terminal."""
        return (
            f"delivered {self.delivered}, retrying {self.retrying}, failed {self.failed}, "
            f"pruned {self.pruned}"
        )


def retry_pause(failures: int) -> timedelta:
    """How long to wait after the ``failures``-th failed try: growing, then capped."""
    return RETRY_PAUSES[min(max(failures, 1), len(RETRY_PAUSES)) - 1]


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=current_app.config["WEBHOOK_TIMEOUT_SECONDS"]) - CLAIM_GRACE


def claim_next(now: datetime | None = None) -> WebhookDelivery | None:
    """Take one due delivery (or one whose dispatcher died) for this process, and commit."""
    now = now or utcnow()
    due = or_(
        (WebhookDelivery.status == WebhookDeliveryStatus.PENDING)
        & (WebhookDelivery.next_attempt_at <= now),
        (WebhookDelivery.status == WebhookDeliveryStatus.SENDING)
        & (WebhookDelivery.claimed_at < _stale_before(now)),
    )
    # Two statements, not an UPDATE around a locking subquery: PostgreSQL may run such a
    # subquery once per row, and with SKIP LOCKED each run finds another row to claim.
    candidate = db.session.scalar(
        select(WebhookDelivery.id)
        .where(due)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
        # On PostgreSQL concurrent dispatchers take different rows instead of queueing.
        .with_for_update(skip_locked=True)
    )
    claimed = None
    if candidate is not None:
        claimed = db.session.execute(
            update(WebhookDelivery)
            # Repeating the condition makes the claim safe without row locks (SQLite) too.
            .where(WebhookDelivery.id == candidate, due)
            .values(status=WebhookDeliveryStatus.SENDING, claimed_at=now)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        ).scalar()
    db.session.commit()
    return db.session.get(WebhookDelivery, claimed) if claimed else None


def dispatch(now: datetime | None = None, limit: int | None = None) -> DispatchReport:
    """One pass: deliver what is due until nothing is (or ``limit``), then prune old events."""
    report = DispatchReport()
    while limit is None or report.delivered + report.retrying + report.failed < limit:
        delivery = claim_next(now)
        if delivery is None:
            break
        outcome = deliver(delivery, now)
        setattr(report, outcome, getattr(report, outcome) + 1)
    report.pruned = prune(now)
    return report


def body_of(event: WebhookEvent) -> bytes:
    """The exact bytes posted (and signed) for an event."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _post(delivery: WebhookDelivery, sent_at: datetime) -> tuple[int | None, str | None]:
    """Post one delivery; the status code (None: no answer) and what went wrong, if anything."""
    endpoint, event = delivery.endpoint, delivery.event
    body = body_of(event)
    # The real clock, whatever ``now`` says: receivers reject timestamps far from theirs.
    timestamp = int(time.time())
    headers = webhook_signing.headers(endpoint.secret, event.msg_id, timestamp, body, USER_AGENT)
    try:
        response = outbound.fetch(
            endpoint.url,
            method="POST",
            body=body,
            headers=headers,
            timeout=current_app.config["WEBHOOK_TIMEOUT_SECONDS"],
            follow_redirects=False,
        )
    except outbound.OutboundError as error:
        return None, str(error)
    if 200 <= response.status < 300:
        return response.status, None
    if 300 <= response.status < 400:
        where = response.headers.get("Location") or "nowhere"
        return response.status, f"redirected to {where[:200]}; webhooks do not follow redirects"
    return response.status, f"the endpoint answered {response.status} {response.reason}"[:300]


def deliver(delivery: WebhookDelivery, now: datetime | None = None) -> str:
    """Post a claimed delivery and record the try: ``delivered``, ``retrying`` or ``failed``."""
    now = now or utcnow()
    started = time.monotonic()
    if delivery.endpoint.enabled:
        code, error = _post(delivery, now)
    else:  # disabled between the claim and now: its deliveries stop
        code, error = None, "the endpoint is disabled"
    duration = int((time.monotonic() - started) * 1000)
    return _record(delivery.id, code, error, duration, now)


@atomic
def _record(delivery_id: int, code: int | None, error: str | None, duration, now) -> str:
    """Write the try and what follows from it (a disabled endpoint's mail to the admins)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=code,
            duration_ms=duration,
            error=error,
        )
    )
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = code, error
    delivery.last_attempt_at, delivery.claimed_at = now, None
    endpoint = delivery.endpoint
    if error is None:
        delivery.status, delivery.delivered_at = WebhookDeliveryStatus.DELIVERED, now
        endpoint.failing_since = None
        return "delivered"
    if code == 410:
        webhook_endpoints.disable_endpoint(endpoint, "the endpoint answered 410 Gone", now)
    elif endpoint.enabled:
        webhook_endpoints.note_failure(endpoint, now)
    if not endpoint.enabled or now >= delivery.retry_until:
        delivery.status = WebhookDeliveryStatus.FAILED
        return "failed"
    # A pause that would end past the window is cut short: the last try is at its end.
    retry_at = min(now + retry_pause(delivery.attempts), delivery.retry_until)
    delivery.status, delivery.next_attempt_at = WebhookDeliveryStatus.PENDING, retry_at
    return "retrying"


def prune(now: datetime | None = None) -> int:
    """Delete events whose deliveries are all finished and that are past
    WEBHOOK_RETENTION_DAYS, or are about a reader who was erased since."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["WEBHOOK_RETENTION_DAYS"])
    unfinished = exists().where(
        WebhookDelivery.event_id == WebhookEvent.id,
        WebhookDelivery.status.in_([WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.SENDING]),
    )
    total = 0
    while True:
        ids = list(
            db.session.scalars(
                select(WebhookEvent.id)
                .where(or_(WebhookEvent.created_at < cutoff, WebhookEvent.forget), ~unfinished)
                .limit(PRUNE_BATCH)
            )
        )
        if not ids:
            return total
        # Attempts and deliveries go first, so SQLite without foreign keys keeps no orphans.
        doomed = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(ids))
        db.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(doomed)))
        db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
        db.session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
        db.session.commit()
        total += len(ids)
