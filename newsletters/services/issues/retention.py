"""Old deliveries folded into their issue's counts and deleted: DELIVERY_RETENTION_DAYS.

A delivery row makes "exactly once" hold while its issue sends, and names the message
a bounce or complaint is about for a while after. Once its issue is finished (sent or
cancelled) and DELIVERY_RETENTION_DAYS have passed since it finished, only the counts
are still read, so the rows are folded into ``issue_delivery_count`` and deleted.

Age is the issue's ``completed_at``, not each row's ``sent_at``: an issue's rows go
together, a reopened issue (failures sent again) is sending, hence kept, and a
cancelled issue's unsent rows, which have no ``sent_at``, age too.

Each chunk is one transaction: its rows are deleted (``RETURNING`` what they were) and
their counts added to the issue's, then committed together, so a crash loses nothing
and counts nothing twice. On PostgreSQL a chunk's rows are taken ``FOR UPDATE SKIP
LOCKED``, so two prunes at once share the work instead of waiting on each other.
"""

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, delete, exists, func, select, type_coerce

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    Delivery,
    DeliveryStatus,
    Issue,
    IssueDeliveryCount,
    IssueStatus,
    utcnow,
)
from newsletters.services.core import sql

PRUNE_CHUNK = 10_000
FINISHED = (IssueStatus.SENT, IssueStatus.CANCELLED)
# A row still waiting (or held by a sender) is never folded, whatever its issue says.
SETTLED = tuple(
    s for s in DeliveryStatus if s not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
)


@dataclass
class Pruned:
    """What a prune folded and deleted (or, with ``dry_run``, would)."""

    retention_days: int
    cutoff: datetime | None  # None: DELIVERY_RETENTION_DAYS is 0, rows are kept for ever
    dry_run: bool = False
    issues: int = 0
    chunks: int = 0  # transactions that deleted something, each committed on its own
    by_status: Counter = field(default_factory=Counter)
    slowest_chunk: float = 0.0  # seconds

    @property
    def deleted(self) -> int:
        """Delivery rows deleted (or that would be)."""
        return sum(self.by_status.values())

    def summary(self) -> str:
        """A few lines for cron and the worker's log."""
        if self.cutoff is None:
            return "DELIVERY_RETENTION_DAYS is 0: deliveries are kept for ever; nothing pruned."
        verb = "would fold and delete" if self.dry_run else "folded and deleted"
        line = (
            f"{verb} {self.deleted:,} deliveries of {self.issues:,} issues finished before "
            f"{self.cutoff:%Y-%m-%d %H:%M} UTC (kept {self.retention_days} days)"
        )
        if not self.dry_run:
            line += f", in {self.chunks:,} chunks"
        statuses = ", ".join(
            f"{status.value} {self.by_status[status]:,}"
            for status in DeliveryStatus
            if self.by_status[status]
        )
        return f"{line}\n{statuses}" if statuses else line


def _finished_before(cutoff: datetime):
    """SQL: the delivery's issue is finished, and finished before ``cutoff``."""
    return Issue.status.in_(FINISHED) & (Issue.completed_at < cutoff)


def _prunable_issues(cutoff: datetime) -> list[int]:
    """Finished issues completed before ``cutoff`` that still have settled delivery rows."""
    has_rows = exists().where(Delivery.issue_id == Issue.id, Delivery.status.in_(SETTLED))
    return list(
        db.session.scalars(
            select(Issue.id).where(_finished_before(cutoff), has_rows).order_by(Issue.id)
        )
    )


def _would_go(issue_ids: list[int]) -> Counter:
    rows = db.session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.issue_id.in_(issue_ids), Delivery.status.in_(SETTLED))
        .group_by(Delivery.status)
    )
    return Counter(dict(rows.all()))


def _fold(issue_id: int, rows: list) -> Counter:
    """Add deleted rows (id, status, sent_at) to the issue's folded counts."""
    ids = [row[0] for row in rows]
    complained = set(  # an issue's complaints are few: read them by issue and id range
        db.session.scalars(
            select(BounceReport.delivery_id).where(
                BounceReport.issue_id == issue_id,
                BounceReport.kind == BounceKind.COMPLAINT,
                BounceReport.delivery_id.between(min(ids), max(ids)),
            )
        )
    )
    counts = {status: [0, 0, 0] for status in DeliveryStatus}
    for delivery_id, status, sent_at in rows:
        counted = counts[DeliveryStatus(status)]
        counted[0] += 1
        counted[1] += sent_at is not None
        counted[2] += delivery_id in complained
    values = [
        {
            "issue_id": issue_id,
            "status": status,
            "deliveries": n,
            "handed_over": handed_over,
            "complained": complaints,
        }
        for status, (n, handed_over, complaints) in counts.items()
        if n
    ]
    upsert = sql.insert(IssueDeliveryCount)
    table = IssueDeliveryCount.__table__
    db.session.execute(
        upsert.on_conflict_do_update(
            index_elements=["digest_id", "status"],
            set_={
                name: table.c[name] + upsert.excluded[name]
                for name in ("deliveries", "handed_over", "complained")
            },
        ),
        values,
    )
    return Counter({status: n for status, (n, _, _) in counts.items() if n})


def fold_chunk(issue_id: int, chunk: int, cutoff: datetime) -> Counter:
    """Delete up to ``chunk`` settled rows of one issue and fold them, in one committed
    transaction; what was folded, by status (empty: nothing was left).

    The issue is asked again inside the transaction: one reopened since the list was
    made (its failures sent again) keeps its rows."""
    still_old = select(Issue.id).where(Issue.id == issue_id, _finished_before(cutoff))
    taken = (
        select(Delivery.id)
        .where(
            Delivery.issue_id.in_(still_old),
            Delivery.issue_id == issue_id,
            Delivery.status.in_(SETTLED),
        )
        .limit(chunk)
    )
    if sql.dialect_name() == "postgresql":
        taken = taken.with_for_update(skip_locked=True)
    try:
        ids = db.session.scalars(taken).all()
        # The ids are sent back as a list: by the primary key, not a join the planner
        # could answer with a scan of the whole table for every chunk.
        # Core, not the ORM: the rows come back as plain tuples, with no objects to build.
        table = Delivery.__table__
        gone = (
            delete(table)
            .where(sql.among(table.c.id, ids))
            .returning(
                table.c.id,
                type_coerce(table.c.status, String),
                type_coerce(table.c.sent_at, String),
            )
        )
        rows = db.session.execute(gone).all() if ids else []
        folded = _fold(issue_id, rows) if rows else Counter()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return folded


def prune(
    now: datetime | None = None,
    chunk: int = PRUNE_CHUNK,
    limit: int | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Fold and delete the settled deliveries of issues finished more than
    DELIVERY_RETENTION_DAYS ago, ``chunk`` rows per transaction, up to about ``limit`` rows."""
    days = current_app.config["DELIVERY_RETENTION_DAYS"]
    if not days:
        return Pruned(0, None, dry_run)
    cutoff = (now or utcnow()) - timedelta(days=days)
    issue_ids = _prunable_issues(cutoff)
    db.session.commit()  # no transaction stays open between chunks
    pruned = Pruned(days, cutoff, dry_run)
    if dry_run:
        pruned.issues, pruned.by_status = len(issue_ids), _would_go(issue_ids)
        db.session.rollback()
        return pruned
    for issue_id in issue_ids:
        pruned.issues += 1
        while limit is None or pruned.deleted < limit:
            started = time.perf_counter()
            step = chunk if limit is None else min(chunk, limit - pruned.deleted)
            folded = fold_chunk(issue_id, step, cutoff)
            if not folded:
                break
            pruned.slowest_chunk = max(pruned.slowest_chunk, time.perf_counter() - started)
            pruned.chunks += 1
            pruned.by_status.update(folded)
            if folded.total() < step:
                break
        if limit is not None and pruned.deleted >= limit:
            break
    return pruned
