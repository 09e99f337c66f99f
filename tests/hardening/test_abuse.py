"""Bots, bombs and enumeration: what the open internet throws at a signup form."""

import html
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import OutboxMessage, Subscriber, SuppressionReason, utcnow
from newsletters.services.mail import suppressions
from tests.support.mail import html_of, link_in, text_of
from tests.support.reader import (
    add_demo_newsletters,
    csrf_token_in,
    sign_up,
    snapshot,
    statuses,
    submit_form,
)

THANKS = "Thank you for submitting your email!"


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def _confirmations(app, address: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.to_address == address, OutboxMessage.kind == "confirmation")
        )


def test_a_bombed_address_gets_a_few_confirmations_a_day_at_most(app):
    victim = "victim@example.com"
    for _ in range(30):  # one a minute for half an hour, from everywhere
        sign_up(app.test_client(), victim, "the-weekly")
        with app.app_context():
            db.session.execute(
                update(Subscriber).values(confirmation_sent_at=utcnow() - timedelta(minutes=11))
            )
            db.session.commit()
    assert _confirmations(app, victim) == app.config["CONFIRMATIONS_PER_DAY"] == 3


def test_disposable_addresses_are_refused_when_the_publisher_asks(app, client, tmp_path):
    assert sign_up(client, "me@mailinator.com", "the-weekly").status_code == 200  # off by default
    app.config["BLOCK_DISPOSABLE_DOMAINS"] = True
    before = snapshot(app)
    for address in ("me@mailinator.com", "me@sub.guerrillamail.com"):
        refused = sign_up(client, address, "the-weekly")
        assert refused.status_code == 400
        assert "permanent email address" in refused.get_data(as_text=True)
    extra = tmp_path / "more.txt"
    extra.write_text("# our own additions\nthrowaway.example\n")
    app.config["DISPOSABLE_DOMAINS_FILE"] = str(extra)
    assert sign_up(client, "me@throwaway.example", "the-weekly").status_code == 400
    assert snapshot(app) == before
    assert sign_up(client, "me@example.com", "the-weekly").status_code == 200


def test_a_custom_captcha_hook_guards_signup_without_any_network(app, client, mailbox):
    app.config["CAPTCHA_PROVIDER"] = "tests.support.captcha:verify"
    before = snapshot(app)
    refused = sign_up(client, "bot@example.com", "the-weekly")
    assert refused.status_code == 400 and "not a robot" in html.unescape(
        refused.get_data(as_text=True)
    )
    assert snapshot(app) == before
    passed = sign_up(client, "person@example.com", "the-weekly", **{"captcha-answer": "human"})
    assert passed.status_code == 200
    assert statuses(app, "person@example.com") == {"the-weekly": "pending"}


class SiteVerify(BaseHTTPRequestHandler):
    """A local stand-in for hCaptcha's and Turnstile's siteverify endpoint."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        ok = "secret=s3cret" in body and "response=good-token" in body
        payload = json.dumps({"success": ok}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    ("provider", "field"),
    [("turnstile", "cf-turnstile-response"), ("hcaptcha", "h-captcha-response")],
)
def test_the_built_in_providers_ask_siteverify(app, client, provider, field):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SiteVerify)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config.update(
            CAPTCHA_PROVIDER=provider,
            CAPTCHA_SITE_KEY="site-key",
            CAPTCHA_SECRET_KEY="s3cret",
            CAPTCHA_VERIFY_URL=f"http://127.0.0.1:{server.server_address[1]}/siteverify",
        )
        page = client.get("/")
        assert 'data-sitekey="site-key"' in page.get_data(as_text=True)
        policy = page.headers["Content-Security-Policy"]
        assert (
            "challenges.cloudflare.com" if provider == "turnstile" else "js.hcaptcha.com"
        ) in policy
        assert (
            sign_up(client, "a@example.com", "ai-digest", **{field: "bad-token"}).status_code == 400
        )
        assert (
            sign_up(client, "b@example.com", "ai-digest", **{field: "good-token"}).status_code
            == 200
        )
        assert statuses(app, "a@example.com") == {}
        assert statuses(app, "b@example.com") == {"ai-digest": "pending"}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_text_typed_into_the_form_never_reaches_the_email(app, client, mailbox):
    spam = "WIN $1000 NOW http://spam.example/claim"
    sign_up(
        client,
        "reader@example.com",
        "the-weekly",
        name=spam,
        first_name=spam,
        source=spam,
        website="",
    )
    message = mailbox.last(to="reader@example.com")
    for part in (text_of(message), html_of(message), str(message["Subject"])):
        assert "spam.example" not in part and "WIN $1000" not in part


def _answer(response) -> tuple[int, str]:
    return response.status_code, response.get_data(as_text=True)


def test_every_kind_of_address_gets_the_same_signup_and_lost_link_answer(app, mailbox):
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    client = app.test_client()
    sign_up(client, "pending@example.com", "the-weekly")
    sign_up(client, "active@example.com", "the-weekly")
    submit_form(client, link_in(mailbox.last(to="active@example.com"), "/confirm/"))
    sign_up(client, "left@example.com", "the-weekly")
    submit_form(client, link_in(mailbox.last(to="left@example.com"), "/confirm/"))
    submit_form(client, link_in(mailbox.last(to="left@example.com"), "/unsubscribe/"))
    with app.app_context():
        suppressions.suppress("blocked@example.com", SuppressionReason.BOUNCED)
        db.session.commit()
    kinds = ["new", "pending", "active", "left", "blocked"]
    signups = {
        k: _answer(sign_up(app.test_client(), f"{k}@example.com", "the-weekly")) for k in kinds
    }
    assert len(set(signups.values())) == 1 and THANKS in signups["new"][1]
    lost = {}
    for kind in kinds:
        response = submit_form(app.test_client(), "/preferences", {"email": f"{kind}@example.com"})
        lost[kind] = (
            response.status_code,
            response.get_data(as_text=True).replace(f"{kind}@example.com", "ADDRESS"),
        )
    assert len(set(lost.values())) == 1 and lost["new"][0] == 200


def test_mail_leaves_after_the_response_is_complete(app, mailbox):
    """The answer is complete before any mail is sent, so its timing says nothing."""
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    response = client.open(
        "/subscribe",
        method="POST",
        buffered=False,  # like a real server: the body is out, the connection not yet closed
        data={
            "csrf_token": csrf_token_in(page),
            "email": "r@example.com",
            "newsletters": "ai-digest",
        },
    )
    assert response.status_code == 200 and THANKS in response.get_data(as_text=True)
    assert mailbox.messages() == []
    response.close()
    assert [m["To"] for m in mailbox.messages()] == ["r@example.com"]
