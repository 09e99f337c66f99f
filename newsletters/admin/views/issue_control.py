"""Send control in the issue editor: send now, schedule, pause, resume, cancel, and the
progress the page polls while an issue sends."""

from collections.abc import Callable
from datetime import datetime

from flask import flash, jsonify, redirect, url_for

from newsletters.admin import issue_page
from newsletters.admin.blueprint import audited, bp
from newsletters.admin.forms import ScheduleForm
from newsletters.errors import InvalidInput, IssueStateConflict
from newsletters.models import Issue, utcnow
from newsletters.services.issues import control, overview, runs


def _act(
    uuid: str,
    action: str,
    apply: Callable[[datetime], Issue],
    said: Callable[[Issue], str],
    *,
    start: bool = False,
    fallback: str | None = None,
):
    """Do one move of the issue, audited; start its senders once the move has committed
    (``start``); then back to the editor with ``said``, or the editor with the refusal."""
    issue = overview.issue_by_uuid(uuid)
    now = utcnow()
    try:
        moved = audited(action, "issue", uuid, lambda: apply(now))
    except (InvalidInput, IssueStateConflict) as error:
        status = 409 if isinstance(error, IssueStateConflict) else 400
        return issue_page.editor_page(issue, error=error, status=status, fallback=fallback)
    if start:
        runs.send_in_background(moved)
    flash(said(moved))
    return redirect(url_for("admin.issue_editor", uuid=uuid))


def _readers(issue: Issue) -> str:
    total = control.progress(issue).total
    return f"{total:,} reader{'' if total == 1 else 's'}"


@bp.post("/issues/<uuid>/send")
def send_issue_now(uuid: str):
    """Render the draft as it stands (the form's changes saved first) and start sending."""
    readers = _readers(overview.issue_by_uuid(uuid))

    def apply(now: datetime) -> Issue:
        issue_page.save_posted(uuid, now)
        return control.send_now(uuid, now)

    return _act(uuid, "issue.send", apply, lambda _: f"Sending to {readers}.", start=True)


@bp.post("/issues/<uuid>/schedule")
def schedule_issue(uuid: str):
    """Send the draft at a chosen time on the newsletters' clock, not at its usual slot."""
    text = (ScheduleForm().send_at.data or "").strip()

    def apply(now: datetime) -> Issue:
        issue_page.save_posted(uuid, now)
        if not text:
            raise InvalidInput("Choose the day and time to send it.", "send_at")
        return control.schedule(uuid, control.parse_send_time(text), now)

    def said(issue: Issue) -> str:
        return f"Scheduled for {issue_page.when_label(issue.send_at)}."

    return _act(uuid, "issue.schedule", apply, said, fallback="send_at")


@bp.post("/issues/<uuid>/unschedule")
def unschedule_issue(uuid: str):
    """Give the draft back to its newsletter's usual slot."""

    def apply(now: datetime) -> Issue:
        issue_page.save_posted(uuid, now)
        return control.unschedule(uuid)

    said = "Unscheduled: it goes out at the newsletter's usual time unless you schedule it again."
    return _act(uuid, "issue.unschedule", apply, lambda _: said)


@bp.post("/issues/<uuid>/pause")
def pause_issue(uuid: str):
    """Stop the senders; whoever has not had the issue yet waits for Resume."""
    said = "Paused. Nobody else gets it until you resume."
    return _act(uuid, "issue.pause", lambda now: control.pause(uuid, now), lambda _: said)


@bp.post("/issues/<uuid>/resume")
def resume_issue(uuid: str):
    """Let a paused issue go on, each waiting reader once."""
    said = "Resumed: sending to the readers still waiting."
    return _act(uuid, "issue.resume", lambda _: control.resume(uuid), lambda _: said, start=True)


@bp.post("/issues/<uuid>/cancel")
def cancel_issue(uuid: str):
    """Stop the issue for good: nobody who has not had it yet will get it."""
    said = "Cancelled. Nobody who has not had it yet will get it."
    return _act(uuid, "issue.cancel", lambda now: control.cancel(uuid, now), lambda _: said)


@bp.get("/issues/<uuid>/progress")
def issue_progress(uuid: str):
    """How far the issue has gone, for the editor's page to poll (JSON)."""
    return jsonify(issue_page.progress_json(overview.issue_by_uuid(uuid)))
