"""Send control: schedule, send now, pause, resume and cancel, against a real SMTP server."""

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from newsletters.errors import InvalidInput, IssueStateConflict
from newsletters.extensions import db
from newsletters.models import Delivery, Issue, IssueStatus, utcnow
from newsletters.services.issues import control, editing, overview, runs
from newsletters.services.issues.lineup import lineup
from tests.support.readers import add_readers, add_stories


@pytest.fixture
def settings(settings, smtp_server, tmp_path):
    settings.update(smtp_server.settings())
    settings["DIGEST_JOURNAL_DIR"] = str(tmp_path / "journal")
    settings["DIGEST_BATCH_SIZE"] = 25
    return settings


def _open(app, now=None) -> str:
    with app.app_context():
        return str(editing.open_next_issue("the-weekly", now or utcnow()).uuid)


def _issue(app) -> Issue:
    with app.app_context():
        issue = db.session.scalar(select(Issue).order_by(Issue.id))
        db.session.expunge(issue)
        return issue


def _deliveries(app) -> Counter:
    with app.app_context():
        return Counter(s.value for s in db.session.scalars(select(Delivery.status)))


def _wait_until(condition, seconds=60.0, what="the condition"):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_time_without_an_offset_is_on_the_newsletters_clock(app):
    app.config["TIMEZONE"] = "Europe/Berlin"
    with app.app_context():
        assert control.parse_send_time("2026-12-07T08:00") == datetime(2026, 12, 7, 7, tzinfo=UTC)
        assert control.parse_send_time("2026-07-07T08:00") == datetime(2026, 7, 7, 6, tzinfo=UTC)
        assert control.parse_send_time("2026-12-07T08:00Z") == datetime(2026, 12, 7, 8, tzinfo=UTC)
        assert control.parse_send_time("2026-12-07T08:00-05:00").hour == 13
        for bad in ("next monday", "2026-13-01T08:00", "", "9999-12-31T23:59-23:59"):
            with pytest.raises(InvalidInput):
                control.parse_send_time(bad)


def test_a_scheduled_issue_waits_for_its_time_not_its_slot(app, weekly, smtp_server):
    readers = add_readers(app, weekly, 5)
    now = utcnow()
    public_id = _open(app, now)
    with app.app_context():
        control.schedule(public_id, now + timedelta(hours=2), now)
        first = runs.send_due_issues(now=now)
    assert [run.outcome for run in first] == ["scheduled"]
    assert smtp_server.recipients == [] and _deliveries(app) == Counter()

    with app.app_context():
        later = runs.send_due_issues(now=now + timedelta(hours=2, minutes=1))
    assert [run.outcome for run in later] == ["sent"]
    assert sorted(smtp_server.recipients) == sorted(readers)
    with app.app_context():
        again = runs.send_due_issues(now=now + timedelta(hours=3))
    assert [run.outcome for run in again] == ["already sent"]
    assert len(smtp_server.recipients) == 5


def test_unscheduling_gives_the_issue_back_to_its_slot(app, weekly, smtp_server):
    add_readers(app, weekly, 2)
    now = utcnow()
    public_id = _open(app, now)
    with app.app_context():
        control.schedule(public_id, now + timedelta(days=2), now)
        control.unschedule(public_id)
        runs.send_due_issues(now=now)
    assert len(smtp_server.recipients) == 2


def test_the_running_periods_issue_scheduled_early_carries_its_stories_so_far_once(
    app, weekly, smtp_server
):
    add_readers(app, weekly, 2)
    now = utcnow()
    with app.app_context():
        runs.send_due_issues(now=now)  # last week's issue goes out at its slot
    add_stories(app, weekly, 2, period="current")
    public_id = _open(app, now)
    with app.app_context():
        control.schedule(public_id, now + timedelta(minutes=5), now)
        runs.send_due_issues(now=now + timedelta(minutes=6))
        issue = db.session.scalar(select(Issue).where(Issue.id == 2))
        assert issue.status == IssueStatus.SENT and len(issue.story_ids) == 2
        # The next issue is the one after it: the early send is not sent again.
        assert editing.open_next_issue("the-weekly", now).period_start == issue.period_end
    assert len(smtp_server.recipients) == 4


def test_schedule_times_that_make_no_sense_are_refused(app, weekly):
    now = utcnow()
    public_id = _open(app, now)
    for when, words in (
        (now - timedelta(minutes=1), "passed"),
        (now + timedelta(days=400), "a year"),
    ):
        with app.app_context(), pytest.raises(InvalidInput, match=words):
            control.schedule(public_id, when, now)
    assert _issue(app).send_at is None


def test_send_now_renders_the_draft_as_edited_and_sends_it(app, weekly, smtp_server):
    readers = add_readers(app, weekly, 3)
    now = utcnow()
    public_id = _open(app, now)
    with app.app_context():
        editing.save_draft(public_id, editing.Draft(intro="Read this first."), now)
        issue = control.send_now(public_id, now)
        assert issue.status == IssueStatus.SENDING and issue.send_at == now
        run = runs.send_issue(issue)
    assert run.outcome == "sent"
    assert sorted(smtp_server.recipients) == sorted(readers)
    assert "Read this first." in smtp_server.messages[0].get_body(("plain",)).get_content()
    with app.app_context(), pytest.raises(IssueStateConflict, match="has been sent"):
        control.send_now(public_id, now)


def test_an_issue_with_no_story_left_is_not_sent_now(app, weekly):
    now = utcnow()
    public_id = _open(app, now)
    with app.app_context():
        issue = db.session.scalar(select(Issue))
        order = [str(story.uuid) for story in lineup(issue.newsletter, issue, now)]
        editing.save_draft(public_id, editing.Draft(order=order, included=set()), now)
        with pytest.raises(InvalidInput, match="no stories"):
            control.send_now(public_id, now)
    assert _issue(app).status == IssueStatus.DRAFT


def test_each_move_is_allowed_only_from_the_right_state(app, weekly):
    now = utcnow()
    public_id = _open(app, now)
    with app.app_context():
        with pytest.raises(IssueStateConflict, match="not started"):
            control.pause(public_id, now)
        with pytest.raises(IssueStateConflict, match="not started"):
            control.resume(public_id)
        control.send_now(public_id, now)
        with pytest.raises(IssueStateConflict, match="is sending"):
            control.resume(public_id)
        with pytest.raises(IssueStateConflict, match="is sending"):
            control.schedule(public_id, now + timedelta(hours=1), now)
        control.pause(public_id, now)
        with pytest.raises(IssueStateConflict, match="is paused"):
            control.pause(public_id, now)
        control.resume(public_id)
        control.cancel(public_id, now)
        for move in (
            lambda: control.cancel(public_id, now),
            lambda: control.resume(public_id),
            lambda: control.pause(public_id, now),
        ):
            with pytest.raises(IssueStateConflict, match="was cancelled"):
                move()
    assert _issue(app).status == IssueStatus.CANCELLED


def test_a_cancelled_draft_is_never_sent_and_the_next_issue_moves_on(app, weekly, smtp_server):
    add_readers(app, weekly, 2)
    now = utcnow()
    public_id = _open(app, now)
    with app.app_context():
        control.cancel(public_id, now)
        outcomes = [run.outcome for run in runs.send_due_issues(now=now)]
        following = editing.open_next_issue("the-weekly", now)
        assert str(following.uuid) != public_id
    assert outcomes == ["cancelled"] and smtp_server.recipients == []


def _send_in_thread(app):
    """Send the issue the way the console's "Send now" does: a thread of this process."""
    done = threading.Event()
    result = {}

    def work():
        with app.app_context():
            try:
                result["run"] = runs.send_issue(db.session.scalar(select(Issue)))
            finally:
                db.session.remove()
                done.set()

    threading.Thread(target=work, daemon=True).start()
    return done, result


def test_a_pause_stops_the_sender_mid_batch_and_a_resume_sends_each_waiting_reader_once(
    app, weekly, smtp_server
):
    readers = add_readers(app, weekly, 300)
    app.config["MAIL_RATE_LIMIT"] = 100  # slow enough to be caught halfway through a batch
    app.config["DIGEST_BATCH_SIZE"] = 200
    public_id = _open(app)
    with app.app_context():
        control.send_now(public_id, utcnow())
    done, result = _send_in_thread(app)
    _wait_until(lambda: len(smtp_server.envelopes) >= 60, what="the first messages")
    with app.app_context():
        control.pause(public_id, utcnow())
    assert done.wait(timeout=5), "the sender did not stop within a few seconds"
    assert result["run"].outcome == "paused"
    stopped_at = len(smtp_server.envelopes)
    assert stopped_at < 200, "the sender went on to the end of its batch of 200"
    time.sleep(1.5)
    assert len(smtp_server.envelopes) == stopped_at, "a paused issue went on sending"
    counts = _deliveries(app)
    assert counts["sending"] == 0 and counts["sent"] == stopped_at
    assert result["run"].report.sent == stopped_at  # each one marked at once, counted once
    assert counts["pending"] == 300 - stopped_at
    with app.app_context():
        progress = control.progress(db.session.scalar(select(Issue)))
        assert (progress.status, progress.sent, progress.waiting) == (
            "paused",
            stopped_at,
            300 - stopped_at,
        )
        # cron leaves a paused issue alone
        assert [r.outcome for r in runs.send_due_issues()] == ["paused"]
    assert len(smtp_server.envelopes) == stopped_at

    app.config["MAIL_RATE_LIMIT"] = 0
    with app.app_context():
        control.resume(public_id)
        run = runs.send_issue(db.session.scalar(select(Issue)))
    assert run.outcome == "sent"
    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers) and set(received.values()) == {1}


def test_a_cancel_mid_send_stops_the_sender_and_nobody_else_ever_gets_it(app, weekly, smtp_server):
    readers = add_readers(app, weekly, 200)
    app.config["MAIL_RATE_LIMIT"] = 100
    public_id = _open(app)
    with app.app_context():
        control.send_now(public_id, utcnow())
    done, result = _send_in_thread(app)
    _wait_until(lambda: len(smtp_server.envelopes) >= 40, what="the first messages")
    with app.app_context():
        control.cancel(public_id, utcnow())
    assert done.wait(timeout=5)
    stopped_at = len(smtp_server.envelopes)
    counts = _deliveries(app)
    assert counts == Counter({"sent": stopped_at, "cancelled": 200 - stopped_at})
    assert result["run"].report.sent == stopped_at
    app.config["MAIL_RATE_LIMIT"] = 0
    with app.app_context():
        assert [run.outcome for run in runs.send_due_issues()] == ["cancelled"]
        issue = db.session.scalar(select(Issue).order_by(Issue.id))
        assert issue.status == IssueStatus.CANCELLED
    sent_to = Counter(smtp_server.recipients)
    assert set(sent_to.values()) == {1}
    assert len(sent_to) == stopped_at and set(sent_to) <= set(readers)  # nobody more


def test_a_cancelled_issues_failures_cannot_be_resent(app, weekly):
    public_id = _open(app)
    with app.app_context():
        control.cancel(public_id, utcnow())
        with pytest.raises(IssueStateConflict, match="was cancelled"):
            overview.resend_failures(public_id)


def test_a_dry_run_says_a_scheduled_issue_waits_then_would_be_sent(app, weekly):
    add_readers(app, weekly, 4)
    now = utcnow()
    public_id = _open(app, now)
    with app.app_context():
        control.schedule(public_id, now + timedelta(hours=1), now)
        before = runs.plan_due_issues(None, force=False, now=now)
        after = runs.plan_due_issues(None, force=False, now=now + timedelta(hours=2))
    assert [run.outcome for run in before] == ["scheduled"]
    assert [(run.outcome, run.total, run.stories) for run in after] == [("would send", 4, 3)]
    assert _issue(app).status == IssueStatus.DRAFT
