"""Counting clicks and opens privately, through real HTTP: a threaded WSGI server on
loopback, plain http.client requests that never follow a redirect, and the links read
out of the email a real SMTP server received."""

import re
import threading
from uuid import UUID, uuid4

import pytest
from sqlalchemy import inspect, select, text

from newsletters.extensions import db
from newsletters.models import Issue, Story
from newsletters.services.core.tokens import Purpose, make_token
from newsletters.services.issues.web_copy import web_copy
from tests.support.counting import (
    GMAIL_PROXY,
    counting_links,
    request,
    send_issue,
    totals,
    with_counting,
)
from tests.support.mail import html_of, text_of
from tests.support.tokens import tamper


@pytest.fixture
def settings(settings, smtp_server):
    return with_counting(settings, smtp_server)


def test_a_readers_click_is_counted_and_lands_on_exactly_the_story(live_server, smtp_server):
    messages = send_issue(live_server, smtp_server)
    clicks, pixels = counting_links(messages[0])
    assert len(clicks) == 3 and len(pixels) == 1
    # Every reader's copy carries the very same counted links: nothing in them names a reader.
    assert counting_links(messages[1]) == (clicks, pixels)
    for url in clicks:
        assert f"http://127.0.0.1:{live_server.base_url.rsplit(':', 1)[1]}{url}" in text_of(
            messages[0]
        )
    # The reader's own links are never rewritten.
    html = html_of(messages[0])
    assert re.search(r'href="http://127\.0\.0\.1:\d+/unsubscribe/', html)
    assert re.search(r'href="http://127\.0\.0\.1:\d+/preferences/', html)
    with live_server.app_context():
        stories = set(db.session.scalars(select(Story.url)))

    landed = []
    for url in clicks:
        status, headers, _ = request(live_server, url)
        assert status == 302
        landed.append(headers["Location"])
    assert set(landed) == stories
    after = totals(live_server)
    assert [(url, clicks, machine) for _, url, clicks, machine in after["links"]] == [
        (url, 1, 0) for url in landed
    ]


def test_a_bad_token_gets_400_and_never_a_redirect(live_server, smtp_server):
    send_issue(live_server, smtp_server)
    other = send_issue(live_server, smtp_server, slug="insiders")
    clicks, pixels = counting_links(other[0])
    weekly, insiders = totals(live_server), totals(live_server, "insiders")
    with live_server.app_context():
        forged = [
            make_token(Purpose.CLICK, [weekly["issue"], 4]),  # a position the issue lacks
            make_token(Purpose.CLICK, [uuid4().hex, 1]),  # an issue that does not exist
            make_token(Purpose.OPEN, weekly["issue"]),  # another purpose's token
            make_token(Purpose.CLICK, ["https://evil.example/", 1]),
        ]
    live_server.config["SECRET_KEY"] = "someone-elses-key"
    with live_server.app_context():
        forged.append(make_token(Purpose.CLICK, [weekly["issue"], 1]))
    live_server.config["SECRET_KEY"] = "test-secret-key"
    for token in [tamper(clicks[0].removeprefix("/r/")), "nonsense", *forged]:
        status, headers, body = request(live_server, f"/r/{token}")
        assert status == 400, token
        assert "Location" not in headers
        assert b"evil" not in body
    status, headers, _ = request(live_server, tamper(pixels[0].removesuffix(".gif")) + ".gif")
    assert status == 400 and "Location" not in headers
    # Each issue's links lead only to that issue's stories.
    for url in clicks:
        status, headers, _ = request(live_server, url)
        assert headers["Location"] in {link[1] for link in insiders["links"]}
        assert headers["Location"] not in {link[1] for link in weekly["links"]}
    assert all(link[2:] == (0, 0) for link in totals(live_server)["links"])


def test_opens_are_counted_and_machines_apart(live_server, smtp_server):
    messages = send_issue(live_server, smtp_server)
    clicks, [pixel] = counting_links(messages[0])
    status, headers, body = request(live_server, pixel)
    assert status == 200 and body.startswith(b"GIF89a") and headers["Content-Type"] == "image/gif"
    assert "no-store" in headers["Cache-Control"]
    request(live_server, pixel, agent=GMAIL_PROXY)
    request(live_server, pixel, agent="Mozilla/5.0")  # Apple Mail Privacy Protection
    request(live_server, pixel, agent=None)
    assert totals(live_server)["opens"] == (1, 3)
    # A link scanner's HEAD and a scanner's agent count apart; the redirect is the same.
    assert request(live_server, clicks[0], method="HEAD")[0] == 302
    assert request(live_server, clicks[0], agent="Proofpoint URL Defense")[0] == 302
    assert totals(live_server)["links"][0][2:] == (0, 2)


def test_a_fetch_right_after_the_issue_leaves_is_a_machines(live_server, smtp_server):
    live_server.config["MACHINE_OPEN_SECONDS"] = 3600
    clicks, [pixel] = counting_links(send_issue(live_server, smtp_server)[0])
    request(live_server, pixel)
    request(live_server, clicks[0])
    after = totals(live_server)
    assert after["opens"] == (0, 1) and after["links"][0][2:] == (0, 1)


def test_with_counting_off_mail_carries_plain_links_and_the_routes_are_gone(
    live_server, smtp_server
):
    live_server.config.update(TRACK_CLICKS=False, TRACK_OPENS=False)
    [message, _] = send_issue(live_server, smtp_server)
    assert counting_links(message) == ([], [])
    with live_server.app_context():
        stories = list(db.session.scalars(select(Story.url)))
        issue = db.session.scalar(select(Issue))
        assert (issue.track_clicks, issue.track_opens) == (False, False)
        tokens = [
            make_token(Purpose.CLICK, [issue.uuid.hex, 1]),
            make_token(Purpose.OPEN, issue.uuid.hex),
        ]
    for url in stories:
        assert f'href="{url}"' in html_of(message) and url in text_of(message)
    assert "/o/" not in html_of(message) and "/r/" not in text_of(message)
    assert request(live_server, f"/r/{tokens[0]}")[0] == 404
    assert request(live_server, f"/o/{tokens[1]}.gif")[0] == 404
    assert totals(live_server)["links"] == []


def test_no_table_keeps_a_reader_next_to_a_count(live_server, smtp_server):
    messages = send_issue(live_server, smtp_server)
    with live_server.app_context():
        schema = inspect(db.engine)
        for table in ("issue_link", "digest"):
            names = {c["name"] for c in schema.get_columns(table)}
            assert not {n for n in names if "subscriber" in n or "reader" in n or "email" in n}
            targets = {fk["referred_table"] for fk in schema.get_foreign_keys(table)}
            assert "subscriber" not in targets and "delivery" not in targets
        tables = [t for t in schema.get_table_names() if t not in ("issue_link", "digest")]

    def snapshot():
        with live_server.app_context():
            return {t: db.session.execute(text(f"SELECT * FROM {t}")).all() for t in tables}

    before = snapshot()
    clicks, [pixel] = counting_links(messages[1])
    request(live_server, clicks[0])
    request(live_server, pixel)
    assert snapshot() == before  # the click and the open wrote nothing anywhere else
    after = totals(live_server)
    assert after["opens"] == (1, 0) and after["links"][0][2] == 1


def test_a_loop_cannot_inflate_the_counts(live_server, smtp_server):
    live_server.config["COUNTING_RATE_LIMIT"] = "5 per hour"
    clicks, _ = counting_links(send_issue(live_server, smtp_server)[0])
    statuses = {request(live_server, clicks[0])[0] for _ in range(8)}
    assert statuses == {302}  # the reader always gets the story
    assert totals(live_server)["links"][0][2] == 5


def test_clicks_at_the_same_moment_are_all_counted(live_server, smtp_server, database_url):
    live_server.config["COUNTING_RATE_LIMIT"] = "1000 per hour"
    clicks, _ = counting_links(send_issue(live_server, smtp_server)[0])
    start = threading.Barrier(8)
    failures = []

    def click_five():
        start.wait()
        for _ in range(5):
            status = request(live_server, clicks[1])[0]
            if status != 302:
                failures.append(status)

    threads = [threading.Thread(target=click_five) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert totals(live_server)["links"][1][2] == 40


def test_a_copy_on_the_web_never_carries_the_pixel(live_server, smtp_server):
    [message, _] = send_issue(live_server, smtp_server)
    # Served over https, as in production, so the picture rule alone would not drop it.
    html = re.sub(r"http://127\.0\.0\.1:\d+", "https://news.example", html_of(message))
    assert 'src="https://news.example/o/' in html
    for keep_footer in (False, True):  # the archive, and a reader's own copy
        assert "/o/" not in web_copy(html, keep_footer=keep_footer).html


def test_an_editor_previewing_a_sent_issue_counts_nothing(live_server, smtp_server):
    from tests.support.admin import create_admin, sign_in

    [message, _] = send_issue(live_server, smtp_server)
    client = live_server.test_client()
    sign_in(client, create_admin(live_server, "owner@publisher.example", "owner"))
    issue = totals(live_server)
    key = str(UUID(hex=issue["issue"]))
    for path in (f"/admin/issues/{key}/preview", f"/admin/issues/{key}/preview?format=text"):
        page = client.get(path).get_data(as_text=True)
        assert "/o/" not in page and "/r/" not in page, path
        assert all(url in page for _, url, _, _ in issue["links"]), path
