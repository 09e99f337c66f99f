"""Gmail's feedback loop: every email says which mailing it belongs to, under our signature."""

import base64
import re
from email import message_from_bytes, policy

import dkim
import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Issue
from tests.support.mail import link_in
from tests.support.reader import sign_up, submit_form
from tests.support.readers import add_readers
from tests.support.tls import rsa_key_pair

SENDER_ID = "thedailyledger"  # "The Daily Ledger", in Gmail's 5 to 15 characters


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings(), SITE_URL="https://news.example.com")
    return settings


def _send_issue(app, runner, weekly) -> str:
    add_readers(app, weekly, 2)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        return str(db.session.scalar(select(Issue.uuid)))


def test_an_issue_names_itself_its_newsletter_and_the_site(app, runner, smtp_server, weekly):
    issue_uuid = _send_issue(app, runner, weekly)
    values = {message["Feedback-ID"] for message in smtp_server.messages}
    assert values == {f"{issue_uuid[:8]}:the-weekly:newsletter:{SENDER_ID}"}
    for raw in smtp_server.raw_messages:  # one header, never two
        assert len(re.findall(rb"(?im)^feedback-id:", raw.split(b"\r\n\r\n", 1)[0])) == 1


def test_outbox_mail_names_its_kind(app, client, smtp_server, weekly):
    sign_up(client, "reader@example.com", "the-weekly")
    assert smtp_server.messages[-1]["Feedback-ID"] == f"confirmation::transactional:{SENDER_ID}"
    submit_form(client, link_in(smtp_server.messages[-1], "/confirm/"))
    assert smtp_server.messages[-1]["Feedback-ID"] == f"welcome::transactional:{SENDER_ID}"


def test_a_site_name_of_any_length_gives_gmail_a_sender_id_it_takes(app):
    from newsletters.services.mail.mime import feedback_id

    for name, sender_id in [
        ("Le Café Quotidien du Matin", "lecafequotidien"),
        ("The Ledger", "the-ledger"),
        ("AB", "ab-mail"),
        ("日報", "newsletters"),
    ]:
        app.config["SITE_NAME"] = name
        with app.app_context():
            value = feedback_id("a1b2c3d4", "the-weekly", "newsletter")
        assert value == f"a1b2c3d4:the-weekly:newsletter:{sender_id}"
        assert 5 <= len(sender_id) <= 15


@pytest.fixture
def dkim_key(app):
    private, public = rsa_key_pair()
    app.config.update(DKIM_PRIVATE_KEY=private.decode(), DKIM_SELECTOR="news2026")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return lambda name, timeout=5: record


def test_the_dkim_signature_covers_the_feedback_id(
    app, runner, client, smtp_server, weekly, dkim_key
):
    _send_issue(app, runner, weekly)
    sign_up(client, "reader@example.com", "the-weekly")
    for raw in smtp_server.raw_messages:
        assert dkim.verify(raw, dnsfunc=dkim_key)
        signature = message_from_bytes(raw, policy=policy.default)["DKIM-Signature"]
        tags = dict(t.split("=", 1) for t in re.sub(r"\s+", "", str(signature)).split(";") if t)
        assert "feedback-id" in tags["h"].lower().split(":")
        forged = re.sub(rb"(?m)^Feedback-ID: [^:]+", b"Feedback-ID: other", raw, count=1)
        assert forged != raw and not dkim.verify(forged, dnsfunc=dkim_key)
