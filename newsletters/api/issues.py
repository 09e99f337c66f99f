"""The issues that went out, with their counts, for the publisher's own dashboards.

Any live secret token may read them, whatever its scopes: an issue's subject and its
delivery counts hold nothing about any one reader, and every token is the publisher's.
"""

from flask import jsonify, request

from newsletters.api import access
from newsletters.api.routes import bp
from newsletters.models import Issue
from newsletters.services.issues import sent


def _issue_json(issue: Issue, counts: dict[str, int]) -> dict:
    return {
        "id": str(issue.uuid),
        "newsletter": issue.newsletter.slug,
        "frequency": issue.frequency,
        "subject": issue.subject,
        "status": issue.status.value,
        "period_start": issue.period_start.isoformat(),
        "period_end": issue.period_end.isoformat(),
        "sent_at": issue.rendered_at.isoformat(),
        "completed_at": issue.completed_at.isoformat() if issue.completed_at else None,
        "counts": counts,
    }


@bp.get("/issues")
def list_issues():
    """The issues that went out, newest first, a page at a time."""
    access.require_token(None)
    page = sent.sent_issues(
        sent.checked_limit(request.args.get("limit")),
        request.args.get("cursor"),
        request.args.get("newsletter"),
    )
    return jsonify(
        {
            "issues": [_issue_json(issue, counts) for issue, counts in page.issues],
            "next_cursor": page.next_cursor,
        }
    )
