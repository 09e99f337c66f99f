"""One unit of work per service call: commit, roll back, retry what is transient, then mail.

The style, for every service:

- A public function that changes data is decorated ``@atomic``. It is one
  transaction: it commits once, at its end, or rolls back entirely.
- Called from inside another unit of work, it joins it: one transaction, one commit.
- Nothing inside a unit of work commits halfway. :func:`init_app` makes that a
  rule, not a habit: a commit inside one raises :class:`CommitInsideUnitOfWork`.
- Long jobs that must save progress as they go (sending an issue, applying an
  import, draining the outbox) are not atomic: they commit after each batch, and
  each batch may itself be a unit of work.

A retry is safe because a failed attempt has been rolled back entirely: the
database holds either all of a change or none of it.
"""

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from newsletters.extensions import db

log = logging.getLogger(__name__)

ATTEMPTS = 4
# PostgreSQL SQLSTATEs worth another try: serialization failure, deadlock, lost connection.
TRANSIENT_SQLSTATES = {"40001", "40P01", "08000", "08003", "08006", "57P01"}
SQLITE_BUSY_WORDS = ("database is locked", "database is busy")

DEPTH_KEY = "atomic.active"

P = ParamSpec("P")
R = TypeVar("R")

# What must happen after a unit of work commits, or after it is abandoned (the outbox
# registers its sending here), without this module knowing who listens.
_after_commit: list[Callable[[], None]] = []
_after_rollback: list[Callable[[], None]] = []


class CommitInsideUnitOfWork(RuntimeError):
    """Code inside an ``@atomic`` function tried to commit before the function ended."""


def _refuse_commit_inside_unit_of_work(session: Session) -> None:
    # Releasing a savepoint (``begin_nested``) is not a commit: the work is still one unit.
    if session.info.get(DEPTH_KEY) and not session.in_nested_transaction():
        raise CommitInsideUnitOfWork(
            "a unit of work commits once, at its end: this commit would save half of it"
        )


def init_app(app: Flask) -> None:
    """Hold every unit of work to the style above: no commit before it ends."""
    if not event.contains(Session, "before_commit", _refuse_commit_inside_unit_of_work):
        event.listen(Session, "before_commit", _refuse_commit_inside_unit_of_work)


def on_commit(hook: Callable[[], None]) -> None:
    """Call ``hook`` after every unit of work that commits."""
    if hook not in _after_commit:
        _after_commit.append(hook)


def on_rollback(hook: Callable[[], None]) -> None:
    """Call ``hook`` after every unit of work that is rolled back."""
    if hook not in _after_rollback:
        _after_rollback.append(hook)


def is_transient(error: Exception) -> bool:
    """True for failures that another attempt of the same transaction may not meet.

    A unique-key race (two first signups for one address) is one: the retry
    finds the row the other request committed. So are a busy SQLite file, a
    PostgreSQL serialization failure or deadlock, and a dropped connection.
    """
    if isinstance(error, IntegrityError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in TRANSIENT_SQLSTATES:
        return True
    return isinstance(error, OperationalError) and any(
        word in str(error.orig).lower() for word in SQLITE_BUSY_WORDS
    )


def atomic(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` as one transaction that the service owns.

    On success the transaction commits and the mail it wrote to the outbox is
    sent. On any error it rolls back, so bad input never leaves a half-change;
    transient database errors are retried a few times with a short backoff.
    A unit of work called from inside another joins it: one transaction, one commit.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if db.session.info.get(DEPTH_KEY):
            return fn(*args, **kwargs)  # called from another unit of work: join it
        for attempt in range(1, ATTEMPTS + 1):
            try:
                db.session.info[DEPTH_KEY] = True
                try:
                    result = fn(*args, **kwargs)
                finally:
                    db.session.info.pop(DEPTH_KEY, None)
                db.session.commit()
            except DBAPIError as error:
                _abandon()
                if attempt == ATTEMPTS or not is_transient(error):
                    raise
                log.info("retrying %s after %s", fn.__name__, type(error).__name__)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            except BaseException:
                _abandon()
                raise
            _run_after_commit()
            return result
        raise AssertionError("unreachable")

    return wrapper


def _run_after_commit() -> None:
    """The work is saved: a hook that fails now is logged, never reported as a failed save."""
    for hook in _after_commit:
        try:
            hook()
        except Exception:
            log.exception("after-commit step %s failed; the committed work stands", hook.__name__)


def _abandon() -> None:
    db.session.rollback()
    for hook in _after_rollback:
        hook()
