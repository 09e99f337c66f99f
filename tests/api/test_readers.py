"""GET, PATCH and DELETE /api/v1/subscribers/<email>: the publisher's systems and a reader."""

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import AuditLog, Event, EventKind, Subscriber, Suppression
from tests.support.api_records import (
    ANN,
    BEN,
    CLIMATE,
    DAILY,
    INSIDERS,
    OLD,
    WEEKLY,
    make_token,
    seed,
)
from tests.support.reader import snapshot


@pytest.fixture
def token(app, runner):
    seed(app)
    return make_token(runner, "crm", "subscribers:read,subscribers:write")


def _call(client, method, email, token, **kwargs):
    headers = {"Authorization": f"Bearer {token}"}
    return client.open(f"/api/v1/subscribers/{email}", method=method, headers=headers, **kwargs)


def _standing(answer) -> dict[str, str]:
    return {s["newsletter"]: s["status"] for s in answer.get_json()["subscriber"]["subscriptions"]}


def _events(app, email) -> list[Event]:
    with app.app_context():
        reader = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
        rows = db.session.scalars(
            select(Event).where(Event.subscriber_id == reader.id).order_by(Event.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def _audit(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        return [(row.action, row.admin_email, row.target) for row in rows]


def test_a_reader_is_found_by_address_in_any_case(client, token):
    answer = _call(client, "GET", "Ann@EXAMPLE.com", token)
    assert answer.status_code == 200
    reader = answer.get_json()["subscriber"]
    assert (reader["email"], reader["status"], reader["locale"]) == (ANN, "confirmed", None)
    assert reader["confirmed_at"] and reader["created_at"]
    assert reader["subscriptions"] == [
        {
            "newsletter": CLIMATE,
            "status": "unsubscribed",
            "frequency": "weekly",
            "next_frequency": None,
            "since": reader["subscriptions"][0]["since"],
        },
        {
            "newsletter": WEEKLY,
            "status": "active",
            "frequency": "weekly",
            "next_frequency": None,
            "since": reader["subscriptions"][1]["since"],
        },
    ]
    assert all(s["since"] for s in reader["subscriptions"])


@pytest.mark.parametrize("email", ["nobody@example.com", "not an address", "%00"])
def test_an_unknown_address_is_404_in_the_error_shape(client, token, email):
    for method in ("GET", "DELETE"):
        answer = _call(client, method, email, token)
        assert answer.status_code in (404, 400), answer.status_code
        assert set(answer.get_json()["error"]) >= {"code", "message"}
    answer = _call(client, "GET", "nobody@example.com", token)
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"


def test_patch_sets_the_newsletters_and_is_in_history_and_audit(app, client, token):
    answer = _call(client, "PATCH", ANN, token, json={"newsletters": [DAILY]})
    assert answer.status_code == 200, answer.get_json()
    assert _standing(answer) == {WEEKLY: "unsubscribed", DAILY: "active", CLIMATE: "unsubscribed"}
    assert _standing(_call(client, "GET", ANN, token)) == _standing(answer)
    last = _events(app, ANN)[-1]
    assert (last.kind, last.source) == (EventKind.PREFERENCES_UPDATED, "api")
    assert last.detail == {"added": [DAILY], "removed": [WEEKLY]}
    action, who, _ = _audit(app)[-1]
    assert (action, who) == ("subscriber.update", "API token crm")


def test_patch_changes_rhythm_and_language(app, client, token):
    body = {"frequencies": {WEEKLY: "monthly"}, "locale": "es"}
    answer = _call(client, "PATCH", ANN, token, json=body)
    assert answer.status_code == 200, answer.get_json()
    reader = answer.get_json()["subscriber"]
    assert reader["locale"] == "es"
    weekly = next(s for s in reader["subscriptions"] if s["newsletter"] == WEEKLY)
    assert weekly["status"] == "active"
    assert weekly["next_frequency"]["frequency"] == "monthly"  # from the shared boundary
    assert {e.detail.get("locale") for e in _events(app, ANN)} >= {"es"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"newsletters": ["no-such-thing"]}, "newsletters"),
        ({"newsletters": [WEEKLY, INSIDERS]}, "newsletters"),  # private, and not theirs
        ({"newsletters": [WEEKLY, OLD]}, "newsletters"),  # archived
        ({"newsletters": WEEKLY}, "newsletters"),
        ({"newsletters": [WEEKLY], "frequencies": {WEEKLY: "daily"}}, "frequencies"),
        ({"newsletters": [WEEKLY], "frequencies": {DAILY: "daily"}}, "frequencies"),
        ({"frequencies": [WEEKLY]}, "frequencies"),
        ({"locale": "fr"}, "locale"),
        ({"locale": 5}, "locale"),
        ({"newsletters": [], "colour": "red"}, "colour"),
        ({}, None),
    ],
)
def test_a_bad_patch_is_400_naming_the_field_and_changes_nothing(app, client, token, body, field):
    before, audited = snapshot(app), _audit(app)
    answer = _call(client, "PATCH", ANN, token, json=body)
    assert answer.status_code == 400
    assert answer.get_json()["error"].get("field") == field
    assert snapshot(app) == before and _audit(app) == audited


@pytest.mark.parametrize(
    ("data", "content_type", "words"),
    [
        ("newsletters=the-weekly", "application/x-www-form-urlencoded", "Content-Type"),
        ('{"newsletters": [', "application/json", "JSON object"),
        ("[]", "application/json", "JSON object"),
        ('"text"', "application/json", "JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(app, client, token, data, content_type, words):
    before = snapshot(app)
    answer = _call(client, "PATCH", ANN, token, data=data, content_type=content_type)
    assert answer.status_code == 400
    assert words in answer.get_json()["error"]["message"]
    assert snapshot(app) == before


def test_a_reader_who_never_confirmed_gets_nothing_added(app, client, token):
    before = snapshot(app)
    refused = _call(client, "PATCH", BEN, token, json={"newsletters": [WEEKLY]})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "consent_needed"
    assert snapshot(app) == before
    removed = _call(client, "PATCH", BEN, token, json={"newsletters": []})
    assert removed.status_code == 200
    assert _standing(removed) == {WEEKLY: "unsubscribed"}
    assert removed.get_json()["subscriber"]["status"] == "pending"


def test_a_reader_who_left_is_not_put_back(app, client, token):
    before = snapshot(app)
    refused = _call(client, "PATCH", ANN, token, json={"newsletters": [WEEKLY, CLIMATE]})
    assert refused.status_code == 409
    assert CLIMATE in refused.get_json()["error"]["message"]
    assert snapshot(app) == before


def test_delete_erases_as_the_console_does(app, client, token):
    answer = _call(client, "DELETE", "ANN@example.com", token)
    assert answer.status_code == 204 and answer.data == b""
    assert _call(client, "GET", ANN, token).status_code == 404
    assert _call(client, "DELETE", ANN, token).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Subscriber).where(Subscriber.email == ANN)) is None
        assert db.session.scalar(select(Suppression.id).limit(1)) is not None
    action, who, _ = _audit(app)[-1]
    assert (action, who) == ("subscriber.erase", "API token crm")
