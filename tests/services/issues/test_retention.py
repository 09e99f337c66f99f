"""Delivery retention: old issues' rows are folded into counts and deleted, in chunks, and
every count a person sees stays exactly what it was."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import (
    BounceKind,
    BounceReport,
    Delivery,
    DeliveryStatus,
    Subscriber,
    utcnow,
)
from newsletters.services.deliverability import events
from newsletters.services.issues import overview, retention
from newsletters.services.mail import verp
from tests.support.provider_webhooks import WEBHOOK, as_body, generic_headers, suppression
from tests.support.retention import history, live_rows, shown, signed_in

SECRET = "generic-webhook-secret-for-tests"


@pytest.fixture
def settings(settings):
    settings["BOUNCE_WEBHOOK_SECRET"] = SECRET
    return settings


@pytest.fixture
def made(app, runner):
    return history(app, runner)


def _prune(app, **options) -> retention.Pruned:
    with app.app_context():
        return retention.prune(**options)


def test_counts_shown_are_the_same_after_the_old_rows_go(app, client, made):
    before = shown(signed_in(client), made)
    assert all(fields and progress["total"] for fields, progress in before["pages"].values())
    assert before["dashboard"] and before["issues"]
    rows = live_rows(app)
    pruned = _prune(app)
    # Every settled row of the finished old issues: 3 + 46 + 4.
    assert (pruned.deleted, pruned.issues, pruned.chunks) == (53, 3, 3)
    assert pruned.by_status[DeliveryStatus.SENT] == 31
    assert live_rows(app) == {
        made.pruned[2]: 1,  # the cancelled issue's row a sender still held
        **{issue_id: rows[issue_id] for issue_id in made.kept},
    }
    assert shown(client, made) == before
    sent = before["api"]["issues"]
    assert [i["counts"]["complained"] for i in sent if i["id"] == made.uuids[1]] == [2]
    assert _prune(app).deleted == 0  # nothing twice


def test_an_issue_still_sending_or_younger_than_the_retention_keeps_its_rows(app, made):
    rows = live_rows(app)
    _prune(app, now=utcnow() + timedelta(days=45))  # the young one is 75 days old then
    assert {i: live_rows(app).get(i) for i in made.kept} == {i: rows[i] for i in made.kept}
    _prune(app, now=utcnow() + timedelta(days=61))
    assert made.kept[0] not in live_rows(app)  # 91 days: it goes
    assert live_rows(app)[made.sending] == rows[made.sending]  # sending: never


def test_an_issue_reopened_after_the_list_was_made_keeps_its_rows(app, made):
    old = made.pruned[1]
    with app.app_context():
        cutoff = utcnow() - timedelta(days=90)
        assert old in retention._prunable_issues(cutoff)
        assert overview.resend_failures(made.uuids[1]) == 3  # its failures go again
        db.session.commit()
        rows = live_rows(app)[old]
        assert not retention.fold_chunk(old, 10, cutoff)
    assert live_rows(app)[old] == rows


def test_zero_keeps_every_row_for_ever(app, made):
    app.config["DELIVERY_RETENTION_DAYS"] = 0
    rows = live_rows(app)
    pruned = _prune(app, now=utcnow() + timedelta(days=3650))
    assert pruned.summary() == (
        "DELIVERY_RETENTION_DAYS is 0: deliveries are kept for ever; nothing pruned."
    )
    assert live_rows(app) == rows


def test_chunks_are_bounded_and_a_limit_stops_part_way(app, client, made):
    before = shown(signed_in(client), made)
    part = _prune(app, chunk=5, limit=7)
    assert (part.deleted, part.chunks) == (7, 2)  # 3 of the first issue, then 4 more
    assert shown(client, made) == before  # half folded, half live: the same counts
    rest = _prune(app, chunk=5)
    # The old issue's 42 left in chunks of at most 5 (9 chunks), the cancelled one's 4 (1).
    assert (rest.deleted, rest.chunks) == (46, 10)
    assert shown(client, made) == before


def test_a_crash_after_folding_a_chunk_loses_and_doubles_nothing(app, client, made, monkeypatch):
    before = shown(signed_in(client), made)
    fold, calls = retention._fold, []

    def fold_then_crash(issue_id, rows):
        folded = fold(issue_id, rows)
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("the machine went away")
        return folded

    monkeypatch.setattr(retention, "_fold", fold_then_crash)
    with pytest.raises(RuntimeError):
        _prune(app, chunk=10)
    assert shown(client, made) == before
    assert sum(live_rows(app).values()) == 68 - 3 - 10  # two chunks kept, the third undone
    monkeypatch.setattr(retention, "_fold", fold)
    assert _prune(app, chunk=10).deleted == 53 - 13
    assert shown(client, made) == before


def test_a_bounce_for_a_pruned_delivery_is_matched_by_address_or_kept_unmatched(app, client, made):
    with app.app_context():
        delivery = db.session.scalar(
            select(Delivery).where(
                Delivery.issue_id == made.pruned[1], Delivery.status == DeliveryStatus.SENT
            )
        )
        address = db.session.get(Subscriber, delivery.subscriber_id).email
        token = verp.token_for_delivery(delivery.id)
        message_id = verp.delivery_message_id(made.uuids[1], token)
    _prune(app)
    # A provider's signed webhook: its address is trusted, so the reader is found by it.
    body = as_body({"email": address, "type": "hard", "message_id": message_id})
    response = client.post(
        WEBHOOK.format("generic"), data=body, headers=generic_headers(SECRET, body)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    # The bounce mailbox trusts only the signed token, which names a row that is gone.
    with app.app_context():
        applied = events.apply(
            events.BounceEvent("mailbox", "dsn-1", BounceKind.HARD, address, (token,))
        )
        reports = db.session.scalars(
            select(BounceReport).where(BounceReport.source.in_(["generic", "mailbox"]))
        ).all()
        found = {(r.source, r.outcome, r.delivery_id) for r in reports if r.kind == BounceKind.HARD}
        assert found == {("generic", "suppressed", None), ("mailbox", "unmatched", None)}
        assert applied.outcome == "unmatched"
        assert suppression(address) is not None
