"""`flask newsletter add --frequencies`, and what `flask digest` does with several rhythms."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber, Subscription
from newsletters.services import newsletter_settings
from tests.support.readers import add_active_readers, add_newsletter, add_stories


@pytest.mark.parametrize(
    "value",
    ["hourly", "daily,daily", "", "weekly,,fortnightly", "Daily;weekly"],
)
def test_frequencies_that_are_not_a_list_of_rhythms_are_refused_and_nothing_is_added(
    app, runner, value
):
    result = runner.invoke(
        args=["newsletter", "add", "paper", "--name", "Paper", "--frequencies", value]
    )
    assert result.exit_code == 1
    assert "Frequencies are one or more of daily, weekly, monthly" in result.output
    with app.app_context():
        assert db.session.scalar(select(Newsletter)) is None


def test_a_newsletter_offers_its_rhythms_the_first_being_the_default(app, runner, client):
    result = runner.invoke(
        args=["newsletter", "add", "paper", "--name", "Paper", "--frequencies", "daily, weekly"]
    )
    assert result.exit_code == 0, result.output
    plain = runner.invoke(args=["newsletter", "add", "plain", "--name", "Plain"])
    assert plain.exit_code == 0, plain.output
    with app.app_context():
        found = dict(db.session.execute(select(Newsletter.slug, Newsletter.frequencies)).all())
    assert found == {"paper": "daily,weekly", "plain": "weekly"}
    listed = {n["slug"]: n for n in client.get("/api/v1/newsletters").get_json()["newsletters"]}
    assert listed["paper"]["cadence"] == "daily"
    assert listed["paper"]["frequencies"] == ["daily", "weekly"]
    assert listed["plain"]["cadence"] == "weekly" and listed["plain"]["frequencies"] == ["weekly"]


def test_a_dry_run_names_every_rhythm_of_a_newsletter_with_several(app, runner):
    paper = add_newsletter(app, "paper", "Paper", frequencies="weekly,daily,monthly")
    add_stories(app, paper, 2)
    add_active_readers(app, {"a@example.com": ["paper"]})
    dry = runner.invoke(args=["digest", "send", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    lines = {line.split(" ")[0] for line in dry.output.splitlines()}
    assert {"paper/weekly", "paper/daily", "paper/monthly"} <= lines
    summaries = {line.split(" ")[0]: line for line in dry.output.splitlines()}
    assert summaries["paper/weekly"].endswith("would send 2 stories to 1 readers")
    assert summaries["paper/daily"].endswith(": empty")  # the stories are older than a day


def test_preview_and_edit_take_a_frequency_and_refuse_one_not_offered(app, runner, tmp_path):
    add_newsletter(app, "paper", "Paper", frequencies="weekly,daily")
    out = tmp_path / "next.html"
    daily = runner.invoke(
        args=["digest", "preview", "paper", "--frequency", "daily", "--out", str(out)]
    )
    assert daily.exit_code == 0, daily.output
    edited = runner.invoke(
        args=["digest", "edit", "paper", "--frequency", "daily", "--subject", "{name} today"]
    )
    assert edited.exit_code == 0, edited.output
    refused = runner.invoke(args=["digest", "edit", "paper", "--frequency", "monthly"])
    assert refused.exit_code == 1 and "Paper is sent weekly, daily, not monthly." in refused.output


def test_readers_of_a_rhythm_no_longer_offered_move_to_the_first_at_a_shared_boundary(app):
    paper = add_newsletter(app, "paper", "Paper", frequencies="weekly,daily")
    add_active_readers(app, {"d@example.com": ["paper"], "w@example.com": ["paper"]})
    with app.app_context():
        rows = db.session.scalars(select(Subscription).join(Subscriber))
        for row in rows:
            row.frequency = "daily" if row.subscriber.email.startswith("d") else None
        db.session.commit()
        newsletter = db.session.get(Newsletter, paper)
        data = newsletter_settings.NewsletterInput(slug="paper", name="Paper", frequencies="weekly")
        newsletter_settings.update_newsletter(str(newsletter.uuid), data)
        by_email = {
            s.subscriber.email: (s.frequency, s.next_frequency, s.frequency_from)
            for s in db.session.scalars(select(Subscription))
        }
    frequency, pending, starts = by_email["d@example.com"]
    assert (frequency, pending) == ("daily", "weekly")
    assert starts.astimezone(UTC) > datetime.now(UTC)  # daily issues until the next Monday
    assert by_email["w@example.com"] == (None, None, None)
