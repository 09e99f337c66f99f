"""Sending what the outbox holds: claim a batch, send it over one connection, record
each outcome as soon as it is known, retry with backoff, give up in the end.

A message is claimed (``pending`` to ``sending``, one UPDATE) before it is sent, so
two senders never send the same row; a sender that dies leaves its claim, which a
later drain releases after ``OUTBOX_CLAIM_TIMEOUT_SECONDS``. Writing messages, and
when they are sent, is :mod:`.outbox`.
"""

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import OutboxMessage, OutboxStatus, SuppressionReason, utcnow
from newsletters.services.core.addresses import mask_email
from newsletters.services.mail import mime, smtp, suppressions, verp

log = logging.getLogger(__name__)

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
            # Two statements, not UPDATE ... WHERE id IN (this): PostgreSQL may run a locking
            # LIMIT subquery again for every row it updates, and so claim every due message.
            ids = list(db.session.scalars(due))
            claimed = _claim(OutboxMessage.id.in_(ids)) if ids else []
            if not claimed:
                db.session.commit()  # let go of the locks taken while finding none
                break
            report.add(_deliver(claimed, transport))
    return report


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
