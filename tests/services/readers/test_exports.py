"""CSV export streams: 100,000 readers in the memory of one batch, and imports read it back."""

import csv
import io
import tracemalloc

from sqlalchemy import delete, select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber, Subscription
from newsletters.services.readers import exports
from tests.support.admin import action_token
from tests.support.reader import add_demo_newsletters
from tests.support.readers import add_active_readers, add_readers


def _peak_while_streaming(app, filters=None) -> tuple[int, int]:
    """Lines written, and the peak Python memory while writing them."""
    with app.app_context():
        tracemalloc.start()
        lines = 0
        for _line in exports.subscriber_csv(filters):
            lines += 1
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return lines, peak


def test_a_hundred_thousand_readers_export_in_bounded_memory(app):
    add_demo_newsletters(app)
    with app.app_context():
        weekly = db.session.scalar(select(Newsletter.id).filter_by(slug="the-weekly"))
    add_readers(app, weekly, 10_000, prefix="small")
    small_lines, small_peak = _peak_while_streaming(app)
    add_readers(app, weekly, 90_000, prefix="large")
    lines, peak = _peak_while_streaming(app)
    assert (small_lines, lines) == (10_001, 100_001)
    # Ten times the readers, about the same memory: one batch at a time, never the whole list.
    assert peak < small_peak * 1.5, (small_peak, peak)
    assert peak < 8 * 1024 * 1024


def test_the_export_is_what_an_import_reads(app, owner):
    add_demo_newsletters(app)
    with app.app_context():
        weekly = db.session.scalar(select(Newsletter.id).filter_by(slug="the-weekly"))
    add_readers(app, weekly, 3)
    response = owner.post(
        "/admin/subscribers/export.csv",
        data={"csrf_token": action_token(owner, "/admin/subscribers"), "newsletter": "the-weekly"},
    )
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["email"] for r in rows] == [f"reader{n}@example.com" for n in range(3)]
    assert {r["newsletters"] for r in rows} == {"the-weekly"}


def test_the_cli_exports_one_newsletter_to_a_file(app, runner, tmp_path):
    add_demo_newsletters(app)
    with app.app_context():
        weekly = db.session.scalar(select(Newsletter.id).filter_by(slug="the-weekly"))
        ai = db.session.scalar(select(Newsletter.id).filter_by(slug="ai-digest"))
    add_readers(app, weekly, 2, prefix="weekly")
    add_readers(app, ai, 3, prefix="ai")
    out = tmp_path / "ai.csv"
    result = runner.invoke(
        args=["subscribers", "export", "--newsletter", "ai-digest", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    emails = [row["email"] for row in csv.DictReader(io.StringIO(out.read_text()))]
    assert emails == ["ai0@example.com", "ai1@example.com", "ai2@example.com"]


# Valid addresses a spreadsheet would run as formulas, and some already quoted (none can
# start with @: something must come before the @-sign).
FORMULA_LIKE = {
    "=1+1@example.com": ["the-weekly"],
    "-reader@example.com": ["ai-digest", "the-weekly"],
    "+reader@example.com": ["climate-report"],
    "=cmd|calc@example.com": ["ai-digest"],
    "'=quoted@example.com": ["the-weekly"],
    "''-twice@example.com": ["ai-digest"],
    "'plain@example.com": ["morning-briefing", "the-weekly"],
    "plain@example.com": ["the-weekly"],
}


def _active(app) -> dict[str, list[str]]:
    with app.app_context():
        found: dict[str, list[str]] = {}
        for reader in db.session.scalars(select(Subscriber)):
            found[reader.email] = sorted(s.newsletter.slug for s in reader.subscriptions)
        return found


def _export(runner, path) -> list[tuple[str, str]]:
    result = runner.invoke(args=["subscribers", "export", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return [(r["email"], r["newsletters"]) for r in csv.DictReader(io.StringIO(path.read_text()))]


def test_an_export_of_formula_like_addresses_imports_back_exactly(app, runner, tmp_path):
    add_demo_newsletters(app)
    add_active_readers(app, FORMULA_LIKE)
    exported = _export(runner, tmp_path / "first.csv")
    assert not [email for email, _ in exported if email[0] in "=+-@|%＝＋－＠"]
    with app.app_context():  # a new installation: the same newsletters, no readers
        db.session.execute(delete(Subscription))
        db.session.execute(delete(Subscriber))
        db.session.commit()
    result = runner.invoke(
        args=[
            "subscribers",
            "import",
            str(tmp_path / "first.csv"),
            "--confirmed",
            "--consent-note",
            "moved from the old installation",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "0 refused" in result.output
    assert _active(app) == {address: sorted(slugs) for address, slugs in FORMULA_LIKE.items()}
    assert _export(runner, tmp_path / "second.csv") == exported
