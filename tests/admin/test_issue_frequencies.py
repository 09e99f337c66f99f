"""The editor's desk with several rhythms: one next issue per rhythm, each its own draft."""

import re

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Issue, Newsletter
from tests.support.issue_desk import post
from tests.support.readers import add_newsletter


def test_each_rhythm_has_its_own_next_issue_and_one_rhythm_keeps_its_single_row(app, owner):
    add_newsletter(app, "paper", "The Paper", frequencies="weekly,daily")
    add_newsletter(app, "the-weekly", "The Weekly")
    listing = owner.get("/admin/issues").get_data(as_text=True)
    assert "The Paper (weekly)" in listing and "The Paper (daily)" in listing
    assert ">The Weekly</th>" in listing and "The Weekly (weekly)" not in listing
    assert 'name="frequency" value="daily"' in listing

    daily = post(owner, "/admin/issues/next/paper", frequency="daily")
    weekly = post(owner, "/admin/issues/next/paper")  # no rhythm: the first
    assert daily.status_code == weekly.status_code == 302
    assert daily.location != weekly.location
    with app.app_context():
        drafts = dict(db.session.execute(select(Issue.uuid, Issue.frequency)).all())
    assert {str(u): f for u, f in drafts.items()} == {
        daily.location.rsplit("/", 1)[1]: "daily",
        weekly.location.rsplit("/", 1)[1]: "weekly",
    }
    refused = post(owner, "/admin/issues/next/paper", frequency="monthly")
    assert refused.status_code == 400
    assert "The Paper is sent weekly, daily, not monthly." in refused.get_data(as_text=True)
    preview = owner.get("/admin/issues/paper/preview?frequency=daily")
    assert preview.status_code == 200
    assert owner.get("/admin/issues/paper/preview?frequency=hourly").status_code == 400


FORM = {"name": "The Paper", "slug": "paper", "cadence": "weekly", "send_day": "mon",
        "send_hour": "8", "public": "y", "archive": "y"}  # fmt: skip


def test_the_console_edits_the_rhythms_offered_and_refuses_a_bad_list(app, owner):
    add_newsletter(app, "paper", "The Paper")
    with app.app_context():
        key = str(db.session.scalar(select(Newsletter.uuid)))
    page = owner.get(f"/admin/newsletters/{key}/edit").get_data(as_text=True)
    assert 'name="frequencies"' in page and 'value="weekly"' in page
    saved = post(owner, f"/admin/newsletters/{key}/edit", **FORM, frequencies="daily,weekly")
    assert saved.status_code == 302
    refused = post(owner, f"/admin/newsletters/{key}/edit", **FORM, frequencies="weekly,hourly")
    assert refused.status_code == 400
    assert "Frequencies are one or more of daily, weekly, monthly" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Newsletter.frequencies)) == "daily,weekly"
    assert "Daily, weekly" in owner.get("/admin/newsletters").get_data(as_text=True)


def test_the_editor_names_the_issues_rhythm_beside_its_period(app, owner):
    add_newsletter(app, "paper", "The Paper", frequencies="weekly,daily")
    add_newsletter(app, "the-weekly", "The Weekly")
    daily = post(owner, "/admin/issues/next/paper", frequency="daily").location
    weekly = post(owner, "/admin/issues/next/the-weekly").location

    page = owner.get(daily).get_data(as_text=True)
    head = re.search(r'<span class="issue-head__period">(.*?)</span></h1>', page)[1]
    assert re.fullmatch(
        r'<span class="issue-head__rhythm">Daily issue</span> · \d{1,2} \w+ \d{4}', head
    )
    assert re.search(r"<title>The Paper, daily issue, \d{1,2} \w+ \d{4}", page)

    page = owner.get(weekly).get_data(as_text=True)
    head = re.search(r'<span class="issue-head__period">(.*?)</span></h1>', page)[1]
    assert head.startswith('<span class="issue-head__rhythm">Weekly issue</span> · ')
    assert "–" in head  # a week: from one day to another
