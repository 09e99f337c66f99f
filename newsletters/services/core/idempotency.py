"""Apply a retried request once, and answer every retry with the first answer.

The record of the answer is written in the same transaction as the change it
answers for, so there is no moment at which one exists without the other: a
retry either finds both, or neither and applies the change itself.
"""

import hashlib
import json
import random
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, select

from newsletters.errors import IdempotencyConflict, InvalidInput
from newsletters.extensions import db
from newsletters.models import IdempotencyRecord, utcnow
from newsletters.services.core.transactions import atomic

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
KEEP_FOR = timedelta(hours=24)
# Old records are swept now and then by the writes themselves; no cron job needed.
SWEEP_CHANCE = 0.01

R = TypeVar("R")
Answer = tuple[int, dict[str, Any]]


def fingerprint(*parts: Any) -> str:
    """A stable hash of what a request asked for."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    """The key as given, None when absent, :class:`InvalidInput` when malformed."""
    if not key:
        return None
    if not KEY_PATTERN.match(key):
        raise InvalidInput("An Idempotency-Key has 8 to 100 letters, digits, '-', '_', '.' or ':'.")
    return key


@atomic
def apply_once(
    key: str | None,
    scope: str,
    request_fingerprint: str,
    apply: Callable[[], R],
    answer: Callable[[R], Answer],
) -> Answer:
    """Run ``apply`` unless this key already ran; return the (first) answer.

    ``apply`` joins this transaction; the answer is stored beside its change.
    Two identical requests racing both try to store it: the loser's insert
    fails, the transaction is retried, and the retry finds the winner's answer.
    """
    if key is not None:
        stored = db.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        if stored is not None:
            if stored.fingerprint != request_fingerprint:
                raise IdempotencyConflict()
            return stored.status_code, stored.body
    status, body = answer(apply())
    if key is not None:
        db.session.add(
            IdempotencyRecord(
                scope=scope,
                key=key,
                fingerprint=request_fingerprint,
                status_code=status,
                body=body,
            )
        )
        if random.random() < SWEEP_CHANCE:
            db.session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - KEEP_FOR)
            )
    return status, body
