"""One unit of work per service call: commit, roll back, retry a lost race, then send mail."""

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError

from newsletters.extensions import db
from newsletters.services import outbox

log = logging.getLogger(__name__)

# Two requests for the same new address can race to insert it. The loser's
# IntegrityError is retried once the winner has committed, and then finds the row.
ATTEMPTS = 3

P = ParamSpec("P")
R = TypeVar("R")


def atomic(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` as one transaction that the service owns.

    On success the transaction commits and the mail it wrote to the outbox is
    sent. On any error it rolls back, so bad input never leaves a half-change.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                result = fn(*args, **kwargs)
                db.session.commit()
            except IntegrityError:
                _abandon()
                if attempt == ATTEMPTS:
                    raise
                log.info("retrying %s after a concurrent insert", fn.__name__)
                continue
            except BaseException:
                _abandon()
                raise
            outbox.send_committed()
            return result
        raise AssertionError("unreachable")

    return wrapper


def _abandon() -> None:
    db.session.rollback()
    outbox.forget_enqueued()
