"""The deliverability page: rates per issue, newsletter and domain, against the 0.1% and 0.3%
lines."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import BounceKind, BounceReport, Subscriber, utcnow
from tests.support.rates import add_issue, add_reports, add_sent, table_rows
from tests.support.readers import add_newsletter


@pytest.fixture
def complaints(app):
    """The Weekly, sent two days ago: gmail.com over the 0.3% line, yahoo.com between the lines,
    and a small domain over it with too few messages to judge."""
    weekly = add_newsletter(app)
    when = utcnow() - timedelta(days=2)
    issue = add_issue(app, weekly, when, "Budget vote & the bridge")
    gmail = add_sent(app, issue, "gmail.com", 2000, when)
    yahoo = add_sent(app, issue, "yahoo.com", 1000, when)
    small = add_sent(app, issue, "example.org", 50, when)
    received = when + timedelta(hours=3)
    add_reports(app, gmail[:7], BounceKind.COMPLAINT, received)  # 0.35%
    add_reports(app, gmail[7:27], BounceKind.HARD, received)
    add_reports(app, yahoo[:2], BounceKind.COMPLAINT, received)  # 0.2%
    add_reports(app, yahoo[2:5], BounceKind.SOFT, received)
    add_reports(app, small[:1], BounceKind.COMPLAINT, received)  # 2%, from 50
    with app.app_context():
        db.session.add(
            BounceReport(
                source="mailbox",
                event_key="nobody-we-know",
                kind=BounceKind.HARD,
                outcome="unmatched",
                email="stranger@elsewhere.example",
                domain="elsewhere.example",
                status="5.1.1",
                detail="User unknown",
                received_at=utcnow(),
            )
        )
        db.session.commit()
    return gmail


def _rows(html, table_id):
    caption, rows = table_rows(html, table_id)
    return caption, {row[0]: row[1:] for row in rows[1:]}


@pytest.mark.parametrize("role", ["owner", "editor"])
def test_both_roles_see_the_rates_per_issue_newsletter_and_domain(app, request, complaints, role):
    client = request.getfixturevalue(role)
    response = client.get("/admin/deliverability")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    caption, issues = _rows(html, "issue-rates")
    assert caption == "Issues sent in the last 30 days, newest first."
    [(label, issue)] = issues.items()
    assert label.startswith("The Weekly, ") and label.endswith("Budget vote & the bridge")
    assert issue[:5] == ["3,050", "20", "0.66%", "3", "10"]
    assert issue[5] == "0.33% At or above 0.3%"

    caption, newsletters = _rows(html, "newsletter-rates")
    assert caption.startswith("Each newsletter")
    assert newsletters == {"The Weekly": issue}

    caption, domains = _rows(html, "domain-rates")
    assert caption == "The domains readers’ addresses are at, busiest first."
    assert domains == {
        "gmail.com": ["2,000", "20", "1.00%", "0", "7", "0.35% At or above 0.3%"],
        "yahoo.com": ["1,000", "0", "0.00%", "3", "2", "0.20% At or above 0.1%"],
        "example.org": [
            "50",
            "0",
            "0.00%",
            "0",
            "1",
            "2.00% At or above 0.3%, too few messages to judge",
        ],
    }
    alert = html[html.index('role="alert"') : html.index("</div>", html.index('role="alert"'))]
    assert "Complaints at or above 0.3%" in alert
    assert "domain gmail.com (0.35%)" in alert and "example.org" not in alert
    # Each bar is drawn against both lines, and hidden from screen readers: the words say it.
    assert html.count('class="rate-bar__line"') == 2 * (1 + 1 + 3)
    assert 'class="rate-bar rate-bar--danger"' in html
    assert 'class="rate-bar rate-bar--unjudged"' in html
    assert '<a href="/admin/deliverability" aria-current="page">Deliverability</a>' in html


def test_the_latest_reports_link_to_the_reader(app, owner, complaints):
    html = owner.get("/admin/deliverability").get_data(as_text=True)
    with app.app_context():
        # The small domain's complaint was stored last, so it is among the 25 shown.
        reader = db.session.scalar(
            select(Subscriber)
            .join(BounceReport, BounceReport.subscriber_id == Subscriber.id)
            .where(BounceReport.domain == "example.org")
        )
        address, uuid = reader.email, reader.uuid
    assert f'<a href="/admin/subscribers/{uuid}">{address}</a>' in html
    caption, rows = table_rows(html, "latest-reports")
    assert caption.startswith("The 25 newest bounce and complaint reports")
    assert len(rows) == 1 + 25
    newest = rows[1]
    assert newest[1:5] == ["hard", "unmatched", "stranger@elsewhere.example", "—"]
    assert newest[5] == "mailbox · 5.1.1 User unknown"


def test_with_nothing_sent_the_page_says_so(app, editor):
    response = editor.get("/admin/deliverability")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No issue was sent in these days." in html
    assert "No report has arrived yet." in html
    assert 'role="alert"' not in html
    assert "Nothing sent" in html


def test_the_dashboard_menu_leads_to_it(app, editor):
    html = editor.get("/admin/").get_data(as_text=True)
    assert '<a href="/admin/deliverability">Deliverability</a>' in html
