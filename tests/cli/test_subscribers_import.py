"""flask subscribers import: our own file as before, or another system's export as it is."""

from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import ImportJob
from tests.support.reader import statuses
from tests.support.readers import add_newsletter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


@pytest.fixture(autouse=True)
def lists(app):
    add_newsletter(app, "the-weekly", "The Weekly")
    add_newsletter(app, "ai-digest", "AI Digest")


def test_a_mailchimp_export_imports_with_its_tags_mapped(app, runner):
    result = runner.invoke(
        args=["subscribers", "import", str(FIXTURES / "mailchimp_subscribed.csv"),
              "--newsletters", "ai-digest", "--map-tag", "Weekly=the-weekly"]
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # two rows were refused
    assert "format: Mailchimp audience export" in result.output
    assert "3 of 5 rows can be imported; 2 refused" in result.output
    assert "refused: 5,not-an-address,not a valid email address" in result.output
    assert "imported 3 rows (active)" in result.output
    assert statuses(app, "ada@example.com") == {"the-weekly": "active"}
    assert statuses(app, "alan@example.com") == {"ai-digest": "active"}


def test_an_unsubscribed_file_suppresses_and_exits_cleanly(app, runner):
    result = runner.invoke(
        args=["subscribers", "import", str(FIXTURES / "mailchimp_unsubscribed.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "imported 0 rows (active); 2 suppressed as unsubscribed or bounced" in result.output
    assert statuses(app, "left@example.com") == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--map-tag", "Weekly"], "is not TAG=SLUG"),
        (["--newsletters", "the-weeky"], "Unknown newsletter: the-weeky."),
        (["--format", "ghost"], "This is not a Ghost members export"),
        (["--format", "smoke"], "Invalid value for '--format'"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_kept(app, runner, options, message):
    result = runner.invoke(
        args=["subscribers", "import", str(FIXTURES / "mailchimp_subscribed.csv"), *options]
    )
    assert result.exit_code in (1, 2) and message in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(ImportJob.id)) is None


def test_our_own_format_is_detected_and_keeps_its_rule(app, runner, tmp_path):
    path = tmp_path / "ours.csv"
    path.write_text("email,newsletters\nown@example.com,the-weekly\n")
    result = runner.invoke(args=["subscribers", "import", str(path), "--newsletters", "ai-digest"])
    assert result.exit_code == 0, result.output
    assert "imported 1 rows (pending)" in result.output
    assert statuses(app, "own@example.com") == {"the-weekly": "pending"}


def test_rows_that_are_not_csv_are_refused_with_the_reason_and_the_rest_imported(
    app, runner, tmp_path
):
    path = tmp_path / "broken.csv"
    path.write_text(
        "email,newsletters\n"
        "first@example.com,the-weekly\n"
        '"' + "x" * 200_000 + '",x\n'  # line 3: a cell over the CSV reader's limit
        "second@example.com,the-weekly\n"
        'quoted@example.com,"the-weekly"x\n'  # line 5: text after a closing quote
        "third@example.com,ai-digest\n"
        'open@example.com,"the-weekly\n'  # line 7: a quote never closed
        "fourth@example.com,the-weekly\n"
        "fifth@example.com,ai-digest\n"
    )
    result = runner.invoke(args=["subscribers", "import", str(path)])
    assert result.exit_code == 1, result.output  # rows were refused
    assert "5 of 8 rows can be imported; 3 refused" in result.output
    assert "refused: 3,,a cell is longer than 131072 characters" in result.output
    assert "refused: 5,,a closing quote is followed by more text in the same cell" in result.output
    assert "refused: 7,,a quoted cell is never closed (a missing closing quote)" in result.output
    assert "imported 5 rows (pending)" in result.output
    for address in ("first", "second", "fourth"):
        assert statuses(app, f"{address}@example.com") == {"the-weekly": "pending"}
    for address in ("third", "fifth"):
        assert statuses(app, f"{address}@example.com") == {"ai-digest": "pending"}
    assert statuses(app, "quoted@example.com") == statuses(app, "open@example.com") == {}
    with app.app_context():
        job = db.session.scalar(select(ImportJob))
        assert job.status.value == "done" and job.error_count == 3
