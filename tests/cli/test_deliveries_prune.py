"""flask deliveries prune: what it says it folded and deleted, the dry run, the nightly runs."""

from datetime import timedelta

import pytest

from newsletters.models import utcnow
from newsletters.preflight import RefusedToStart, warnings
from newsletters.tasks import PRUNE_DELIVERIES, prune_deliveries
from tests.support.retention import history, live_rows

NOW = utcnow()


@pytest.fixture
def made(app, runner):
    return history(app, runner)


def _cutoff() -> str:
    return f"{NOW - timedelta(days=90):%Y-%m-%d}"


def test_the_command_says_what_it_folded_and_deleted(app, runner, made):
    dry = runner.invoke(args=["deliveries", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert lines[0].startswith("would fold and delete 53 deliveries of 3 issues finished before ")
    assert _cutoff() in lines[0] and lines[0].endswith("UTC (kept 90 days)")
    assert lines[1] == ("sent 31, failed 4, bounced 8, suppressed 2, skipped 4, cancelled 4")
    assert sum(live_rows(app).values()) == 68  # a dry run changes nothing

    result = runner.invoke(args=["deliveries", "prune", "--chunk", "20"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("folded and deleted 53 deliveries of 3 issues finished before ")
    assert lines[0].endswith("UTC (kept 90 days), in 5 chunks")  # 3; 20, 20, 6; 4
    assert lines[1] == "sent 31, failed 4, bounced 8, suppressed 2, skipped 4, cancelled 4"
    assert sum(live_rows(app).values()) == 15


def test_a_limit_leaves_the_rest_for_the_next_night(app, runner, made):
    result = runner.invoke(args=["deliveries", "prune", "--limit", "10", "--chunk", "4"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("folded and deleted 10 deliveries of 2 issues")
    assert "in 3 chunks" in result.output  # 3, then 4 and 3 of the next issue
    assert sum(live_rows(app).values()) == 58


@pytest.mark.parametrize("value", [-1, "90", 2.5, True])
def test_a_retention_that_is_not_whole_days_refuses_to_start(settings, make_app, value):
    with pytest.raises(RefusedToStart) as refused:
        make_app({**settings, "DELIVERY_RETENTION_DAYS": value})
    assert "DELIVERY_RETENTION_DAYS must be a whole number of days (0: keep for ever)" in str(
        refused.value
    )


def test_a_retention_shorter_than_the_rates_window_is_warned_about(app):
    app.config["DELIVERY_RETENTION_DAYS"] = 14
    assert any(
        "DELIVERY_RETENTION_DAYS (14) is shorter than the 30 days" in w
        for w in warnings(app.config)
    )
    app.config["DELIVERY_RETENTION_DAYS"] = 0
    assert not any("DELIVERY_RETENTION_DAYS" in w for w in warnings(app.config))


def test_beat_prunes_every_night_and_the_task_prunes(app, made):
    schedule = app.extensions["celery"].conf.beat_schedule
    [entry] = [e for e in schedule.values() if e["task"] == PRUNE_DELIVERIES]
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({4}, {37})
    assert prune_deliveries().startswith("folded and deleted 53 deliveries of 3 issues")
    assert sum(live_rows(app).values()) == 15
