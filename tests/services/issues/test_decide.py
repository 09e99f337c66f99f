"""--dry-run and a real send make the same decision, because they ask the same function."""

import re

import pytest
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import Delivery, Newsletter, Subscriber, Subscription, SubscriptionStatus
from tests.support.readers import add_newsletter, add_readers, add_stories

REAL_FOR_DRY = {"would send": "sent", "would resume": "sent"}


@pytest.fixture
def settings(settings, smtp_server):
    """Issues go to a real SMTP server."""
    settings.update(smtp_server.settings())
    return settings


def _outcomes(output: str) -> dict[str, str]:
    """slug -> outcome, from the one-line summaries."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^(\S+)(?: \S+)?: ([a-z ]+?)(?: \d+ stories|;|$)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _dry_then_real(runner, *args) -> tuple[dict[str, str], dict[str, str]]:
    dry = runner.invoke(args=["digest", "send", "--dry-run", *args])
    assert dry.exit_code == 0, dry.output
    real = runner.invoke(args=["digest", "send", *args])
    assert real.exit_code == 0, real.output
    return _outcomes(dry.output), _outcomes(real.output)


def test_a_dry_run_predicts_every_outcome_of_the_real_run(app, runner, smtp_server):
    busy = add_newsletter(app, "busy", "Busy")  # stories and readers: sends
    add_readers(app, busy, 2, prefix="busy")
    add_stories(app, busy, 2)
    quiet = add_newsletter(app, "quiet", "Quiet")  # readers but no stories: empty
    add_readers(app, quiet, 1, prefix="quiet")
    loud = add_newsletter(app, "loud", "Loud", send_when_empty=True)  # sends even so
    add_readers(app, loud, 1, prefix="loud")
    with app.app_context():  # created now: last week's issue is not its to send
        db.session.add(Newsletter(slug="new", name="New"))
        db.session.commit()

    dry, real = _dry_then_real(runner)
    assert dry == {"busy": "would send", "quiet": "empty", "loud": "would send", "new": "not due"}
    assert real == {slug: REAL_FOR_DRY.get(outcome, outcome) for slug, outcome in dry.items()}

    dry, real = _dry_then_real(runner)  # a second run: everything has gone out
    assert dry == real == {
        "busy": "already sent", "quiet": "empty", "loud": "already sent", "new": "not due"
    }  # fmt: skip
    assert len(smtp_server.recipients) == 3


def test_a_forced_dry_run_predicts_the_forced_send(app, runner, smtp_server):
    busy = add_newsletter(app, "busy", "Busy")
    add_readers(app, busy, 2, prefix="busy")
    add_stories(app, busy, 1, period="current")
    add_newsletter(app, "quiet", "Quiet")
    dry, real = _dry_then_real(runner, "--force")
    assert dry == {"busy": "would send", "quiet": "empty"}
    assert real == {"busy": "sent", "quiet": "empty"}
    dry, real = _dry_then_real(runner, "--force")
    assert dry == real == {"busy": "already sent", "quiet": "empty"}


def test_an_issue_is_for_active_readers_only_and_the_count_says_so(app, runner, smtp_server):
    """Pending and departed readers are neither sent to nor counted, in the plan or the run."""
    weekly = add_newsletter(app, "weekly", "Weekly")
    active = add_readers(app, weekly, 3, prefix="active")
    add_stories(app, weekly, 1)
    for prefix, status in (
        ("pending", SubscriptionStatus.PENDING),
        ("left", SubscriptionStatus.UNSUBSCRIBED),
    ):
        add_readers(app, weekly, 2, prefix=prefix)
        with app.app_context():
            db.session.execute(
                update(Subscription)
                .where(Subscription.subscriber_id.in_(
                    select(Subscriber.id).where(Subscriber.email.like(f"{prefix}%"))
                ))
                .values(status=status)
            )  # fmt: skip
            db.session.commit()
    dry = runner.invoke(args=["digest", "send", "--dry-run"])
    assert "would send 1 stories to 3 readers" in dry.output
    real = runner.invoke(args=["digest", "send"])
    assert "skipped 0 of 3" in real.output, real.output
    assert sorted(smtp_server.recipients) == sorted(active)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 3
