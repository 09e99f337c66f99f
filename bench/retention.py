"""Pruning 1,000,000 delivery rows on PostgreSQL: rows per second, the slowest chunk, the
counts before and after, and the table's size.

    .venv/bin/python bench/retention.py [--readers 250000] [--issues 4]

Builds ``--issues`` issues finished 200 days ago, each sent to ``--readers`` readers
(1,000,000 rows by default), plus one finished 10 days ago that must keep its rows, all
with INSERT ... SELECT generate_series; then runs ``flask deliveries prune``'s service
with its default chunk.
"""

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.report import machine, table, write_section  # noqa: E402
from bench.setup import make_database, migrated_app  # noqa: E402
from newsletters.extensions import db  # noqa: E402
from newsletters.models import Issue, IssueStatus, Newsletter, utcnow  # noqa: E402
from newsletters.services.issues import completion, overview, retention, sent  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402

# Of every 1,000 readers: 10 bounced (4 of them refused in the SMTP conversation), 5
# failed, 3 suppressed, 2 skipped, the rest sent; one complaint per 2,000 messages.
STATUS = """CASE
    WHEN n % 1000 < 6 THEN 'bounced' WHEN n % 1000 < 10 THEN 'bounced'
    WHEN n % 1000 < 15 THEN 'failed' WHEN n % 1000 < 18 THEN 'suppressed'
    WHEN n % 1000 < 20 THEN 'skipped' ELSE 'sent' END"""
SENT_AT = "CASE WHEN n % 1000 < 6 OR n % 1000 >= 20 THEN i.completed_at END"


def _issue(newsletter: Newsletter, days_ago: int) -> Issue:
    done = utcnow() - timedelta(days=days_ago)
    return Issue(
        newsletter=newsletter,
        period_start=done - timedelta(days=7),
        period_end=done,
        status=IssueStatus.SENT,
        subject=f"{days_ago} days ago",
        rendered_at=done,
        materialized_at=done,
        completed_at=done,
    )


def build(readers: int, issues: int) -> None:
    """Readers, issues and their deliveries: a handful of statements."""
    newsletter = Newsletter(slug="bench", name="Bench")
    db.session.add_all([_issue(newsletter, 200 + 7 * n) for n in range(issues)])
    db.session.add(_issue(newsletter, 10))
    db.session.commit()
    statements = [
        f"INSERT INTO subscriber (uuid, email, status, created_at, updated_at, confirmed_at) "
        f"SELECT gen_random_uuid(), 'r' || n || '@example.com', 'confirmed', now(), now(), "
        f"now() FROM generate_series(1, {readers}) AS n",
        f"INSERT INTO delivery (digest_id, subscriber_id, status, attempts, sent_at) "
        f"SELECT i.id, n, {STATUS}, 1, {SENT_AT} "
        f"FROM digest AS i CROSS JOIN generate_series(1, {readers}) AS n "
        f"WHERE i.completed_at < now() - interval '100 days' "
        f"UNION ALL SELECT i.id, n, 'sent', 1, i.completed_at "
        f"FROM digest AS i CROSS JOIN generate_series(1, 1000) AS n "
        f"WHERE i.completed_at > now() - interval '100 days'",
        "INSERT INTO bounce_report (source, event_key, kind, outcome, email, domain, "
        "subscriber_id, newsletter_id, issue_id, delivery_id, status, detail, received_at) "
        "SELECT 'generic', 'bench-' || d.id, 'complaint', 'unsubscribed', 'x@example.com', "
        "'example.com', d.subscriber_id, i.newsletter_id, d.digest_id, d.id, 'abuse', '', now() "
        "FROM delivery AS d JOIN digest AS i ON i.id = d.digest_id "
        "WHERE d.id % 2000 = 0 AND d.status = 'sent'",
        "ANALYZE",
    ]
    for statement in statements:
        db.session.execute(text(statement))
        db.session.commit()


def shown() -> dict:
    """Every count the API, the console and the senders read."""
    page = sent.sent_issues(limit=100)
    return {
        "api": [(issue.id, counts) for issue, counts in page.issues],
        "console": overview.issues_overview(limit=100),
        "issue pages": [completion.delivery_counts(issue) for issue, _ in page.issues],
    }


def size(relation: str = "delivery") -> int:
    return db.session.scalar(text(f"SELECT pg_total_relation_size('{relation}')"))


def megabytes(n: int) -> str:
    return f"{n / 1_048_576:,.1f} MB"


def vacuum(full: bool) -> None:
    db.session.commit()  # VACUUM FULL waits for every lock on the table, this session's too
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM FULL delivery" if full else "VACUUM delivery"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=250_000)
    parser.add_argument("--issues", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="do not touch results.md")
    args = parser.parse_args()
    url = make_database("retention")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            app = migrated_app(url, workdir)
            with app.app_context():
                body = measure(args.readers, args.issues)
                db.engine.dispose()
    finally:
        drop_database(url)
    print(body)
    if not args.no_write:
        write_section("retention", body)


def measure(readers: int, issues: int) -> str:
    started = time.perf_counter()
    build(readers, issues)
    built = time.perf_counter() - started
    rows = db.session.scalar(text("SELECT count(*) FROM delivery"))
    size_before = size()
    reading = time.perf_counter()
    before = shown()
    read_before = time.perf_counter() - reading
    db.session.commit()
    pruning = time.perf_counter()
    pruned = retention.prune()
    seconds = time.perf_counter() - pruning
    size_after = size()
    reading = time.perf_counter()
    after = shown()
    read_after = time.perf_counter() - reading
    db.session.commit()
    left = db.session.scalar(text("SELECT count(*) FROM delivery"))
    vacuum(full=False)
    size_vacuumed = size()
    vacuum(full=True)
    size_full = size()
    same = "identical" if after == before else "DIFFERENT"
    rows_table = table(
        ["measure", "value"],
        [
            ["rows built (INSERT ... SELECT generate_series)", f"{rows:,} in {built:.1f} s"],
            ["rows folded and deleted", f"{pruned.deleted:,} of {pruned.issues} issues"],
            ["chunks (rows each)", f"{pruned.chunks:,} ({retention.PRUNE_CHUNK:,})"],
            ["prune time", f"{seconds:.1f} s"],
            ["**rows per second**", f"**{pruned.deleted / seconds:,.0f}**"],
            ["mean chunk", f"{seconds / max(pruned.chunks, 1) * 1000:,.0f} ms"],
            ["**slowest chunk**", f"**{pruned.slowest_chunk * 1000:,.0f} ms**"],
            ["rows left (the young issue's)", f"{left:,}"],
            ["**counts (API, console, issue pages) before and after**", f"**{same}**"],
            ["reading every count: before / after (dead rows not vacuumed yet)",
             f"{read_before * 1000:,.0f} ms / {read_after * 1000:,.0f} ms"],
            ["`delivery` size before", megabytes(size_before)],
            ["after the prune (dead rows)", megabytes(size_after)],
            ["after `VACUUM` (space reusable, file kept)", megabytes(size_vacuumed)],
            ["after `VACUUM FULL` (file rewritten)", megabytes(size_full)],
            ["`issue_delivery_count` size", megabytes(size("issue_delivery_count"))],
        ],
    )  # fmt: skip
    return f"""## Delivery retention (`bench/retention.py`)

{machine()}. PostgreSQL. {issues} issues finished 200 days ago, each to {readers:,}
readers, and one finished 10 days ago (kept); `flask deliveries prune`'s service
with its default chunk, one process.

{rows_table}

The prune deletes; PostgreSQL's autovacuum makes the space reusable for new rows,
and the file only shrinks with `VACUUM FULL` (or `pg_repack`), which locks the
table: once the retention is in place the table stops growing instead.
"""


if __name__ == "__main__":
    main()
