"""The rates: exact per issue, newsletter and domain, over a window whose edges are kept."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    Delivery,
    DeliveryStatus,
    Issue,
    Subscriber,
    utcnow,
)
from newsletters.services.deliverability import events, stats
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.mail import verp
from newsletters.services.readers import audience
from tests.support.rates import add_issue, add_reports, add_sent
from tests.support.readers import add_newsletter

NOW = utcnow().replace(microsecond=0)


def _by_key(rows):
    return {r.key: (r.sent, r.hard, r.soft, r.complaints) for r in rows}


@pytest.fixture
def sent(app):
    """Two newsletters, two issues, two domains, and what came back."""
    weekly = add_newsletter(app)
    science = add_newsletter(app, slug="science", name="Science Weekly")
    first = add_issue(app, weekly, NOW - timedelta(days=2), "Bridges")
    second = add_issue(app, science, NOW - timedelta(days=5), "Comets")
    gmail = add_sent(app, first, "gmail.com", 1000, NOW - timedelta(days=2))
    yahoo = add_sent(app, first, "yahoo.com", 500, NOW - timedelta(days=2))
    later = add_sent(app, second, "gmail.com", 1000, NOW - timedelta(days=5))
    received = NOW - timedelta(days=1)
    add_reports(app, gmail[:10], BounceKind.HARD, received)
    add_reports(app, gmail[10:14], BounceKind.SOFT, received)
    add_reports(app, gmail[14:16], BounceKind.COMPLAINT, received)
    add_reports(app, yahoo[:5], BounceKind.HARD, received)
    add_reports(app, yahoo[5:7], BounceKind.COMPLAINT, received)
    add_reports(app, later[:3], BounceKind.HARD, received)
    add_reports(app, later[3:4], BounceKind.COMPLAINT, received)
    with app.app_context():
        uuids = {
            issue_id: str(db.session.get(Issue, issue_id).uuid) for issue_id in (first, second)
        }
    return {"first": uuids[first], "second": uuids[second], "gmail": gmail, "yahoo": yahoo}


def test_rates_per_issue_newsletter_and_domain_are_exact(app, sent):
    with app.app_context():
        figures = stats.window_stats(now=NOW)
    first, second = (
        next(r for r in figures.issues if r.key == sent[k]) for k in ("first", "second")
    )
    assert (first.sent, first.hard, first.soft, first.complaints) == (1500, 15, 4, 4)
    assert first.bounce_rate == 15 / 1500 and first.complaint_rate == 4 / 1500
    assert first.level == "warning" and first.standing == "at or above 0.1%"
    assert first.label.startswith("The Weekly, ") and first.detail == "Bridges"
    # Exactly 1 in 1,000 is on the line, not under it.
    assert (second.sent, second.hard, second.complaints) == (1000, 3, 1)
    assert second.level == "warning"
    assert [r.key for r in figures.issues] == [sent["first"], sent["second"]]  # newest first

    assert _by_key(figures.newsletters) == {
        "the-weekly": (1500, 15, 4, 4),
        "science": (1000, 3, 0, 1),
    }
    assert _by_key(figures.domains) == {
        "gmail.com": (2000, 13, 4, 3),
        "yahoo.com": (500, 5, 0, 2),
    }
    yahoo = next(r for r in figures.domains if r.key == "yahoo.com")
    # 0.4% is past the danger line, but 500 messages are too few to judge.
    assert yahoo.level == "danger" and not yahoo.enough_volume
    assert yahoo.standing == "at or above 0.3%, too few messages to judge"
    assert (figures.total.sent, figures.total.hard, figures.total.complaints) == (2500, 18, 5)
    assert figures.above("danger") == []
    warned = {(table, r.key) for table, r in figures.above("warning")}
    assert warned == {
        ("total", "all"),
        ("issue", sent["first"]),
        ("issue", sent["second"]),
        ("newsletter", "the-weekly"),
        ("newsletter", "science"),
        ("domain", "gmail.com"),
    }


def test_a_lower_volume_floor_judges_the_small_domain(app, sent):
    with app.app_context():
        figures = stats.window_stats(now=NOW, min_sent=500)
    assert [(t, r.key) for t, r in figures.above("danger")] == [("domain", "yahoo.com")]


def test_the_quiet_domains_are_summed_in_one_row(app, sent):
    with app.app_context():
        figures = stats.window_stats(now=NOW, top_domains=1)
    assert [r.key for r in figures.domains] == ["gmail.com"]
    assert figures.domain_count == 2
    assert (figures.other_domains.sent, figures.other_domains.complaints) == (500, 2)
    assert figures.other_domains.label == "1 other domains"


def test_a_message_counts_once_however_many_reports_name_it(app, sent):
    add_reports(app, sent["gmail"][14:16], BounceKind.COMPLAINT, NOW, source="mailbox")
    with app.app_context():
        figures = stats.window_stats(now=NOW)
    assert _by_key(figures.domains)["gmail.com"] == (2000, 13, 4, 3)


def test_the_window_keeps_its_edges_and_counts_by_when_the_message_left(app):
    weekly = add_newsletter(app)
    since = NOW - timedelta(days=30)
    # An issue whose first messages left a second before the window, the rest on its edge.
    issue = add_issue(app, weekly, since, "On the edge", completed_at=since + timedelta(hours=1))
    too_old = add_sent(app, issue, "gmail.com", 4, since - timedelta(seconds=1))
    on_edge = add_sent(app, issue, "gmail.com", 3, since)
    add_reports(app, on_edge[:1], BounceKind.COMPLAINT, NOW)
    # A message sent before the window: its complaint, received inside, is not counted.
    add_reports(app, too_old[:2], BounceKind.COMPLAINT, NOW - timedelta(days=1))
    # A report received after the end of the window is not counted yet.
    add_reports(app, on_edge[1:2], BounceKind.HARD, NOW + timedelta(seconds=1))
    with app.app_context():
        figures = stats.window_stats(now=NOW)
        shorter = stats.window_stats(days=29, now=NOW)
    assert [(r.detail, r.sent, r.hard, r.complaints) for r in figures.issues] == [
        ("On the edge", 3, 0, 1)
    ]
    assert (figures.total.sent, figures.total.complaints) == (3, 1)
    assert _by_key(figures.domains) == {"gmail.com": (3, 0, 0, 1)}
    assert shorter.issues == [] and shorter.total.sent == 0


def test_reports_tied_to_no_issue_are_in_no_rate(app, sent):
    with app.app_context():
        db.session.add(
            BounceReport(
                source="mailbox",
                event_key="unmatched-1",
                kind=BounceKind.COMPLAINT,
                outcome="unmatched",
                email="someone@gmail.com",
                domain="gmail.com",
                received_at=NOW - timedelta(hours=1),
            )
        )
        db.session.commit()
        figures = stats.window_stats(now=NOW)
    assert _by_key(figures.domains)["gmail.com"] == (2000, 13, 4, 3)
    assert figures.total.complaints == 5


def test_reports_applied_by_the_rules_are_counted_and_a_bounced_message_was_still_sent(app):
    weekly = add_newsletter(app)
    issue = add_issue(app, weekly, NOW - timedelta(days=1))
    ids = add_sent(app, issue, "example.net", 10, NOW - timedelta(days=1))
    with app.app_context():
        for n, (delivery_id, kind) in enumerate(
            [(ids[0], BounceKind.HARD), (ids[1], BounceKind.COMPLAINT), (ids[2], BounceKind.SOFT)]
        ):
            applied = events.apply(
                BounceEvent(
                    source="generic",
                    event_key=f"event-{n}",
                    kind=kind,
                    tokens=(verp.token_for_delivery(delivery_id),),
                    trusted_email=True,
                )
            )
            assert applied.outcome in ("suppressed", "unsubscribed", "counted")
        assert db.session.get(Delivery, ids[0]).status == DeliveryStatus.BOUNCED
        figures = stats.window_stats()
    [row] = figures.issues
    assert (row.sent, row.hard, row.soft, row.complaints) == (10, 1, 1, 1)
    assert row.bounce_rate == 0.1 and row.complaint_rate == 0.1


def test_an_erased_readers_complaint_stays_in_the_rates(app, sent):
    complainer = sent["yahoo"][5]
    with app.app_context():
        reader = db.session.scalar(
            select(Subscriber).join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.id == complainer)
        )  # fmt: skip
        audience.erase(str(reader.uuid))
        db.session.commit()
        figures = stats.window_stats(now=NOW)
    first = next(r for r in figures.issues if r.key == sent["first"])
    assert (first.sent, first.complaints) == (1500, 4)
    # The domain loses the erased reader's message, never the complaint: it errs high.
    assert _by_key(figures.domains)["yahoo.com"] == (499, 5, 0, 2)


def test_the_lines_are_at_one_and_three_in_a_thousand():
    def level(complaints, sent_count):
        return stats.Rates("k", "k", sent_count, complaints=complaints).level

    assert [level(0, 1000), level(1, 1001), level(1, 1000)] == ["ok", "ok", "warning"]
    assert [level(2, 1000), level(3, 1001), level(3, 1000)] == ["warning", "warning", "danger"]
    assert stats.Rates("k", "k", 0).complaint_rate is None
    assert stats.Rates("k", "k", 0).standing == "nothing sent"
