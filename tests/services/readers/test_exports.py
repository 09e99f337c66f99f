"""CSV export streams: 100,000 readers in the memory of one batch, and imports read it back."""

import csv
import io
import tracemalloc

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter
from newsletters.services.readers import exports
from tests.support.admin import action_token
from tests.support.reader import add_demo_newsletters
from tests.support.readers import add_readers


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
