"""docs/deploy.md, tried for real: nginx -> gunicorn -> PostgreSQL, Redis, Celery, cron's commands.

A reader signs up over HTTPS through nginx, confirms from the email a Celery
worker sent, gets an issue, and leaves in one click. On the way: ProxyFix
sees the reader's own address (not nginx's, not a forged header), limits are
shared by both gunicorn workers through Redis, and production's headers,
cookies and host check hold.
"""

import re
import secrets

import pytest
from sqlalchemy import create_engine, select

from newsletters.models import Event
from tests.deploy.conftest import OTHER_IP, READER_IP, form_token, wait_for_mail
from tests.support.mail import link_in, text_of
from tests.support.stack import (
    SERVER_NAME,
    Browser,
    flask,
)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reader_goes_all_the_way_through_the_production_stack(stack, smtp_server, database_url):
    settings, https_port, http_port, cafile = stack
    reader = Browser(https_port, cafile, source_ip=READER_IP)

    status, headers, page = reader.request("GET", "/")
    assert status == 200 and "The Weekly" in page
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    status, headers, _ = reader.request("GET", "/static/css/site.css")
    assert status == 200 and headers["Server"].startswith("nginx")  # served without the app
    assert headers["Cache-Control"] == "max-age=3600"

    email = f"reader-{secrets.token_hex(3)}@example.com"
    status, _, page = reader.request(
        "POST",
        "/subscribe",
        form={"csrf_token": form_token(page), "email": email, "newsletters": "the-weekly"},
        headers={"X-Forwarded-For": "198.51.100.7"},  # forged: must not be believed
    )
    assert status == 200 and "Thank you for submitting your email!" in page

    # The Celery worker sent the confirmation; its link is https on the site's own name.
    confirmation = wait_for_mail(smtp_server, email, "Confirm")
    confirm_path = link_in(confirmation, "/confirm/")
    assert f"https://{SERVER_NAME}:{https_port}/confirm/" in text_of(confirmation)
    status, headers, page = reader.request("GET", confirm_path)
    assert status == 200 and headers["Referrer-Policy"] == "no-referrer"
    status, _, page = reader.request("POST", confirm_path, form={"csrf_token": form_token(page)})
    assert status == 200 and "The Weekly" in page
    assert reader.set_cookie_headers, "the confirm form's CSRF token lives in the session"
    for cookie in reader.set_cookie_headers:
        assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax")), cookie

    # The welcome email's preferences link: the reader's choices save over HTTPS too.
    welcome = wait_for_mail(smtp_server, email, "Welcome")
    preferences = link_in(welcome, "/preferences/")
    status, _, page = reader.request("GET", preferences)
    assert status == 200 and 'value="the-weekly"' in page
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)[1]
    status, _, page = reader.request(
        "POST", preferences,
        form={"csrf_token": form_token(page), "idempotency_key": key,
              "newsletters": "the-weekly", "action": "save"},
    )  # fmt: skip
    assert status == 303, page  # saved, then back to the page (which says so)
    status, _, page = reader.request("GET", preferences)
    assert status == 200 and "saved" in page.lower()

    # ProxyFix took the reader's address from nginx's header: not nginx's, not the forgery.
    engine = create_engine(database_url)
    with engine.connect() as connection:
        addresses = set(connection.scalars(select(Event.ip)))
    engine.dispose()
    assert addresses == {READER_IP}, addresses

    # Cron's commands, as deploy/crontab runs them: an API story, then the issue via Celery.
    token = flask(settings, "admin", "token", "cms").stdout.strip().splitlines()[-1]
    status, _, body = reader.request(
        "POST", "/api/v1/stories",
        body='{"newsletter": "the-weekly", "title": "Rivers rise", "url": "https://news.test/r"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 201, body
    sent = flask(settings, "digest", "send", "--force", "--executor", "celery", timeout=180)
    assert sent.returncode == 0 and "sent 1," in sent.stdout, sent.stdout + sent.stderr
    issue = wait_for_mail(smtp_server, email, "The Weekly:")
    unsubscribe = re.search(r"<(https://[^>]+)>", issue["List-Unsubscribe"])[1]
    assert unsubscribe.startswith(f"https://{SERVER_NAME}:{https_port}/unsubscribe/")
    assert flask(settings, "outbox", "drain").returncode == 0

    # One click from the mailbox provider: no cookie, no token, straight through nginx;
    # and again, as providers retry: still 200.
    provider = Browser(https_port, cafile, source_ip=OTHER_IP)
    path = unsubscribe.split(str(https_port), 1)[1]
    for _ in range(2):
        status, _, _ = provider.request(
            "POST", path, body="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert status == 200
    status, _, page = reader.request("GET", path)
    assert status == 200


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_production_limits_hosts_and_plain_http(stack):
    settings, https_port, http_port, cafile = stack
    # Both gunicorn workers count one reader's signups together, in Redis.
    codes = []
    for n in range(6):
        browser = Browser(https_port, cafile, source_ip=OTHER_IP)  # a new connection each time
        _, _, page = browser.request("GET", "/")
        status, _, _ = browser.request(
            "POST", "/subscribe",
            form={"csrf_token": form_token(page), "email": f"b{n}@example.com",
                  "newsletters": "the-weekly"},
        )  # fmt: skip
        codes.append(status)
    assert codes == [200] * 4 + [429] * 2, codes

    # A Host the site does not serve gets nothing, and no link is built from it.
    status, _, body = Browser(https_port, cafile).request(
        "GET", "/preferences", headers={"Host": "evil.example"}
    )
    assert status == 400 and "does not answer to that host" in body

    # Plain http only redirects to https.
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    try:
        connection.request("GET", "/preferences", headers={"Host": SERVER_NAME})
        response = connection.getresponse()
    finally:
        connection.close()
    assert response.status == 301
    assert response.headers["Location"] == f"https://{SERVER_NAME}/preferences"
