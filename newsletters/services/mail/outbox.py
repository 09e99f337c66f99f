"""The outbox: every email is written in the transaction that causes it, then sent.

Writing the message with the change means a crash can never leave a confirmed
reader without their welcome, or a mail without its reason, and a change that
rolls back takes its mail with it. Sending happens after commit (after the HTTP
response, in a request, or on a Celery worker when one is configured) and
``flask outbox drain`` sends whatever is left. A message is claimed before it
is sent, so two senders never send the same row.
"""

import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import func, inspect, select, update

from newsletters.config import site_domain
from newsletters.extensions import db
from newsletters.models import (
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    SuppressionReason,
    utcnow,
)
from newsletters.services.core import transactions
from newsletters.services.core.addresses import mask_email
from newsletters.services.mail import mime, smtp, suppressions, verp
from newsletters.services.mail.render import RenderedEmail

log = logging.getLogger(__name__)

ENQUEUED_KEY = "outbox.enqueued"
AFTER_RESPONSE_KEY = "outbox_after_response"
SEND_TASK = "newsletters.send_outbox_messages"
BATCH_SIZE = 100


@dataclass
class SendReport:
    """What one sending pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suppressed: int = 0

    def add(self, other: "SendReport") -> None:
        """Fold another pass's numbers into this one."""
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.suppressed += other.suppressed

    @property
    def handled(self) -> int:
        """Messages this pass dealt with, whatever the outcome."""
        return self.sent + self.retrying + self.failed + self.suppressed

    def summary(self) -> str:
        """One line for a log or a terminal."""
        return (
            f"sent {self.sent}, retrying {self.retrying}, failed {self.failed}, "
            f"suppressed {self.suppressed}"
        )


def enqueue(
    *,
    kind: OutboxKind,
    to: str,
    email: RenderedEmail,
    subscriber: Subscriber | None = None,
    headers: dict[str, str] | None = None,
) -> OutboxMessage:
    """Add a message to the current transaction; it is sent once that commits."""
    message = OutboxMessage(
        kind=kind,
        to_address=to,
        subject=email.subject,
        text_body=email.text,
        html_body=email.html,
        headers=headers or {},
        message_id=make_msgid(domain=site_domain(current_app)),
        subscriber_id=subscriber.id if subscriber is not None else None,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    db.session.info.setdefault(ENQUEUED_KEY, []).append(message)
    return message


def forget_enqueued() -> None:
    """Drop the messages of a transaction that was rolled back: they were never written."""
    db.session.info.pop(ENQUEUED_KEY, None)


def send_committed() -> None:
    """Send what the transaction just committed: after the response in a request, else now."""
    # The identity map already knows each id: reading ``message.id`` after the commit
    # expired it would cost a query, one that can fail after the work is safely saved.
    ids = [inspect(message).identity[0] for message in db.session.info.pop(ENQUEUED_KEY, [])]
    if not ids:
        return
    if has_request_context():
        # Sending after the response keeps SMTP latency out of the reader's wait, and
        # makes every signup answer take the same time whether or not mail was sent.
        g.setdefault(AFTER_RESPONSE_KEY, []).extend(ids)
    else:
        dispatch(ids)


def dispatch(ids: list[int]) -> None:
    """Hand committed messages to a Celery worker when one is configured, else send them."""
    celery = current_app.extensions.get("celery")
    if current_app.config["CELERY_BROKER_URL"] and celery is not None:
        try:
            celery.send_task(SEND_TASK, args=[ids])
            return
        except Exception:  # a broker outage must not cost the mail: send it ourselves
            log.warning("could not reach the Celery broker; sending in this process")
    send_messages(ids)


def send_messages(ids: list[int]) -> SendReport:
    """Send these messages now, if nobody else has claimed them."""
    claimed = _claim(OutboxMessage.id.in_(ids))
    if not claimed:
        return SendReport()
    with smtp.open_transport() as transport:
        return _deliver(claimed, transport)


def drain(limit: int | None = None) -> SendReport:
    """Send every message that is due, in batches over one connection, until none is left."""
    _release_stale_claims()
    report = SendReport()
    with smtp.open_transport() as transport:
        while limit is None or report.handled < limit:
            due = (
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= utcnow(),
                )
                .order_by(OutboxMessage.id)
                .limit(BATCH_SIZE)
                # On PostgreSQL concurrent drains take different rows instead of queueing.
                .with_for_update(skip_locked=True)
            )
            claimed = _claim(OutboxMessage.id.in_(due.scalar_subquery()))
            if not claimed:
                break
            report.add(_deliver(claimed, transport))
    return report


def status_counts() -> dict[str, int]:
    """How many messages are in each state."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts = Counter({status.value: 0 for status in OutboxStatus})
    counts.update({status.value: count for status, count in rows})
    return dict(counts)


def recent_failures(limit: int = 10) -> list[OutboxMessage]:
    """The latest messages that failed or are waiting for a retry, with their errors."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def _claim(condition) -> list[OutboxMessage]:
    """Mark matching pending messages as being sent by us, and return them."""
    ids = (
        db.session.execute(
            update(OutboxMessage)
            .where(condition, OutboxMessage.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SENDING, claimed_at=utcnow())
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        )
    )


def _release_stale_claims() -> None:
    """Put back messages whose sender died before it could record the outcome."""
    timeout = timedelta(seconds=current_app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_at < utcnow() - timeout,
        )
        .values(status=OutboxStatus.PENDING, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _deliver(messages: list[OutboxMessage], transport) -> SendReport:
    """Send claimed messages, recording each outcome as soon as it is known."""
    report = SendReport()
    suppressed = suppressions.reasons_among(m.to_address for m in messages)
    for message in messages:
        reason = suppressed.get(message.to_address)
        if reason is not None and suppressions.blocks(reason, message.kind):
            message.status = OutboxStatus.SUPPRESSED
            message.last_error = "not sent: the address is on the suppression list"
            report.suppressed += 1
        else:
            _send_one(message, transport, report)
        db.session.commit()
    return report


def _send_one(message: OutboxMessage, transport, report: SendReport) -> None:
    """Send one claimed message and record how it went."""
    try:
        transport.send(
            mime.message_bytes(message),
            message.to_address,
            verp.return_path(verp.token_for_outbox(message.id)),
        )
    except smtp.DeliveryError as exc:
        _record_failure(message, exc, report)
    except ValueError as exc:  # a message the email library refuses to build
        _record_failure(message, smtp.PermanentFailure(f"unsendable: {exc}"), report)
    else:
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.attempts += 1
        message.last_error = None
        report.sent += 1


def _record_failure(message: OutboxMessage, exc: smtp.DeliveryError, report: SendReport) -> None:
    """Schedule a retry with backoff and jitter, or give up for good."""
    config = current_app.config
    message.attempts += 1
    message.last_error = str(exc)[:2000]
    age = (utcnow() - message.created_at).total_seconds()
    if exc.permanent or age >= config["OUTBOX_GIVE_UP_SECONDS"]:
        message.status = OutboxStatus.FAILED
        report.failed += 1
        if exc.bad_recipient:
            suppressions.suppress(message.to_address, SuppressionReason.BOUNCED, str(exc))
        log.warning("gave up on %s to %s: %s", message.kind, mask_email(message.to_address), exc)
        return
    delay = min(
        config["OUTBOX_RETRY_BASE_SECONDS"] * 2 ** (message.attempts - 1),
        config["OUTBOX_RETRY_MAX_SECONDS"],
    )
    message.status = OutboxStatus.PENDING
    message.claimed_at = None
    message.next_attempt_at = utcnow() + timedelta(seconds=delay * random.uniform(0.5, 1.5))
    report.retrying += 1
    log.info("will retry %s to %s: %s", message.kind, mask_email(message.to_address), exc)


def _dispatch_after_response(app: Flask, ids: list[int]) -> None:
    """Send committed messages from inside ``app``, keeping them queued if that fails."""
    with app.app_context():
        try:
            dispatch(ids)
        except Exception:  # the messages stay in the outbox for the next drain
            log.exception("sending after the response failed; the outbox keeps the messages")


def init_app(app: Flask) -> None:
    """Send mail when its unit of work commits, forget it on rollback, and wait for the response."""
    # Registering twice is harmless: a hook the transactions already know is ignored.
    transactions.on_commit(send_committed)
    transactions.on_rollback(forget_enqueued)

    @app.after_request
    def schedule_outbox_send(response):
        """Send this request's committed mail once the response is closed."""
        ids = g.pop(AFTER_RESPONSE_KEY, None)
        if ids:
            response.call_on_close(lambda: _dispatch_after_response(app, ids))
        return response
