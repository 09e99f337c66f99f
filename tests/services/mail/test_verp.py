"""The return path that names its message: what the SMTP server sees, and what a bounce needs."""

import pytest

from newsletters.services.mail import verp
from tests.support.bounces import BOUNCE_DOMAIN, delivery_of, sent_issue
from tests.support.readers import add_readers


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def test_with_a_bounce_domain_each_copy_leaves_with_its_own_signed_return_path(
    app, runner, smtp_server, weekly
):
    app.config["BOUNCE_DOMAIN"] = BOUNCE_DOMAIN
    tokens = sent_issue(app, runner, smtp_server, weekly)
    assert len(set(tokens.values())) == len(tokens)
    for message in smtp_server.messages:
        assert message["From"] == "The Daily Ledger <newsletters@newsletters.test>"
    with app.app_context():
        for address, token in tokens.items():
            ref = verp.read_token(token)
            assert (ref.kind, ref.row_id) == ("delivery", delivery_of(address).id)
            [message] = [m for m in smtp_server.messages if m["To"] == address]
            assert verp.find_tokens(message["Message-ID"]) == [token]


def test_without_a_bounce_domain_the_envelope_sender_is_the_from_address(
    app, runner, smtp_server, weekly
):
    add_readers(app, weekly, 2)
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    assert {e.mail_from for e in smtp_server.envelopes} == {"newsletters@newsletters.test"}


def test_a_token_fits_a_local_part_whatever_the_id_and_survives_case_folding(app):
    with app.app_context():
        app.config["BOUNCE_DOMAIN"] = BOUNCE_DOMAIN
        token = verp.token_for_delivery(2**63 - 1)
        local = verp.return_path(token).partition("@")[0]
        assert len(local) <= 64
        assert verp.read_token(token.upper()) == verp.MessageRef("delivery", 2**63 - 1)
        assert verp.find_tokens(f"Return-Path: <BOUNCES+{token.upper()}@x>") == [token]
        assert verp.read_token(verp.token_for_outbox(7)) == verp.MessageRef("outbox", 7)
        assert verp.read_token("o7-" + token.split("-")[1]) is None


def test_tokens_keep_their_form_so_mail_already_sent_still_reads(app):
    app.config.update(SECRET_KEY="a fixed key for the test", SECRET_KEY_FALLBACKS=[])
    with app.app_context():
        assert verp.token_for_delivery(1) == "d1-e6evfyy3vp632p3f"
        assert verp.token_for_delivery(123456789) == "d21i3v9-srh3ruri7nwasyjb"
        assert verp.token_for_outbox(42) == "o16-p2znupqxjaawhcdo"
    app.config.update(SECRET_KEY="the next key", SECRET_KEY_FALLBACKS=["a fixed key for the test"])
    with app.app_context():
        assert verp.token_for_delivery(1) == "d1-w2no27z2fzmaezll"
        assert verp.read_token("d1-e6evfyy3vp632p3f") == verp.MessageRef("delivery", 1)
