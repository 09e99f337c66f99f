"""A history of issues, some past DELIVERY_RETENTION_DAYS, and the counts everyone reads."""

import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import BounceKind, Delivery, DeliveryStatus, Issue, IssueStatus, utcnow
from tests.support.admin import create_admin, sign_in
from tests.support.api_records import make_token, seed
from tests.support.rates import add_issue, add_reports, add_sent

FIELD = re.compile(r'data-field="(\w+)">([^<]*)<')
LATEST = re.compile(r"<table.*?</table>", re.S)
# The buttons' form tokens carry the second they were made in; they are not counts.
FORM_TOKEN = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')


@dataclass
class History:
    """The issues made, by what should happen to their rows (ids)."""

    pruned: list[int]  # finished over 90 days ago: every settled row goes
    kept: list[int]  # younger, or still sending: every row stays
    sending: int
    uuids: list[str]
    token: str


def _issue(app, newsletter_id, days_ago, **deliveries) -> int:
    """A sent issue finished ``days_ago`` days ago, with deliveries in these statuses."""
    now = utcnow().replace(microsecond=0)
    issue_id = add_issue(app, newsletter_id, now - timedelta(days=days_ago))
    for status, number in deliveries.items():
        ids = add_sent(app, issue_id, f"{status}.example", number, now - timedelta(days=days_ago))
        if status not in ("sent", "bounced"):
            with app.app_context():  # never handed over: no sent_at
                db.session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids))
                    .values(status=DeliveryStatus(status), sent_at=None)
                )
                db.session.commit()
        elif status == "bounced":
            with app.app_context():
                db.session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids[:2]))
                    .values(status=DeliveryStatus.BOUNCED)
                )
                db.session.execute(  # refused in the SMTP conversation: never left
                    update(Delivery)
                    .where(Delivery.id.in_(ids[2:]))
                    .values(status=DeliveryStatus.BOUNCED, sent_at=None)
                )
                db.session.commit()
        if status == "sent":
            add_reports(app, ids[:2], BounceKind.COMPLAINT)
    return issue_id


def history(app, runner) -> History:
    """The API's seeded publisher (its newest sent issue moved back 120 days), and:
    an old sent issue, an old cancelled one with a row a sender still holds, a young
    one, and one still sending since long ago."""
    seeded = seed(app)
    token = make_token(runner, "dashboard", "stories:write")
    now = utcnow()
    with app.app_context():
        newest = db.session.scalar(select(Issue).where(Issue.uuid == UUID(seeded.issue_ids[1])))
        newest.completed_at = now - timedelta(days=120)
        newsletter_id, seeded_id = newest.newsletter_id, newest.id
        db.session.commit()
    old = _issue(app, newsletter_id, 200, sent=30, bounced=7, skipped=4, failed=3, suppressed=2)
    cancelled = _issue(app, newsletter_id, 150, cancelled=4, sending=1)
    young = _issue(app, newsletter_id, 30, sent=5, failed=1)
    sending = _issue(app, newsletter_id, 199, sent=6, pending=2)
    with app.app_context():
        db.session.execute(
            update(Issue).where(Issue.id == cancelled).values(status=IssueStatus.CANCELLED)
        )
        db.session.execute(
            update(Issue).where(Issue.id == sending).values(status=IssueStatus.SENDING)
        )
        db.session.execute(update(Issue).where(Issue.id == sending).values(completed_at=None))
        db.session.commit()
        ids = [seeded_id, old, cancelled, young, sending]
        uuids = [str(db.session.get(Issue, i).uuid) for i in ids]
    create_admin(app, "owner@example.com")
    return History([seeded_id, old, cancelled], [young, sending], sending, uuids, token)


def signed_in(client):
    """The client, signed in to the console as the owner."""
    sign_in(client, "owner@example.com")
    return client


def shown(client, made: History) -> dict:
    """Every count of deliveries a person can see: the API's, each issue page's and its
    progress, the dashboard's and the issue list's."""
    api = client.get(
        "/api/v1/issues?limit=100", headers={"Authorization": f"Bearer {made.token}"}
    ).get_json()
    pages = {}
    for uuid in made.uuids:
        page = client.get(f"/admin/issues/{uuid}").get_data(as_text=True)
        progress = client.get(f"/admin/issues/{uuid}/progress").get_json()
        pages[uuid] = (FIELD.findall(page), progress)
    dashboard = client.get("/admin/").get_data(as_text=True)
    listing = client.get("/admin/issues").get_data(as_text=True)
    return {
        "api": api,
        "pages": pages,
        "dashboard": LATEST.findall(FORM_TOKEN.sub("", dashboard)),
        "issues": LATEST.findall(FORM_TOKEN.sub("", listing)),
    }


def live_rows(app) -> dict[int, int]:
    """{issue id: delivery rows still in the table}."""
    with app.app_context():
        rows = db.session.execute(
            select(Delivery.issue_id, func.count()).group_by(Delivery.issue_id)
        ).all()
    return dict(rows)
