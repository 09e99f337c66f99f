"""What marking each accepted message sent costs a sender, per message, on each database.

    .venv/bin/python bench/sent_marks.py

Claims 5,000 deliveries, then marks them sent one at a time through
``SentMarks`` (the statement compiled once, run on the driver's cursor) and,
to compare, through a SQLAlchemy Core execute of the same statement, in turns:
the sender's CPU (process time) and the wall-clock time of each mark, on
PostgreSQL and SQLite.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import update  # noqa: E402

from bench.report import machine, table, write_section  # noqa: E402
from bench.setup import make_database, migrated_app  # noqa: E402
from newsletters.extensions import db  # noqa: E402
from newsletters.models import Delivery, DeliveryStatus, Newsletter, utcnow  # noqa: E402
from newsletters.services.issues import compose, deliveries  # noqa: E402
from newsletters.services.issues.sent_marks import MARK_SENT, SentMarks  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.readers import add_newsletter, add_readers, add_stories  # noqa: E402

READERS = 5_000
TOKEN = "bench:1:0"


def _claimed_ids(app) -> list[int]:
    """An issue to READERS readers, every delivery claimed by one sender."""
    newsletter_id = add_newsletter(app)
    add_stories(app, newsletter_id, 3)
    add_readers(app, newsletter_id, READERS)
    with app.app_context():
        issue = compose.prepare_issue(db.session.get(Newsletter, newsletter_id), utcnow()).issue
        deliveries.materialize(issue)
        db.session.execute(
            update(Delivery).values(
                status=DeliveryStatus.SENDING, claim_token=TOKEN, claimed_at=utcnow()
            )
        )
        db.session.commit()
        return sorted(db.session.scalars(db.select(Delivery.id)))


def _timed(mark, ids: list[int]) -> tuple[float, float]:
    """Microseconds per mark: (CPU of this process, wall clock)."""
    cpu, wall = time.process_time(), time.perf_counter()
    for delivery_id in ids:
        mark(delivery_id)
    n = len(ids)
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


def _core_mark(marks: SentMarks):
    """The same UPDATE through SQLAlchemy Core (a cached compiled statement)."""

    def mark(delivery_id: int) -> None:
        marks.connection.execute(
            MARK_SENT, {"delivery_id": delivery_id, "token": TOKEN, "now": utcnow()}
        )

    return mark


def measure(url: str, workdir: str) -> list[list[object]]:
    app = migrated_app(url, workdir)
    ids = _claimed_ids(app)
    with app.app_context(), SentMarks() as marks:
        name = marks.connection.dialect.name
        ways = [lambda i: marks.mark(i, TOKEN), _core_mark(marks)]
        # In turns of 250, so both see the same warm-up and the same noise.
        spent = [[0.0, 0.0], [0.0, 0.0]]
        for turn in range(0, len(ids), 500):
            for way, mark in enumerate(ways):
                chunk = ids[turn + 250 * way : turn + 250 * (way + 1)]
                cpu, wall = _timed(mark, chunk)
                spent[way][0] += cpu * len(chunk)
                spent[way][1] += wall * len(chunk)
        bare, core = [(cpu / (len(ids) / 2), wall / (len(ids) / 2)) for cpu, wall in spent]
        left = db.session.scalar(
            db.select(db.func.count()).where(Delivery.status == DeliveryStatus.SENDING)
        )
        assert left == 0, f"{left} deliveries were not marked"
    with app.app_context():
        db.engine.dispose()
    return [
        [name, "SQLAlchemy Core execute", f"{core[0]:.0f}", f"{core[1]:.0f}", "1.00"],
        [
            name,
            "SentMarks (driver cursor)",
            f"{bare[0]:.0f}",
            f"{bare[1]:.0f}",
            f"{bare[0] / core[0]:.2f}",
        ],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not touch results.md")
    args = parser.parse_args()
    rows = []
    url = make_database("sent_marks")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            rows += measure(url, workdir)
            rows += measure(f"sqlite:///{workdir}/marks.db", workdir)
    finally:
        drop_database(url)
    header = ["database", "mark through", "CPU µs/message", "wall µs/message", "CPU ratio"]
    body = f"""## Marking each message sent (`bench/sent_marks.py`)

{machine()}. {READERS:,} claimed deliveries marked sent one at a time, as a sender
does the moment the server accepts each message: an autocommit connection of
its own, without waiting for the disk (`synchronous_commit = off` on PostgreSQL,
`synchronous = NORMAL` on SQLite in WAL mode). CPU is the sender process's.

{table(header, rows)}
"""
    print(body)
    if not args.no_write:
        write_section("sent_marks", body)


if __name__ == "__main__":
    main()
