"""An issue's deliveries: one row per (issue, reader), and what happened to each.

The rows are made in bulk from the active subscriptions on the issue's rhythm.
:mod:`.batch_sender` claims and sends them; this module writes outcomes back a few
statements per batch,
and says when an issue is done. :mod:`.recovery` settles the batches of senders
that died.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, literal, select, update

from newsletters.extensions import db
from newsletters.models import (
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    Newsletter,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
    utcnow,
)
from newsletters.services.core.sql import insert
from newsletters.services.issues import completion
from newsletters.services.mail import suppressions
from newsletters.services.rhythm.choice import rhythm_at_sql

log = logging.getLogger(__name__)

MATERIALIZE_CHUNK = 5000
SENT, FAILED, BOUNCED = "sent", "failed", "bounced"
SUPPRESSED, SKIPPED = "suppressed", "skipped"
OUTCOME_NAMES = [status.value for status in DeliveryStatus]
OUTCOME_STATUS = {
    SENT: DeliveryStatus.SENT,
    FAILED: DeliveryStatus.FAILED,
    BOUNCED: DeliveryStatus.BOUNCED,
    SUPPRESSED: DeliveryStatus.SUPPRESSED,
    SKIPPED: DeliveryStatus.SKIPPED,
}


@dataclass
class DeliveryReport:
    """What one or more senders did with one issue."""

    sent: int = 0
    failed: int = 0
    bounced: int = 0
    suppressed: int = 0
    skipped: int = 0
    error: str | None = None
    stopped: str | None = None  # "paused" or "cancelled": an editor stopped the issue

    def add(self, other: "DeliveryReport") -> None:
        """Fold another sender's numbers into this one."""
        for name in (SENT, FAILED, BOUNCED, SUPPRESSED, SKIPPED):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.error = self.error or other.error
        self.stopped = self.stopped or other.stopped

    @property
    def handled(self) -> int:
        """Deliveries that reached an outcome."""
        return self.sent + self.failed + self.bounced + self.suppressed + self.skipped

    @property
    def ok(self) -> bool:
        """Nothing failed."""
        return not (self.failed or self.bounced or self.error)


@dataclass
class Outcomes:
    """One batch's outcomes, grouped so each kind is written in one statement."""

    ids: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[int, str] = field(default_factory=dict)
    bounced_addresses: list[str] = field(default_factory=list)

    def add(self, delivery_id: int, outcome: str, error: str = "") -> None:
        """Note one delivery's outcome."""
        self.ids[outcome].append(delivery_id)
        if error:
            self.errors[delivery_id] = error

    def report(self) -> DeliveryReport:
        """The counts."""
        return DeliveryReport(**{name: len(self.ids.get(name, [])) for name in OUTCOME_STATUS})


# --- making the delivery rows ---------------------------------------------------------


def receiving(issue: Issue):
    """The rule for who gets an issue, as SQL: the newsletter's active readers whose
    rhythm at the start of its period is the issue's (see ``rhythm.choice``)."""
    return receiving_rhythm(issue.newsletter, issue.frequency, issue.period_start)


def receiving_rhythm(newsletter: Newsletter, frequency: str, start: datetime):
    """Who gets the ``frequency`` issue of the period starting at ``start``, as SQL."""
    return and_(
        Subscription.newsletter_id == newsletter.id,
        Subscription.status == SubscriptionStatus.ACTIVE,
        rhythm_at_sql(newsletter, start) == frequency,
    )


def recipient_count(newsletter: Newsletter, frequency: str, start: datetime) -> int:
    """How many readers the ``frequency`` issue of the period from ``start`` would go to now."""
    return db.session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(receiving_rhythm(newsletter, frequency, start))
    )


def materialize(issue: Issue) -> None:
    """One pending delivery per reader who gets it (:func:`receiving`), in chunks; safe to
    repeat or race."""
    if issue.materialized_at is not None:
        return
    active = select(Subscription.subscriber_id).where(receiving(issue))
    after = 0
    while True:
        chunk = active.where(Subscription.subscriber_id > after).order_by(
            Subscription.subscriber_id
        )
        upto = db.session.scalar(
            select(func.max(chunk.limit(MATERIALIZE_CHUNK).subquery().c.subscriber_id))
        )
        if upto is None:
            break
        rows = select(
            literal(issue.id),
            Subscription.subscriber_id,
            literal(DeliveryStatus.PENDING.value),
            literal(0),
        ).where(
            receiving(issue),
            Subscription.subscriber_id > after,
            Subscription.subscriber_id <= upto,
        )
        db.session.execute(
            insert(Delivery)
            .from_select(["digest_id", "subscriber_id", "status", "attempts"], rows)
            .on_conflict_do_nothing(index_elements=["digest_id", "subscriber_id"])
        )
        db.session.commit()
        after = upto
    db.session.execute(
        update(Issue)
        .where(Issue.id == issue.id, Issue.materialized_at.is_(None))
        .values(materialized_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def requeue_failed(issue: Issue) -> int:
    """Put temporarily failed deliveries back in line, unless they have had enough tries."""
    result = db.session.execute(
        update(Delivery)
        .where(
            Delivery.issue_id == issue.id,
            Delivery.status == DeliveryStatus.FAILED,
            Delivery.attempts < current_app.config["DIGEST_MAX_ATTEMPTS"],
        )
        .values(status=DeliveryStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


# --- writing outcomes ---------------------------------------------------------------------


def write_outcomes(issue: Issue, token: str, outcomes: Outcomes) -> None:
    """A batch's outcomes in a few statements: one per kind, plus one per error text.

    Rows a sender already marked sent (:mod:`.sent_marks`) no longer carry the claim,
    so the statements pass them by; the sent ones written here are those a crashed
    database lost, or a dead sender's journal holds."""
    now = utcnow()
    mine = and_(Delivery.claim_token == token, Delivery.status == DeliveryStatus.SENDING)
    cleared = {"claim_token": None, "claimed_at": None}
    if outcomes.ids.get(SENT):
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(outcomes.ids[SENT]), mine)
            .values(
                status=DeliveryStatus.SENT,
                sent_at=now,
                attempts=Delivery.attempts + 1,
                last_error=None,
                **cleared,
            )
            .execution_options(synchronize_session=False)
        )
    for outcome in (SUPPRESSED, SKIPPED):
        if outcomes.ids.get(outcome):
            db.session.execute(
                update(Delivery)
                .where(Delivery.id.in_(outcomes.ids[outcome]), mine)
                .values(status=OUTCOME_STATUS[outcome], **cleared)
                .execution_options(synchronize_session=False)
            )
    for outcome in (FAILED, BOUNCED):
        rows = [
            {"delivery_id": i, "error": outcomes.errors.get(i, "")[:2000]}
            for i in outcomes.ids.get(outcome, [])
        ]
        if rows:
            table = Delivery.__table__
            db.session.execute(
                table.update()
                .where(
                    table.c.id == bindparam("delivery_id"),
                    table.c.claim_token == token,
                )
                .values(
                    status=OUTCOME_STATUS[outcome].value,
                    attempts=table.c.attempts + 1,
                    last_error=bindparam("error"),
                    claim_token=None,
                    claimed_at=None,
                ),
                rows,
            )
    if outcomes.bounced_addresses:
        suppressions.suppress_many(
            outcomes.bounced_addresses, SuppressionReason.BOUNCED, "refused during an issue"
        )
    db.session.commit()


def release_claim(token: str, issue_id: int) -> int:
    """Give back a claim's unsent rows, untouched: the server cannot be reached, their
    domains had no slot before the batch had to end, or the issue was paused. Rows of
    an issue cancelled meanwhile are cancelled, not put back in line."""
    cancelled = (
        select(Issue.status).where(Issue.id == issue_id).scalar_subquery() == IssueStatus.CANCELLED
    )
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.claim_token == token, Delivery.status == DeliveryStatus.SENDING)
        .values(
            status=case(
                (cancelled, DeliveryStatus.CANCELLED.value), else_=DeliveryStatus.PENDING.value
            ),
            claim_token=None,
            claimed_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


# --- the state of an issue ----------------------------------------------------------------


def status_counts(issue: Issue) -> dict[str, int]:
    """Deliveries of an issue by status."""
    return completion.delivery_counts(issue)


def finish_if_done(issue: Issue) -> bool:
    """Mark the issue sent once no delivery is waiting or may still be retried."""
    max_attempts = current_app.config["DIGEST_MAX_ATTEMPTS"]
    open_rows = db.session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.issue_id == issue.id,
            (Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
            | ((Delivery.status == DeliveryStatus.FAILED) & (Delivery.attempts < max_attempts)),
        )
    )
    if open_rows or issue.materialized_at is None:
        return False
    completion.mark_sent(issue)
    db.session.commit()
    return True
