"""Issues sent with counting on, and requests to their counted links over real HTTP."""

import http.client
import re

from sqlalchemy import select, text

from newsletters.extensions import db
from newsletters.models import Issue, IssueLink
from tests.support.mail import html_of
from tests.support.readers import add_newsletter, add_readers, add_stories

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
COUNTING_LINK = re.compile(r'(?:href|src)="(http://127\.0\.0\.1:\d+/(?:r|o)/[^"]+)"')


def with_counting(settings: dict, smtp_server) -> dict:
    """Test settings that send to ``smtp_server`` and count clicks and opens (no timing rule)."""
    settings.update(smtp_server.settings())
    settings.update(TRACK_CLICKS=True, TRACK_OPENS=True, MACHINE_OPEN_SECONDS=0)
    return settings


def send_issue(app, smtp_server, readers: int = 2, slug: str = "the-weekly") -> list:
    """The due issue of a new newsletter, sent by ``flask digest send``; the messages."""
    newsletter_id = add_newsletter(app, slug=slug, name=slug.title())
    add_stories(app, newsletter_id, 3)
    add_readers(app, newsletter_id, readers, prefix=f"{slug}-")
    before = len(smtp_server.messages)
    result = app.test_cli_runner().invoke(args=["digest", "send", "--newsletter", slug])
    assert result.exit_code == 0, result.output
    return smtp_server.messages[before:]


def request(app, path: str, agent: str | None = BROWSER, method: str = "GET"):
    """One real HTTP request to the live server: (status, headers, body); no redirect followed."""
    port = int(app.base_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"User-Agent": agent} if agent is not None else {}
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def counting_links(message) -> tuple[list[str], list[str]]:
    """The counted story links and the pixel of the HTML part, as paths, in order."""
    found = [re.sub(r"^http://[^/]+", "", url) for url in COUNTING_LINK.findall(html_of(message))]
    clicks = list(dict.fromkeys(u for u in found if u.startswith("/r/")))
    return clicks, [u for u in found if u.startswith("/o/")]


def totals(app, slug: str = "the-weekly") -> dict:
    """The issue's opens (people, machines) and its links (position, url, clicks, machine)."""
    with app.app_context():
        issue = db.session.scalar(
            select(Issue).join(Issue.newsletter).where(text("newsletter.slug = :s")).params(s=slug)
        )
        links = db.session.scalars(
            select(IssueLink).where(IssueLink.issue_id == issue.id).order_by(IssueLink.position)
        ).all()
        return {
            "issue": issue.uuid.hex,
            "opens": (issue.opens, issue.machine_opens),
            "links": [
                (link.position, link.url, link.clicks, link.machine_clicks) for link in links
            ],
        }
