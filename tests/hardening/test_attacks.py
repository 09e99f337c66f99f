"""Forged links, hostile input, foreign hosts: each is refused, escaped or ignored."""

import logging
import re

import pytest
from sqlalchemy import select

from newsletters import create_app
from newsletters.extensions import db
from newsletters.models import Newsletter, Story, Subscriber, utcnow
from newsletters.services import catalogue
from newsletters.services.mail.links import confirm_url, preferences_url, unsubscribe_url
from newsletters.services.readers import audience
from tests.support.mail import html_of, link_in, text_of
from tests.support.reader import (
    add_demo_newsletters,
    csrf_token_in,
    sign_up,
    snapshot,
    submit_form,
)
from tests.support.tokens import tamper

READER = "reader@example.com"
TOKEN_ROUTES = ("/confirm/", "/preferences/", "/unsubscribe/")


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


@pytest.fixture
def links(app, client, mailbox):
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    sign_up(client, READER, "the-weekly")
    with app.app_context():
        reader = db.session.scalar(select(Subscriber))
        return {
            "/confirm/": confirm_url(reader).rsplit("/", 1)[1],
            "/preferences/": preferences_url(reader).rsplit("/", 1)[1],
            "/unsubscribe/": unsubscribe_url(reader).rsplit("/", 1)[1],
        }


def _every_way_in(client, route, token):
    """GET, a form POST with a valid CSRF token, and an RFC 8058 POST."""
    csrf = csrf_token_in(client.get("/preferences").get_data(as_text=True))
    return [
        client.get(route + token),
        client.post(route + token, data={"csrf_token": csrf, "newsletters": "ai-digest"}),
        client.post(route + token, data={"List-Unsubscribe": "One-Click"}),
    ]


def test_forged_and_wrong_purpose_tokens_are_refused_everywhere(app, client, links):
    before = snapshot(app)
    for route in TOKEN_ROUTES:
        bad = [tamper(links[route]), "not-a-token", "a" * 500]
        bad += [token for other, token in links.items() if other != route]
        for token in bad:
            for response in _every_way_in(client, route, token):
                assert response.status_code == 400, (route, token[:20])
    assert snapshot(app) == before


def test_an_expired_confirm_link_is_refused(app, client, links):
    app.config["CONFIRM_TOKEN_MAX_AGE"] = -1
    before = snapshot(app)
    for response in _every_way_in(client, "/confirm/", links["/confirm/"]):
        assert response.status_code == 400
    assert snapshot(app) == before


def test_an_erased_readers_links_are_dead(app, client, links):
    with app.app_context():
        audience.erase(str(db.session.scalar(select(Subscriber.uuid))))
    before = snapshot(app)
    for route in TOKEN_ROUTES:
        for response in _every_way_in(client, route, links[route]):
            assert response.status_code == 400
    assert snapshot(app) == before


def test_line_breaks_in_an_address_are_refused(app, client, mailbox):
    for address in ("a@example.com\r\nBcc: victim@example.com", "a@example.com\nX: y"):
        assert sign_up(client, address, "the-weekly").status_code == 400
    assert mailbox.messages() == []


def test_subject_templates_are_one_line(app):
    with app.app_context(), pytest.raises(Exception, match="one line"):
        catalogue.check_subject_template("Hi\r\nBcc: x@example.com")


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_markup_from_every_field_is_escaped_in_pages_and_mail(app, client, mailbox, runner):
    with app.app_context():
        db.session.add(
            Newsletter(
                slug="hostile",
                name=f"Evil {HOSTILE}",
                description=f"About {HOSTILE}",
                intro=f"Hi {HOSTILE}",
                created_at=utcnow(),
            )
        )
        db.session.commit()
        hostile = db.session.scalar(select(Newsletter).filter_by(slug="hostile"))
        db.session.add(
            Story(
                newsletter_id=hostile.id,
                title=f"Title {HOSTILE}",
                url="https://news.example.com/x",
                summary=f"Sum {HOSTILE}",
                guid="x",
                published_at=utcnow(),
            )
        )
        db.session.commit()
    pages = [
        client.get("/").get_data(as_text=True),
        client.get("/embed/signup?newsletters=hostile").get_data(as_text=True),
    ]
    sign_up(client, READER, "hostile")
    pages += [html_of(mailbox.last(to=READER))]
    submit_form(client, link_in(mailbox.last(to=READER), "/confirm/"))
    pages += [
        html_of(mailbox.last(to=READER)),
        client.get(link_in(mailbox.last(to=READER), "/preferences/")).get_data(as_text=True),
    ]
    runner.invoke(args=["digest", "send", "--force", "--newsletter", "hostile"])
    pages += [html_of(mailbox.last(to=READER))]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page or "&lt;img" in page
    assert "Title <script>" in text_of(mailbox.last(to=READER))  # plain text stays plain text


def test_links_in_mail_come_from_site_url_never_from_the_host_header(app, mailbox):
    client = app.test_client()
    page = client.get("/", headers={"Host": "evil.example"}).get_data(as_text=True)
    client.post(
        "/subscribe",
        headers={"Host": "evil.example"},
        data={"csrf_token": csrf_token_in(page), "email": READER, "newsletters": "the-weekly"},
    )
    message = text_of(mailbox.last(to=READER))
    assert "evil.example" not in message and "http://newsletters.test/confirm/" in message


@pytest.fixture
def production(database_url, tmp_path, monkeypatch, smtp_server):
    monkeypatch.chdir(tmp_path)
    app = create_app(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "a-real-production-secret-key-of-40-chars",
            "SUPPORT_EMAIL": "help@news.example.com",
            "SITE_URL": "https://news.example.com",
            "POSTAL_ADDRESS": "1 Press Row, Springfield",
            "MAIL_SERVER": smtp_server.host,
            "MAIL_PORT": smtp_server.port,
            "DATABASE_URL": database_url,
            "DEV_MAILBOX_PATH": str(tmp_path / "mail"),
            "RATELIMIT_STORAGE_URI": "memory://",
            "SIGNUP_MIN_SECONDS": 0,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_production_answers_only_its_own_host(production):
    client = production.test_client()
    assert client.get("/healthz", headers={"Host": "news.example.com"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400


def test_production_headers_and_cookies(production):
    add_demo_newsletters(production)
    client = production.test_client()
    page = client.get(
        "/preferences", headers={"Host": "news.example.com"}, base_url="https://news.example.com"
    )
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_page_has_a_strict_policy_and_no_inline_script(app, client, links):
    pages = [
        "/",
        "/embed/signup?newsletters=the-weekly",
        "/preferences",
        "/nope",
        *(route + links[route] for route in TOKEN_ROUTES),
    ]
    for path in pages:
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "script-src 'self'" in policy and "object-src 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), path
        assert " style=" not in body and "<style" not in body, path
        assert not re.search(r"\son[a-z]+=", body), path
    for route in TOKEN_ROUTES:
        response = client.get(route + links[route])
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_logs_never_carry_tokens_or_whole_addresses(app, client, mailbox, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.DEBUG):
        sign_up(client, READER, "the-weekly")
        confirm = link_in(mailbox.last(to=READER), "/confirm/")
        submit_form(client, confirm)
        client.get(confirm.replace("/confirm/", "/preferences/"))
        logging.getLogger("werkzeug").info('127.0.0.1 "GET %s HTTP/1.1" 200 -', confirm)
        logging.getLogger("newsletters.test").error("could not mail %s", READER)
    token = confirm.rsplit("/", 1)[1]
    records = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert records, "nothing was logged"
    assert not any(token in line or token[:20] in line for line in records)
    assert not any(READER in line for line in records)
    assert any("r***@example.com" in line for line in records)
    assert any("/confirm/[token]" in line for line in records)
