"""flask bounces prune: old reports go, in committed chunks; the soft-bounce window never does."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import BounceKind, BounceReport, utcnow
from newsletters.preflight import RefusedToStart, warnings
from newsletters.services.deliverability import stored_reports
from newsletters.tasks import PRUNE_BOUNCE_REPORTS, prune_bounce_reports
from tests.support.rates import add_loose_reports

NOW = utcnow().replace(microsecond=0)


def _ages(app) -> list[float]:
    """The age in days of every report left, youngest first."""
    with app.app_context():
        times = db.session.scalars(
            select(BounceReport.received_at).order_by(BounceReport.received_at.desc())
        ).all()
    return [round((NOW - t).total_seconds() / 86400, 3) for t in times]


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(BounceReport))


def test_old_reports_go_in_chunks_and_the_recent_ones_stay(app):
    cutoff = NOW - timedelta(days=30)
    add_loose_reports(app, 12_000, cutoff - timedelta(seconds=1))
    add_loose_reports(app, 1, cutoff)  # exactly 30 days old: kept
    add_loose_reports(app, 2, NOW - timedelta(days=2), kind=BounceKind.SOFT)
    with app.app_context():
        pruned = stored_reports.prune(now=NOW, chunk=5000)
    assert (pruned.deleted, pruned.chunks, pruned.kept_days) == (12_000, 3, 30)
    assert _ages(app) == [2.0, 2.0, 30.0]
    with app.app_context():
        again = stored_reports.prune(now=NOW, chunk=5000)
    assert (again.deleted, again.chunks) == (0, 0)


def test_the_command_says_how_many_it_deleted(app, runner):
    add_loose_reports(app, 7, NOW - timedelta(days=31))
    add_loose_reports(app, 3, NOW - timedelta(days=1))
    result = runner.invoke(args=["bounces", "prune", "--chunk", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted 7 bounce reports received before ")
    assert result.output.rstrip().endswith("UTC (kept 30 days)")
    assert _count(app) == 3


def test_a_retention_shorter_than_the_soft_window_keeps_the_window(app, runner):
    app.config["BOUNCE_REPORT_RETENTION_DAYS"] = 7  # shorter than the soft window (14)
    add_loose_reports(app, 2, NOW - timedelta(days=10), kind=BounceKind.SOFT)
    add_loose_reports(app, 4, NOW - timedelta(days=15), kind=BounceKind.SOFT)
    result = runner.invoke(args=["bounces", "prune"])
    assert result.exit_code == 0, result.output
    assert (
        "BOUNCE_REPORT_RETENTION_DAYS (7) is shorter than BOUNCE_SOFT_WINDOW_DAYS (14): "
        "reports are kept 14 days, because the soft-bounce rule counts them."
    ) in result.output
    assert "deleted 4 bounce reports" in result.output
    assert _ages(app) == [10.0, 10.0]
    assert any("BOUNCE_REPORT_RETENTION_DAYS (7) is shorter" in w for w in warnings(app.config))


@pytest.mark.parametrize(
    "name", ["BOUNCE_REPORT_RETENTION_DAYS", "BOUNCE_SOFT_LIMIT", "BOUNCE_SOFT_WINDOW_DAYS"]
)
@pytest.mark.parametrize("value", [0, -3, "14", 2.5, True])
def test_counts_and_days_that_cannot_work_refuse_to_start(settings, make_app, name, value):
    with pytest.raises(RefusedToStart) as refused:
        make_app({**settings, name: value})
    assert f"{name} must be a whole number of at least 1, not {value!r}" in str(refused.value)


def test_beat_prunes_every_day_and_the_task_prunes(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    [entry] = [e for e in schedule.values() if e["task"] == PRUNE_BOUNCE_REPORTS]
    assert entry["schedule"].remaining_estimate(NOW) <= timedelta(days=1)
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({4}, {17})
    add_loose_reports(app, 3, NOW - timedelta(days=40))
    add_loose_reports(app, 1, NOW - timedelta(days=1))
    assert prune_bounce_reports().startswith("deleted 3 bounce reports")
    assert _count(app) == 1
