"""The issue editor driven through the test client, as an editor's browser would post it."""

import html
import re
import time
from datetime import timedelta
from uuid import UUID

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import AuditLog, Issue, Newsletter, Story, utcnow
from newsletters.services.issues import schedule
from tests.support.admin import action_token
from tests.support.reader import csrf_token_in
from tests.support.readers import add_newsletter, add_readers

STORIES = [
    (
        "Rivers are running higher than at any time in a decade",
        "Towns downstream are preparing for the highest water since 2014.",
    ),
    (
        "The council votes to rebuild the old harbour bridge",
        "After six years of argument the plan passed by a single vote.",
    ),
    (
        "Inside the bakery that never closes",
        "Three shifts, two ovens and one recipe that has not changed since 1962.",
    ),
]
TITLES = [title for title, _ in STORIES]
STORY_FIELD = re.compile(r'<input type="hidden" name="story" value="([^"]+)">')
TICKED = re.compile(r'<input type="checkbox" name="include" value="([^"]+)" checked>')
TEXT_INPUT = '<input[^>]*name="{}"[^>]*value="([^"]*)"'
INTRO = r'<textarea[^>]*name="intro"[^>]*>\n?(.*?)</textarea>'


def add_desk(app, readers: int = 3, stories: list[tuple[str, str]] = STORIES) -> list[str]:
    """The Weekly with these stories in the period that just ended (newest first, as the
    issue carries them) and ``readers`` readers; returns the readers' addresses."""
    newsletter_id = add_newsletter(app)
    with app.app_context():
        newsletter = db.session.get(Newsletter, newsletter_id)
        period = schedule.due_period(newsletter, utcnow())
        middle = period.start + (period.end - period.start) / 2
        db.session.add_all(
            Story(
                newsletter_id=newsletter_id,
                title=title,
                url=f"https://news.example.com/story-{n}",
                summary=summary,
                guid=f"story-{n}",
                published_at=middle - timedelta(hours=n),
            )
            for n, (title, summary) in enumerate(stories)
        )
        db.session.commit()
    return add_readers(app, newsletter_id, readers) if readers else []


def post(client, path: str, **data):
    """Post a console form with a fresh CSRF token."""
    return client.post(path, data={"csrf_token": action_token(client), **data})


def open_issue(client) -> str:
    """Press "Edit the next issue" for The Weekly; returns the issue's id."""
    response = post(client, "/admin/issues/next/the-weekly")
    assert response.status_code == 302, response.status_code
    return response.location.rsplit("/", 1)[1]


def editor_form(client, key: str) -> dict:
    """The editor's form as the page draws it: token, words, stories in order, ticked ones."""
    page = client.get(f"/admin/issues/{key}").get_data(as_text=True)

    def text(pattern) -> str:
        found = re.search(pattern, page, re.DOTALL)
        return html.unescape(found[1]) if found else ""

    return {
        "csrf_token": csrf_token_in(page),
        "subject": text(TEXT_INPUT.format("subject")),
        "preheader": text(TEXT_INPUT.format("preheader")),
        "intro": text(INTRO),
        "story": STORY_FIELD.findall(page),
        "include": TICKED.findall(page),
    }


def story_ids(app, key: str) -> dict[str, str]:
    """Story title -> public id, for the stories the issue's newsletter has."""
    with app.app_context():
        issue = db.session.scalar(select(Issue).where(Issue.uuid == UUID(key)))
        rows = db.session.scalars(select(Story).where(Story.newsletter_id == issue.newsletter_id))
        return {story.title: str(story.uuid) for story in rows}


def issue_row(app, key: str) -> dict:
    """What the editor can change of an issue, to prove a request changed nothing."""
    with app.app_context():
        issue = db.session.scalar(select(Issue).where(Issue.uuid == UUID(key)))
        return {
            "status": issue.status.value,
            "subject": issue.subject_override,
            "preheader": issue.preheader,
            "intro": issue.intro_override,
            "order": issue.story_order,
            "excluded": issue.excluded_story_ids,
            "send_at": issue.send_at,
            "stories": db.session.scalar(select(db.func.count()).select_from(Story)),
        }


def audit_actions(app) -> list[tuple[str, str]]:
    """(action, admin) of every audited change but signing in, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action != "admin.login").order_by(AuditLog.id)
        )
        return [(row.action, row.admin_email) for row in rows]


def wait_for_status(client, key: str, status: str, seconds: float = 30.0) -> dict:
    """Poll the editor's progress until the issue reaches ``status``; returns the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        progress = client.get(f"/admin/issues/{key}/progress").get_json()
        if progress["status"] == status or time.monotonic() > deadline:
            return progress
        time.sleep(0.2)
