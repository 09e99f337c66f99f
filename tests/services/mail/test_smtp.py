"""What goes over the wire: MIME structure, headers, encoding, DKIM, TLS and connection reuse."""

import base64
import hashlib
import re
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import dkim
import pytest

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import Newsletter, OutboxKind, OutboxMessage, OutboxStatus
from newsletters.services import newsletter_settings
from newsletters.services.mail import outbox
from newsletters.services.mail.render import render_email
from tests.support.mail import SMTPRecorder, html_of, link_in, password_checker, text_of
from tests.support.reader import sign_up, submit_form
from tests.support.tls import rsa_key_pair, server_context

READER = "lecteur@example.com"


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    settings.update(
        SITE_URL="https://news.example.com",
        SITE_NAME="Le Café Quotidien",
        MAIL_DEFAULT_SENDER="Le Café Quotidien <newsletters@news.example.com>",
        POSTAL_ADDRESS="12 rue de la Presse, 75002 Paris",
        CONFIRMATION_EMAIL_INTERVAL=0,
    )
    return settings


@pytest.fixture
def economie(app):
    with app.app_context():
        newsletter_settings.add_newsletter(
            "economie", "Économie & Marchés", description="L'essentiel."
        )


def _subscribe_and_confirm(client, smtp_server):
    sign_up(client, READER, "economie")
    submit_form(client, link_in(smtp_server.messages[-1], "/confirm/"))
    return smtp_server.raw_messages[-1]


def test_the_welcome_email_has_the_right_structure_and_every_header(
    app, client, smtp_server, economie
):
    raw = _subscribe_and_confirm(client, smtp_server)
    message = message_from_bytes(raw, policy=policy.default)

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert message["MIME-Version"] == "1.0"

    assert message["From"].addresses[0].display_name == "Le Café Quotidien"
    assert message["From"].addresses[0].addr_spec == "newsletters@news.example.com"
    assert message["To"] == READER
    assert message["Subject"] == "Welcome to Économie & Marchés"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert re.fullmatch(r"<[^@<>\s]+@news\.example\.com>", message["Message-ID"])
    assert message["List-Id"] == "Le Café Quotidien <newsletters.news.example.com>"
    assert re.fullmatch(
        r"<https://news\.example\.com/unsubscribe/[\w.-]+>", message["List-Unsubscribe"]
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Non-ASCII header text travels RFC 2047-encoded, never as raw 8-bit.
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    # Links stay links: a mail client reads List-Unsubscribe raw, not RFC 2047-decoded.
    assert re.search(rb"\r\nList-Unsubscribe: <https://news\.example\.com/unsubscribe/", headers)
    assert re.search(rb"\r\nSubject: [^\r]*=\?utf-8\?", headers)
    assert re.search(rb"^From: [^\r]*=\?utf-8\?", headers)

    text, html = text_of(message), html_of(message)
    for same in ("Économie & Marchés", "12 rue de la Presse, 75002 Paris", "/preferences/"):
        assert same in text
        assert same in html.replace("&amp;", "&")
    assert "<style" not in html and 'style="' in html  # the CSS is inlined


def test_text_and_html_carry_the_same_links(app, client, smtp_server, economie):
    message = message_from_bytes(_subscribe_and_confirm(client, smtp_server), policy=policy.default)
    text_links = set(re.findall(r"https://news\.example\.com/\S+", text_of(message)))
    html_links = set(re.findall(r'href="(https://news\.example\.com/[^"]+)"', html_of(message)))
    assert text_links == html_links
    assert len(text_links) == 2  # preferences and unsubscribe


def test_newsletter_names_cannot_carry_line_breaks(app):
    with app.app_context(), pytest.raises(InvalidInput):
        newsletter_settings.add_newsletter("evil", "Evil\r\nBcc: victim@example.com")


def test_text_from_the_database_cannot_inject_a_header(app, client, smtp_server):
    with app.app_context():
        db.session.add(
            Newsletter(slug="evil", name="Deals\r\nBcc: victim@example.com\r\nX-Evil: 1")
        )
        db.session.commit()
    sign_up(client, READER, "evil")
    raw = smtp_server.raw_messages[-1]
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None and message["X-Evil"] is None
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in headers and b"\r\nX-Evil:" not in headers
    assert smtp_server.recipients == [READER]
    assert "Deals Bcc: victim@example.com X-Evil: 1" in message["Subject"]


@pytest.fixture
def dkim_key(app):
    private, public = rsa_key_pair()
    app.config.update(DKIM_PRIVATE_KEY=private.decode(), DKIM_SELECTOR="news2026")
    return public


def _dns_with(public_key: bytes):
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_key)

    def lookup(name, timeout=5):
        assert name == b"news2026._domainkey.news.example.com."
        return record

    return lookup


def test_messages_are_dkim_signed_and_verify(app, client, smtp_server, economie, dkim_key):
    raw = _subscribe_and_confirm(client, smtp_server)
    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(raw, dnsfunc=_dns_with(dkim_key))
    signature = message_from_bytes(raw, policy=policy.default)["DKIM-Signature"]
    tags = dict(
        tag.strip().split("=", 1) for tag in re.sub(r"\s+", "", str(signature)).split(";") if tag
    )
    assert tags["d"] == "news.example.com" and tags["s"] == "news2026"
    signed_headers = tags["h"].lower().split(":")
    for name in ("from", "subject", "date", "list-unsubscribe", "list-unsubscribe-post"):
        assert name in signed_headers
    tampered = raw.replace(b"Manage your preferences", b"Manage your pr3ferences", 1)
    assert not dkim.verify(tampered, dnsfunc=_dns_with(dkim_key))


def test_the_dkim_key_may_be_a_file(app, client, smtp_server, economie, dkim_key, tmp_path):
    path = tmp_path / "dkim.pem"
    path.write_text(app.config["DKIM_PRIVATE_KEY"])
    app.config["DKIM_PRIVATE_KEY"] = str(path)
    raw = _subscribe_and_confirm(client, smtp_server)
    assert dkim.verify(raw, dnsfunc=_dns_with(dkim_key))


@pytest.mark.parametrize("algorithm", ["sha256", "sha1"])
def test_dkim_signatures_through_openssl_are_the_ones_dkimpy_would_make(algorithm):
    from dkim.crypto import parse_pem_private_key

    from newsletters.services.mail import dkim_signing

    private, _ = rsa_key_pair()
    key = parse_pem_private_key(private)
    issue = hashlib.new(algorithm, b"the canonicalised headers of an issue")
    fast = dkim_signing.rsa_sign(issue.copy(), key)
    assert fast == dkim_signing.PURE_PYTHON_SIGN(issue.copy(), key)
    # That dkimpy calls it once the app is built: tests/services/mail/test_wiring.py.


def _queue(app, count: int) -> list[int]:
    """Write ``count`` messages to the outbox without sending them."""
    with app.app_context():
        email = render_email("preferences_link", "Your link", preferences_url="https://x.test/p")
        rows = [
            outbox.enqueue(kind=OutboxKind.TEST, to=f"reader{n}@example.com", email=email)
            for n in range(count)
        ]
        db.session.commit()
        outbox.forget_enqueued()
        return [row.id for row in rows]


def test_a_drain_reuses_one_connection(app, runner, smtp_server):
    _queue(app, 7)
    result = runner.invoke(args=["outbox", "drain"])
    assert "sent 7" in result.output
    assert len(smtp_server.envelopes) == 7
    assert len(smtp_server.sessions) == 1


def _tls_server(tmp_path, **parameters) -> SMTPRecorder:
    server = SMTPRecorder(**parameters)
    server.start()
    return server


def test_starttls_and_login_as_flask_mail_documents(app, runner, tmp_path):
    server = _tls_server(
        tmp_path,
        tls_context=server_context(tmp_path),
        require_starttls=True,
        authenticator=password_checker("mailer", "s3cret"),
        auth_require_tls=True,
    )
    try:
        app.config.update(server.settings())
        app.config.update(MAIL_USE_TLS=True, MAIL_USERNAME="mailer", MAIL_PASSWORD="s3cret")
        _rebind_mail(app)
        _queue(app, 2)
        assert "sent 2" in runner.invoke(args=["outbox", "drain"]).output
        assert len(server.envelopes) == 2
    finally:
        server.stop()


def test_a_refused_login_keeps_the_mail_for_later(app, runner, tmp_path):
    server = _tls_server(
        tmp_path,
        tls_context=server_context(tmp_path),
        require_starttls=True,
        authenticator=password_checker("mailer", "s3cret"),
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],  # one refusal is enough; LOGIN would be tried next
    )
    try:
        app.config.update(server.settings())
        app.config.update(MAIL_USE_TLS=True, MAIL_USERNAME="mailer", MAIL_PASSWORD="wrong")
        _rebind_mail(app)
        [message_id] = _queue(app, 1)
        assert "retrying 1" in runner.invoke(args=["outbox", "drain"]).output
        with app.app_context():
            row = db.session.get(OutboxMessage, message_id)
            assert row.status == OutboxStatus.PENDING and "535" in row.last_error
        assert server.envelopes == []
    finally:
        server.stop()


def test_implicit_tls(app, runner, tmp_path):
    server = _tls_server(tmp_path, ssl_context=server_context(tmp_path))
    try:
        app.config.update(server.settings())
        app.config.update(MAIL_USE_SSL=True)
        _rebind_mail(app)
        _queue(app, 1)
        assert "sent 1" in runner.invoke(args=["outbox", "drain"]).output
        assert len(server.envelopes) == 1
    finally:
        server.stop()


def _rebind_mail(app):
    """Flask-Mail reads its settings when bound; rebind after changing them."""
    from newsletters.extensions import mail

    mail.init_app(app)


def test_lines_starting_with_a_dot_arrive_whole_and_the_message_is_not_cut(app, smtp_server):
    """SMTP ends a message at a line holding only ".": such lines must be dot-stuffed."""
    from newsletters.services.mail.smtp import open_transport

    raw = (
        b"From: The Ledger <newsletters@news.example.com>\r\nTo: reader@example.com\r\n"
        b"Subject: Dots\r\n\r\n.\r\n...and then\r\n.leading dot\r\nlast line\r\n"
    )
    with app.app_context(), open_transport() as transport:
        transport.send(raw, "reader@example.com")
        transport.send(raw.replace(b"Dots", b"Again"), "reader@example.com")
    assert smtp_server.raw_messages == [raw, raw.replace(b"Dots", b"Again")]
