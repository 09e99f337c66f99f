"""The outbox: every email is written in the transaction that causes it, then sent.

Writing the message with the change means a crash can never leave a confirmed
reader without their welcome, or a mail without its reason, and a change that
rolls back takes its mail with it. Sending happens after commit (after the HTTP
response, in a request, or on a Celery worker when one is configured) and
``flask outbox drain`` sends whatever is left. A message is claimed before it
is sent, so two senders never send the same row (:mod:`.outbox_sending`).
"""

import logging
from collections import Counter
from email.utils import make_msgid

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import func, inspect, select

from newsletters.config import site_domain
from newsletters.extensions import db
from newsletters.models import (
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    utcnow,
)
from newsletters.services.core import transactions
from newsletters.services.mail import outbox_sending
from newsletters.services.mail.render import RenderedEmail

log = logging.getLogger(__name__)

ENQUEUED_KEY = "outbox.enqueued"
AFTER_RESPONSE_KEY = "outbox_after_response"
SEND_TASK = "newsletters.send_outbox_messages"


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
    outbox_sending.send_messages(ids)


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
