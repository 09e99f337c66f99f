"""Senders that died mid-batch: what their journal proves stands, the rest goes back in line.

A claim belongs to a sender named ``host:pid:key``. It is abandoned when that
process is gone from this machine, or when it has been silent for
``DIGEST_CLAIM_TIMEOUT_SECONDS`` (a sender on another machine that died).

Rows already marked sent (:mod:`.sent_marks`) are no longer ``sending`` and carry
no claim, so nothing here touches them. When a dead machine's journal is gone,
what goes back in line is the batch's unsent rest plus the messages that were
on the wire: at most one per connection went twice.
"""

import logging
import os
import socket
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import Delivery, DeliveryStatus, Issue, utcnow
from newsletters.services.issues.deliveries import (
    OUTCOME_STATUS,
    Outcomes,
    release_claim,
    write_outcomes,
)
from newsletters.services.issues.journal import read_journal, remove_journal

log = logging.getLogger(__name__)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_abandoned(token: str, claimed_at, now) -> bool:
    """A claim whose sender is gone: dead on this machine, or silent for too long."""
    host, _, rest = token.partition(":")
    pid, _, _ = rest.partition(":")
    if host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid)):
        return True
    timeout = timedelta(seconds=current_app.config["DIGEST_CLAIM_TIMEOUT_SECONDS"])
    return claimed_at < now - timeout


def recover_abandoned_claims(issue: Issue) -> int:
    """Settle batches whose sender died: journaled outcomes stand, the rest go back in line."""
    claims = db.session.execute(
        select(Delivery.claim_token, func.min(Delivery.claimed_at))
        .where(Delivery.issue_id == issue.id, Delivery.status == DeliveryStatus.SENDING)
        .group_by(Delivery.claim_token)
    ).all()
    now, released = utcnow(), 0
    for token, claimed_at in claims:
        if token is None or not _is_abandoned(token, claimed_at, now):
            continue
        key = token.rsplit(":", 1)[-1]
        outcomes = Outcomes()
        for delivery_id, outcome, error in read_journal(key) or []:
            if outcome in OUTCOME_STATUS:
                outcomes.add(delivery_id, outcome, error)
        write_outcomes(issue, token, outcomes)
        requeued = release_claim(token, issue.id)
        remove_journal(key)
        released += requeued
        log.warning(
            "recovered an abandoned batch of issue %s: %d outcomes from its journal, %d requeued",
            issue.id,
            sum(len(v) for v in outcomes.ids.values()),
            requeued,
        )
    return released
