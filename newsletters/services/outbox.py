"""The outbox: every email is written in the transaction that causes it, then sent.

Writing the message with the change means a crash can never leave a confirmed
reader without their welcome, or a mail without its reason. Sending happens
after commit (after the HTTP response, in a request) and ``flask outbox drain``
sends whatever is left. A message is claimed before it is sent, so two senders
never send the same row.
"""

import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import func, select, update

from newsletters.config import site_domain
from newsletters.extensions import db
from newsletters.models import OutboxMessage, OutboxStatus, Subscriber, utcnow
from newsletters.services import mailer
from newsletters.services.addresses import mask_email
from newsletters.services.messages import RenderedEmail

log = logging.getLogger(__name__)

ENQUEUED_KEY = "outbox.enqueued"
AFTER_RESPONSE_KEY = "outbox_after_response"
# A claim older than this belongs to a sender that died; the message goes back in line.
CLAIM_TIMEOUT = timedelta(minutes=10)
BATCH_SIZE = 100


@dataclass
class SendReport:
    """What one sending pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def add(self, other: "SendReport") -> None:
        """Fold another pass's numbers into this one."""
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed


def enqueue(
    *,
    kind: str,
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
    """Drop the messages of a transaction that was rolled back."""
    db.session.info.pop(ENQUEUED_KEY, None)


def send_committed() -> None:
    """Send what the transaction just committed: after the response in a request, else now."""
    ids = [message.id for message in db.session.info.pop(ENQUEUED_KEY, [])]
    if not ids:
        return
    if has_request_context():
        # Sending after the response keeps SMTP latency out of the reader's wait, and
        # makes every signup answer take the same time whether or not mail was sent.
        g.setdefault(AFTER_RESPONSE_KEY, []).extend(ids)
    else:
        send_messages(ids)


def send_messages(ids: list[int]) -> SendReport:
    """Send these messages now, if nobody else has claimed them."""
    return _deliver(_claim(OutboxMessage.id.in_(ids)))


def drain(limit: int | None = None) -> SendReport:
    """Send every message that is due, in batches, until none is left (or ``limit``)."""
    _release_stale_claims()
    report = SendReport()
    while limit is None or report.sent + report.failed + report.retrying < limit:
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= utcnow(),
            )
            .order_by(OutboxMessage.id)
            .limit(BATCH_SIZE)
        )
        claimed = _claim(OutboxMessage.id.in_(due.scalar_subquery()))
        if not claimed:
            break
        report.add(_deliver(claimed))
    return report


def status_counts() -> dict[str, int]:
    """How many messages are in each state."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts = Counter({status.value: 0 for status in OutboxStatus})
    counts.update({status.value: count for status, count in rows})
    return dict(counts)


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
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_at < utcnow() - CLAIM_TIMEOUT,
        )
        .values(status=OutboxStatus.PENDING, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _deliver(messages: list[OutboxMessage]) -> SendReport:
    """Send claimed messages over one connection, recording each outcome as it happens."""
    report = SendReport()
    if not messages:
        return report
    with mailer.open_transport() as transport:
        for message in messages:
            try:
                transport.send(mailer.build_mime(message), message.to_address)
            except mailer.DeliveryError as exc:
                _record_failure(message, exc, report)
            except ValueError as exc:  # a message the email library refuses to build
                _record_failure(message, mailer.PermanentFailure(str(exc)), report)
            else:
                message.status = OutboxStatus.SENT
                message.sent_at = utcnow()
                message.attempts += 1
                message.last_error = None
                report.sent += 1
            db.session.commit()
    return report


def _record_failure(message: OutboxMessage, exc: mailer.DeliveryError, report: SendReport) -> None:
    """Schedule a retry with backoff, or give up for good."""
    config = current_app.config
    message.attempts += 1
    message.last_error = str(exc)[:2000]
    age = (utcnow() - message.created_at).total_seconds()
    if exc.permanent or age >= config["OUTBOX_GIVE_UP_SECONDS"]:
        message.status = OutboxStatus.FAILED
        report.failed += 1
        log.warning("giving up on %s to %s: %s", message.kind, mask_email(message.to_address), exc)
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


def _send_after_response(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        try:
            send_messages(ids)
        except Exception:  # the messages stay in the outbox for the next drain
            log.exception("sending after the response failed; the outbox keeps the messages")


def init_app(app: Flask) -> None:
    """Send a request's committed mail once the response has gone out."""

    @app.after_request
    def schedule_outbox_send(response):
        ids = g.pop(AFTER_RESPONSE_KEY, None)
        if ids:
            response.call_on_close(lambda: _send_after_response(app, ids))
        return response
