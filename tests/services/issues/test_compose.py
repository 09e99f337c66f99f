"""Issues: when one is due, what it says, and sending it once to every active reader."""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import (
    Delivery,
    Issue,
    IssueStatus,
    Newsletter,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
    utcnow,
)
from newsletters.services.issues import compose, previews, schedule
from newsletters.services.mail import suppressions, verp
from tests.support.mail import html_of, text_of
from tests.support.readers import add_newsletter, add_readers, add_stories


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def _send(runner, *args):
    return runner.invoke(args=["digest", "send", *args])


def _issue(app) -> Issue:
    with app.app_context():
        issue = db.session.scalar(select(Issue).order_by(Issue.id.desc()))
        db.session.expunge(issue)
        return issue


def test_periods_follow_the_send_weekday_and_hour(app):
    with app.app_context():
        newsletter = Newsletter(slug="x", name="X", send_weekday=4, send_hour=7)  # Fri 07:00
        now = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday
        assert schedule.due_period(newsletter, now) == schedule.Period(
            datetime(2026, 11, 20, 7, tzinfo=UTC), datetime(2026, 11, 27, 7, tzinfo=UTC)
        )
        assert schedule.current_period(newsletter, now) == schedule.Period(
            datetime(2026, 11, 27, 7, tzinfo=UTC), datetime(2026, 12, 4, 7, tzinfo=UTC)
        )
        friday_early = datetime(2026, 11, 27, 6, 59, tzinfo=UTC)
        assert schedule.due_period(newsletter, friday_early).end == datetime(
            2026, 11, 20, 7, tzinfo=UTC
        )


def test_send_times_are_wall_clock_times_across_daylight_saving(app):
    app.config["TIMEZONE"] = "Europe/London"
    with app.app_context():
        newsletter = Newsletter(slug="x", name="X", send_weekday=0, send_hour=8)  # Mon 08:00
        after_change = datetime(2026, 10, 27, 12, 0, tzinfo=UTC)  # clocks went back on the 25th
        period = schedule.due_period(newsletter, after_change)
        assert period.end == datetime(2026, 10, 26, 8, tzinfo=UTC)  # 08:00 GMT
        assert period.start == datetime(2026, 10, 19, 7, tzinfo=UTC)  # 08:00 BST


def test_a_due_issue_goes_to_every_active_reader_once(app, runner, smtp_server, weekly):
    readers = add_readers(app, weekly, 25)
    result = _send(runner)
    assert result.exit_code == 0, result.output
    assert re.search(r"the-weekly .*: sent; sent 25, failed 0", result.output)
    assert sorted(smtp_server.recipients) == sorted(readers)
    again = _send(runner)
    assert again.exit_code == 0 and "the-weekly" in again.output
    assert len(smtp_server.recipients) == 25  # a second run sends nobody anything
    assert _issue(app).status == IssueStatus.SENT


def test_the_issue_is_rendered_once_and_each_reader_gets_only_their_own_links(
    app, runner, smtp_server, weekly
):
    add_readers(app, weekly, 3)
    _send(runner)
    messages = smtp_server.messages
    issue = _issue(app)
    assert issue.html_body and "__NL_UNSUBSCRIBE_URL__" in issue.html_body
    bodies, links = set(), set()
    for message in messages:
        text, html = text_of(message), html_of(message)
        own = re.findall(r"http://newsletters\.test/(?:unsubscribe|preferences)/\S+", text)
        assert len(own) == 2 and all(link in html for link in own)
        assert message["List-Unsubscribe"] == f"<{own[1]}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Subject"] == issue.subject
        assert "Story number 0" in text and "Story number 2" in html
        links.update(own)
        for link in own:
            text = text.replace(link, "LINK")
        bodies.add(text)
    assert len(bodies) == 1  # identical but for the links
    assert len(links) == 6


def test_the_unsubscribe_link_of_an_issue_leaves_that_newsletter_only(
    app, runner, client, smtp_server, weekly
):
    other = add_newsletter(app, slug="ai-digest", name="AI Digest")
    [address] = add_readers(app, weekly, 1)
    with app.app_context():
        subscriber_id = db.session.scalar(select(Subscription.subscriber_id))
        db.session.add(
            Subscription(
                subscriber_id=subscriber_id,
                newsletter_id=other,
                status=SubscriptionStatus.ACTIVE,
                source="form",
            )
        )
        db.session.commit()
    _send(runner, "--newsletter", "the-weekly")
    header = smtp_server.messages[0]["List-Unsubscribe"].strip("<>")
    response = app.test_client().post(
        header.removeprefix("http://newsletters.test"), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    with app.app_context():
        rows = db.session.execute(select(Subscription.newsletter_id, Subscription.status))
        statuses = {newsletter_id: status for newsletter_id, status in rows}
    assert statuses == {weekly: SubscriptionStatus.UNSUBSCRIBED, other: SubscriptionStatus.ACTIVE}


def test_suppressed_and_departed_readers_are_skipped(app, runner, smtp_server, weekly):
    readers = add_readers(app, weekly, 4)
    with app.app_context():
        suppressions.suppress(readers[0], SuppressionReason.BOUNCED)
        db.session.commit()
    result = _send(runner)
    assert "sent 3, failed 0, bounced 0, suppressed 1" in result.output
    assert readers[0] not in smtp_server.recipients


def test_an_empty_week_sends_nothing_unless_the_newsletter_says_so(app, runner, smtp_server):
    quiet = add_newsletter(app, slug="quiet", name="Quiet")
    chatty = add_newsletter(app, slug="chatty", name="Chatty", send_when_empty=True)
    add_readers(app, quiet, 2, prefix="q")
    add_readers(app, chatty, 2, prefix="c")
    result = _send(runner)
    assert result.exit_code == 0
    assert re.search(r"quiet .*: empty", result.output)
    assert re.search(r"chatty .*: sent; sent 2", result.output)
    assert sorted(smtp_server.recipients) == ["c0@example.com", "c1@example.com"]
    assert "There are no new stories this time" in text_of(smtp_server.messages[0])


def test_force_sends_the_running_period_once(app, runner, smtp_server, weekly):
    add_readers(app, weekly, 2)
    add_stories(app, weekly, 1, period="current")
    assert "sent 2" in _send(runner).output  # last week's issue
    assert "sent 2" in _send(runner, "--force").output  # this week's, now
    assert "already sent" in _send(runner, "--force").output
    assert len(smtp_server.recipients) == 4


def test_dry_run_says_what_would_happen_and_writes_nothing(app, runner, smtp_server, weekly):
    add_readers(app, weekly, 7)
    result = _send(runner, "--dry-run")
    assert re.search(r"the-weekly .*: would send 3 stories to 7 readers", result.output)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Issue)) == 0
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert smtp_server.envelopes == []


def test_a_failed_delivery_fails_the_run_and_is_retried_by_the_next(
    app, runner, smtp_server, weekly
):
    readers = add_readers(app, weekly, 3)
    smtp_server.fail_data("451 4.3.0 Mailbox busy")
    first = _send(runner)
    assert first.exit_code == 1
    assert re.search(r"incomplete; sent 2, failed 1", first.output)
    assert _issue(app).status == IssueStatus.SENDING
    second = _send(runner)
    assert second.exit_code == 0, second.output
    assert re.search(r"the-weekly .*: sent; sent 1, failed 0", second.output)
    assert sorted(smtp_server.recipients) == sorted(readers)


def test_a_connection_lost_mid_issue_records_as_sent_only_what_the_server_took(
    app, runner, smtp_server, weekly
):
    readers = add_readers(app, weekly, 5)
    smtp_server.drop_data()  # hangs up at the first message's end, its reply never sent
    first = _send(runner)
    # Pipelined, the second message's commands were already on the wire: both are
    # unknown, so both are failed for a retry; neither is counted as sent.
    assert re.search(r"incomplete; sent 3, failed 2", first.output), first.output
    assert len(smtp_server.recipients) == 3
    second = _send(runner)
    assert re.search(r"the-weekly .*: sent; sent 2, failed 0", second.output), second.output
    assert sorted(smtp_server.recipients) == sorted(readers)  # each reader exactly once


def test_a_refused_address_is_bounced_suppressed_and_the_rest_go_on(
    app, runner, smtp_server, weekly
):
    readers = add_readers(app, weekly, 3)
    smtp_server.refuse(readers[1])
    result = _send(runner)
    assert result.exit_code == 1
    assert "sent 2, failed 0, bounced 1" in result.output
    with app.app_context():
        assert suppressions.is_suppressed(readers[1])
    assert _issue(app).status == IssueStatus.SENT  # nothing left to retry


def test_readers_who_leave_mid_issue_are_skipped(app, runner, smtp_server, weekly):
    readers = add_readers(app, weekly, 3)
    smtp_server.stop()  # the first run makes the list but cannot send
    assert _send(runner).exit_code == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 3
        db.session.execute(
            update(Subscription)
            .where(
                Subscription.subscriber_id
                == select(Subscription.subscriber_id)
                .order_by(Subscription.subscriber_id)
                .limit(1)
                .scalar_subquery()
            )
            .values(status=SubscriptionStatus.UNSUBSCRIBED)
        )
        db.session.commit()
    smtp_server.start()
    result = _send(runner)
    assert "sent 2, failed 0, bounced 0, suppressed 0, skipped 1" in result.output
    assert sorted(smtp_server.recipients) == sorted(readers[1:])


def test_subject_and_intro_come_from_the_newsletter_or_the_issue(app, runner, smtp_server, weekly):
    add_readers(app, weekly, 1)
    with app.app_context():
        db.session.execute(
            update(Newsletter).values(subject_template="{site} | {name}", intro="Hello, readers.")
        )
        db.session.commit()
    _send(runner)
    assert smtp_server.messages[-1]["Subject"] == "The Daily Ledger | The Weekly"
    assert "Hello, readers." in text_of(smtp_server.messages[-1])

    add_stories(app, weekly, 1, period="current")
    edit = runner.invoke(
        args=[
            "digest",
            "edit",
            "the-weekly",
            "--subject",
            "Special: {date}",
            "--intro",
            "Big week.",
        ]
    )
    assert edit.exit_code == 0, edit.output
    _send(runner, "--force")
    assert smtp_server.messages[-1]["Subject"].startswith("Special: ")
    assert "Big week." in text_of(smtp_server.messages[-1])
    bad = runner.invoke(args=["digest", "edit", "the-weekly", "--subject", "{nope}"])
    assert bad.exit_code == 1 and "{name}, {date} and {site}" in bad.output


def test_after_a_forced_send_the_next_issue_is_the_one_after_it(app, runner, smtp_server, weekly):
    """Preview, test send and edit all move on to the next period once --force has sent."""
    add_readers(app, weekly, 1)
    add_stories(app, weekly, 1, period="due")
    _send(runner)  # the ended period's issue
    add_stories(app, weekly, 2, period="current")
    _send(runner, "--force")  # the running period's issue
    sent = len(smtp_server.messages)
    with app.app_context():
        newsletter = db.session.get(Newsletter, weekly)
        now = utcnow()
        following = schedule.period_after(newsletter, schedule.current_period(newsletter, now))
        assert compose.next_period(newsletter, now) == following
        issue, email, stories = previews.preview_next("the-weekly", now)
        assert (issue.period_start, issue.status, stories) == (following.start, None, 0)
    edit = runner.invoke(args=["digest", "edit", "the-weekly", "--subject", "Next: {date}"])
    assert edit.exit_code == 0, edit.output
    assert f"ending {following.end:%Y-%m-%d %H:%M} UTC" in edit.output
    with app.app_context():
        previews.send_test_of_next("the-weekly", "editor@example.com", utcnow())
    assert smtp_server.messages[-1]["Subject"].startswith("[Test] Next: ")
    assert len(smtp_server.messages) == sent + 1  # the test, and nothing to the reader
    assert "Story number" not in text_of(smtp_server.messages[-1])  # last week's are gone


def test_preview_writes_the_next_issue_without_sending(app, runner, smtp_server, weekly, tmp_path):
    add_readers(app, weekly, 2)
    out = tmp_path / "next.html"
    result = runner.invoke(args=["digest", "preview", "the-weekly", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 stories" in result.output
    html, text = out.read_text(), out.with_suffix(".txt").read_text()
    assert "Story number 1" in html and "Story number 1" in text
    assert "__NL_" not in html and "__NL_" not in text
    assert smtp_server.envelopes == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Issue)) == 0


def test_unknown_newsletter_is_a_clear_error(runner):
    result = runner.invoke(args=["digest", "send", "--newsletter", "nope"])
    assert result.exit_code == 1 and "no newsletter with the slug 'nope'" in result.output
    assert runner.invoke(args=["digest", "preview", "nope"]).exit_code == 1


def test_message_ids_are_unique_on_the_site_domain_and_name_their_delivery(
    app, runner, smtp_server, weekly
):
    add_readers(app, weekly, 5)
    _send(runner)
    ids = Counter(m["Message-ID"] for m in smtp_server.messages)
    assert len(ids) == 5 and all(i.endswith("@newsletters.test>") for i in ids)
    with app.app_context():
        named = {verp.read_token(verp.find_tokens(i)[0]).row_id for i in ids}
        assert named == set(db.session.scalars(select(Delivery.id)))


def test_an_issue_is_not_due_for_a_period_before_the_newsletter_existed(app, runner):
    with app.app_context():
        db.session.add(Newsletter(slug="brand-new", name="Brand New"))
        db.session.commit()
    assert re.search(r"^brand-new \S+: not due$", _send(runner).output, re.M)


def test_issues_sent_long_ago_are_not_resent_when_new_readers_join(
    app, runner, smtp_server, weekly
):
    add_readers(app, weekly, 2)
    _send(runner)
    add_readers(app, weekly, 2, prefix="late")
    assert "already sent" in _send(runner).output
    assert len(smtp_server.recipients) == 2


def test_periods_are_in_the_past_for_a_scheduled_run(app):
    with app.app_context():
        newsletter = Newsletter(slug="x", name="X", send_weekday=2, send_hour=8)
        now = datetime.now(UTC)
        period = schedule.due_period(newsletter, now)
        assert period.end <= now < period.end + timedelta(days=7)
        assert period.end - period.start == timedelta(days=7)
