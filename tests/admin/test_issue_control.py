"""Send control in the issue editor: send now, schedule on the newsletters' clock, pause,
resume and cancel, each refused with a 409 in the wrong state; the progress the page polls;
CSRF; and bad input answered with a 4xx that changes nothing."""

import html
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Issue, OutboxMessage, utcnow
from newsletters.services.issues import control
from tests.support.issue_desk import (
    add_desk,
    audit_actions,
    editor_form,
    issue_row,
    open_issue,
    post,
    wait_for_status,
)

BERLIN = ZoneInfo("Europe/Berlin")
ELEVEN_ADDRESSES = " ".join(f"r{n}@x.example" for n in range(11))


@pytest.fixture
def settings(settings):
    settings["TIMEZONE"] = "Europe/Berlin"
    settings["DIGEST_BATCH_SIZE"] = 2
    return settings


def _body(response) -> str:
    return response.get_data(as_text=True)


def _started(app, key: str) -> None:
    """Start the issue as cron would: rendered and sending, no sender running yet."""
    with app.app_context():
        control.send_now(key, utcnow())


def test_send_now_reaches_each_reader_once_and_reports_progress(app, owner, key, readers, mailbox):
    draft = owner.get(f"/admin/issues/{key}/progress").get_json()
    assert draft["status"] == "draft" and draft["total"] == 3
    assert draft["label"] == "Not sent yet: 3 readers will get it"
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert "Send now…" in page and "Send to 3 readers now" in page
    sent = post(owner, f"/admin/issues/{key}/send")
    assert sent.status_code == 302
    assert "Sending to 3 readers." in _body(owner.get(sent.location))
    done = wait_for_status(owner, key, "sent")
    assert done["status"] == "sent", done
    assert (done["sent"], done["total"], done["waiting"], done["percent"]) == (3, 3, 0, 100)
    assert done["label"] == "Sent to 3 of 3 readers" and done["badge"] == "Sent"
    assert sorted(m["To"] for m in mailbox.messages()) == sorted(readers)
    assert not any(m["Subject"].startswith("[Test]") for m in mailbox.messages())
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert 'name="subject"' not in page and "This issue has been sent" in page
    assert ("issue.send", "owner@publisher.example") in audit_actions(app)


def test_an_issue_without_stories_is_not_sent(app, owner):
    add_desk(app, readers=2, stories=[])
    key = open_issue(owner)
    refused = post(owner, f"/admin/issues/{key}/send")
    assert refused.status_code == 400 and "has no stories" in _body(refused)
    assert issue_row(app, key)["status"] == "draft"


def test_a_schedule_is_on_the_newsletters_clock(app, owner, key):
    day = (datetime.now(BERLIN) + timedelta(days=8)).date()
    at = f"{day:%Y-%m-%d}T08:00"
    scheduled = post(owner, f"/admin/issues/{key}/schedule", send_at=at)
    assert scheduled.status_code == 302
    expected = datetime.combine(day, time(8), BERLIN).astimezone(UTC)
    stored = issue_row(app, key)["send_at"]
    assert stored == expected and stored.hour in (6, 7)  # 08:00 in Berlin is not 08:00 UTC
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert f"Scheduled for {day:%A} {day.day} {day:%B %Y}, 08:00 (Europe/Berlin)" in page
    assert "Send on (Europe/Berlin time)" in page and f'value="{at}"' in page
    assert f'formaction="/admin/issues/{key}/unschedule"' in page
    unscheduled = post(owner, f"/admin/issues/{key}/unschedule")
    assert unscheduled.status_code == 302 and issue_row(app, key)["send_at"] is None
    page = _body(owner.get(unscheduled.location))
    assert "Unscheduled: it goes out at the newsletter's usual time" in html.unescape(page)
    assert "/unschedule" not in page and "Scheduled for" not in page


@pytest.mark.parametrize(
    "send_at, message",
    [
        ("2020-01-06T08:00", "That time has passed"),
        ("next tuesday", "ISO 8601"),
        ("", "Choose the day and time"),
        ("9999-12-31T23:59", "at most a year ahead"),
        ("2026-13-45T99:99", "ISO 8601"),
    ],
)
def test_a_time_that_cannot_be_used_is_refused_beside_its_field(app, owner, key, send_at, message):
    before = issue_row(app, key)
    form = editor_form(owner, key)
    refused = owner.post(
        f"/admin/issues/{key}/schedule", data={**form, "subject": "Kept", "send_at": send_at}
    )
    page = _body(refused)
    assert refused.status_code == 400 and message in page
    assert 'aria-invalid="true"' in page and 'id="send_at"' in page
    assert 'value="Kept"' in page  # the typed subject is still there
    assert issue_row(app, key) == before


def test_pause_resume_and_cancel_move_the_issue_and_refuse_the_wrong_state(
    app, owner, key, readers, mailbox
):
    assert post(owner, f"/admin/issues/{key}/pause").status_code == 409  # a draft
    _started(app, key)
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert 'aria-live="polite"' in page and "<progress" in page
    assert f'data-progress-url="/admin/issues/{key}/progress"' in page
    assert post(owner, f"/admin/issues/{key}/resume").status_code == 409  # not paused

    paused = post(owner, f"/admin/issues/{key}/pause")
    assert paused.status_code == 302 and issue_row(app, key)["status"] == "paused"
    assert "Paused. Nobody else gets it until you resume." in _body(owner.get(paused.location))
    again = post(owner, f"/admin/issues/{key}/pause")
    assert again.status_code == 409 and "This issue is paused." in _body(again)
    progress = owner.get(f"/admin/issues/{key}/progress").get_json()
    assert progress["status"] == "paused" and progress["label"].startswith("Paused: 0 of")
    assert mailbox.messages() == []

    assert post(owner, f"/admin/issues/{key}/resume").status_code == 302
    assert wait_for_status(owner, key, "sent")["sent"] == 3
    assert sorted(m["To"] for m in mailbox.messages()) == sorted(readers)
    for action in ("pause", "resume", "cancel"):
        late = post(owner, f"/admin/issues/{key}/{action}")
        assert late.status_code == 409 and "This issue has been sent." in _body(late)
    assert [a for a, _ in audit_actions(app)] == [
        "issue.open",
        "issue.pause",
        "issue.resume",
    ]


def test_a_cancelled_issue_goes_to_nobody_else(app, owner, key, mailbox):
    _started(app, key)
    post(owner, f"/admin/issues/{key}/pause")
    cancelled = post(owner, f"/admin/issues/{key}/cancel")
    assert cancelled.status_code == 302 and issue_row(app, key)["status"] == "cancelled"
    progress = owner.get(f"/admin/issues/{key}/progress").get_json()
    assert progress["status"] == "cancelled" and progress["badge"] == "Cancelled"
    assert post(owner, f"/admin/issues/{key}/resume").status_code == 409
    assert mailbox.messages() == []


def test_a_draft_can_be_skipped(app, owner, key):
    assert post(owner, f"/admin/issues/{key}/cancel").status_code == 302
    assert issue_row(app, key)["status"] == "cancelled"
    page = _body(owner.get(f"/admin/issues/{key}"))
    assert "This issue was cancelled; it can no longer be edited." in page
    assert open_issue(owner) != key  # the next issue is the next period's


@pytest.mark.parametrize(
    "path", ["", "/stories", "/preview", "/test", "/send", "/schedule", "/pause", "/cancel"]
)
def test_a_post_without_its_csrf_token_is_refused(app, owner, key, path):
    before = issue_row(app, key)
    refused = owner.post(f"/admin/issues/{key}{path}", data={"subject": "x", "send_at": "x"})
    assert refused.status_code == 400 and "This form has expired" in _body(refused)
    assert issue_row(app, key) == before


def test_bad_input_gets_a_4xx_and_changes_nothing(app, owner, key, mailbox):
    before = issue_row(app, key)
    form = editor_form(owner, key)
    for junk in ("not-a-uuid", str(uuid4()), "%00", "x" * 5000):
        assert owner.get(f"/admin/issues/{junk}").status_code in (400, 404)
        assert owner.get(f"/admin/issues/{junk}/progress").status_code in (400, 404)
        for path in ("", "/stories", "/send", "/schedule", "/pause", "/resume", "/cancel"):
            assert post(owner, f"/admin/issues/{junk}{path}").status_code in (400, 404), path
    assert post(owner, f"/admin/issues/{uuid4()}/preview").status_code == 404
    assert post(owner, f"/admin/issues/{uuid4()}/test", addresses="a@x.example").status_code == 404
    refusals = [
        post(owner, f"/admin/issues/{key}"),  # no fields at all
        owner.post(f"/admin/issues/{key}", data={**form, "move": "sideways:abc"}),
        owner.post(f"/admin/issues/{key}", data={**form, "move": f"up:{uuid4()}"}),
        owner.post(f"/admin/issues/{key}", data={**form, "subject": "s" * 50_000}),
        owner.post(f"/admin/issues/{key}", data={**form, "intro": "i" * 500_000}),
        owner.post(f"/admin/issues/{key}/preview", data={**form, "intro": "i" * 500_000}),
        post(owner, f"/admin/issues/{key}/stories", url="javascript:alert(1)"),
        post(owner, f"/admin/issues/{key}/stories", url="https://" + "a" * 3000 + ".example/"),
        post(owner, f"/admin/issues/{key}/test"),
        post(owner, f"/admin/issues/{key}/test", addresses=ELEVEN_ADDRESSES),
        post(owner, f"/admin/issues/{key}/schedule"),
    ]  # fmt: skip
    assert [r.status_code for r in refusals] == [400] * len(refusals)
    assert (
        owner.post(f"/admin/issues/{key}", data={**form, "intro": "i" * 2_000_000}).status_code
        == 413
    )
    many = {**form, "story": [str(uuid4()) for _ in range(5000)], "include": ["x"] * 5000}
    assert owner.post(f"/admin/issues/{key}/preview", data=many).status_code == 200
    assert issue_row(app, key) == before
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 0
        assert db.session.scalar(select(db.func.count()).select_from(Issue)) == 1
    assert [a for a, _ in audit_actions(app)] == ["issue.open"]
